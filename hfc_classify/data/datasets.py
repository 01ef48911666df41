"""Labelled image sets: CIFAR-10 batch folders, MNIST/Fashion-MNIST via torchvision, ``.npz``.

Every loader returns an :class:`ImageSet` (uint8 images, channels last, and int64 labels), the
one form the rest of the package works with. A data *spec* names a set:

- a ``.npz`` file with ``images`` (N, H, W, C) uint8 and ``labels`` (N,) integers (its split is
  the file itself);
- a CIFAR-10 folder: ``cifar-10-batches-py`` itself or the folder holding it
  (``cifar10:ROOT`` works too);
- ``mnist:ROOT`` or ``fashion-mnist:ROOT``: torchvision's folders under ``ROOT``.

With ``download=True`` torchvision fetches CIFAR-10/MNIST/Fashion-MNIST into ``ROOT`` first.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hfc_detect.utils.errors import InputError

SPLITS = ("train", "test")
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_TORCHVISION_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


@dataclass(frozen=True)
class ImageSet:
    """Images (N, H, W, C) uint8 with their labels (N,) int64; ``source`` says where from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return self.images.shape[-1]

    def subset(self, indices: np.ndarray) -> ImageSet:
        """The images at ``indices``, in that order."""
        return ImageSet(self.images[indices], self.labels[indices], self.source)

    def with_labels(self, labels: np.ndarray) -> ImageSet:
        """The same images with other labels (label shuffling)."""
        return ImageSet(self.images, np.asarray(labels, dtype=np.int64), self.source)

    def tensor(self) -> torch.Tensor:
        """The images as float32 (N, C, H, W) in [0, 1]."""
        return pixels_to_tensor(self.images)


def pixels_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)


def images_fingerprint(images: np.ndarray) -> str:
    """A short content hash of ``images``, naming cached LFC/HFC versions of exactly them."""
    digest = hashlib.sha1(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()[:16]


def check_images(images: np.ndarray, labels: np.ndarray, where: str) -> ImageSet:
    """Validate arrays and wrap them; wrong shapes or dtypes raise :class:`InputError`."""
    if images.dtype != np.uint8:
        raise InputError(f"{where}: images must be uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InputError(
            f"{where}: images must have shape (N, H, W, C) with C 1 or 3, got {images.shape}"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(
            f"{where}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if len(labels) != len(images):
        raise InputError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise InputError(f"{where}: no images")
    if labels.min() < 0:
        raise InputError(f"{where}: labels must be >= 0, got {labels.min()}")
    return ImageSet(images, labels.astype(np.int64), where)


def load_npz(path: str | Path) -> ImageSet:
    """An ``.npz`` file with ``images`` (N, H, W, C) uint8 and ``labels`` (N,)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("images", "labels") if k not in npz.files]
            if missing:
                raise InputError(
                    f"{path}: missing array(s) {', '.join(missing)} (has: "
                    f"{', '.join(npz.files) or 'none'})"
                )
            images, labels = npz["images"], npz["labels"]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from None
    return check_images(images, labels, str(path))


def _cifar_folder(root: Path) -> Path | None:
    for folder in (root, root / _CIFAR_FOLDER):
        if all((folder / name).is_file() for names in _CIFAR_FILES.values() for name in names):
            return folder
    return None


def load_cifar10(root: str | Path, split: str, *, download: bool = False) -> ImageSet:
    """CIFAR-10's ``split`` from the standard python batches under ``root``."""
    root = Path(root)
    if download and _cifar_folder(root) is None:
        from torchvision.datasets import CIFAR10

        CIFAR10(str(root), train=split == "train", download=True)
    folder = _cifar_folder(root)
    if folder is None:
        raise InputError(
            f"{root}: no CIFAR-10 batches (data_batch_1..5, test_batch) here or in "
            f"{_CIFAR_FOLDER}/; pass --download to fetch them"
        )
    images, labels = [], []
    for name in _CIFAR_FILES[split]:
        try:
            with open(folder / name, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            labels.append(np.asarray(batch[b"labels"]))
        except Exception as exc:
            raise InputError(
                f"{folder / name}: not a CIFAR-10 batch ({exc.__class__.__name__})"
            ) from None
        images.append(data.transpose(0, 2, 3, 1))
    return check_images(np.concatenate(images), np.concatenate(labels), f"{folder}:{split}")


def load_torchvision(
    name: str, root: str | Path, split: str, *, download: bool = False
) -> ImageSet:
    """MNIST or Fashion-MNIST through torchvision (28x28 gray, one channel)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TORCHVISION_SETS[name])
    try:
        ds = cls(str(root), train=split == "train", download=download)
    except RuntimeError:
        raise InputError(
            f"{root}: no {cls.__name__} data found (torchvision layout); "
            "pass --download to fetch it"
        ) from None
    images = ds.data.numpy()[..., None]
    return check_images(images, ds.targets.numpy(), f"{name}:{root}:{split}")


def load_split(
    spec: str | Path, split: str = "test", *, download: bool = False, option: str = ""
) -> ImageSet:
    """The ``split`` ('train' or 'test') of the data set named by ``spec`` (see module doc);
    ``option`` (e.g. ``--data``) names where ``spec`` came from in the error when it names no
    data set."""
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    spec = str(spec)
    kind, sep, rest = spec.partition(":")
    if sep and kind in _TORCHVISION_SETS:
        return load_torchvision(kind, rest, split, download=download)
    if sep and kind == "cifar10":
        return load_cifar10(rest, split, download=download)
    path = Path(spec)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.is_dir() or download:
        return load_cifar10(path, split, download=download)
    given = f"{option} {spec}" if option else spec
    what = "is a file but not a data set" if path.is_file() else "not found"
    raise InputError(
        f"{given}: {what}; expected an .npz file, a CIFAR-10 folder, mnist:ROOT or "
        "fashion-mnist:ROOT"
    )
