"""What to evaluate on: a COCO annotations file plus its image folder, and a loader that decodes
each image once (in DataLoader workers) into a uint8 (C, H, W) tensor in the model's channel order.

Builtin names follow Detectron2: ``coco_2017_val`` is
``$DETECTRON2_DATASETS/coco/annotations/instances_val2017.json`` with images in
``$DETECTRON2_DATASETS/coco/val2017`` (``DETECTRON2_DATASETS`` defaults to ``datasets``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.evaluation.json_io import read_json
from hfc_detect.evaluation.loaders import GroundTruth, load_annotations
from hfc_detect.utils.errors import InputError

# name -> (annotations, images dir), relative to $DETECTRON2_DATASETS, as Detectron2 registers them
BUILTIN_DATASETS = {
    "coco_2017_val": ("coco/annotations/instances_val2017.json", "coco/val2017"),
    "coco_2017_val_100": ("coco/annotations/instances_val2017_100.json", "coco/val2017"),
    "coco_2014_minival": ("coco/annotations/instances_minival2014.json", "coco/val2014"),
}


@dataclass(frozen=True)
class ImageRecord:
    """One image of the annotations file."""

    image_id: int
    file_name: str
    path: Path
    size: tuple[int, int] | None = None  # (width, height) the annotations give, if they do


@dataclass(frozen=True)
class EvalDataset:
    """An annotations file (parsed once: ``data`` as read, ``gt`` as scored), its image folder
    and its images sorted by id."""

    annotations: Path
    images_dir: Path
    images: list[ImageRecord]
    gt: GroundTruth
    data: dict[str, Any]
    name: str | None = None  # the builtin/demo name it came from, if any


def detectron2_datasets_root() -> Path:
    """Where Detectron2 looks for builtin datasets: ``$DETECTRON2_DATASETS`` or ``datasets``."""
    return Path(os.environ.get("DETECTRON2_DATASETS", "datasets")).expanduser()


def builtin_paths(name: str) -> tuple[Path, Path]:
    """(annotations, images dir) of a builtin dataset name; InputError on unknown names."""
    if name not in BUILTIN_DATASETS:
        raise InputError(
            f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)}, 'demo', "
            "or give --annotations GT.json --images DIR"
        )
    root = detectron2_datasets_root()
    ann, img = BUILTIN_DATASETS[name]
    return root / ann, root / img


def coco_val2017_available() -> bool:
    """Whether COCO val2017 is where Detectron2 looks for it."""
    ann, img = builtin_paths("coco_2017_val")
    return ann.is_file() and img.is_dir()


def load_coco(
    annotations: str | os.PathLike, images_dir: str | os.PathLike, iou_type: str = "bbox"
) -> EvalDataset:
    """Read and check a COCO annotations file, once, as scoring will read it
    (:func:`~hfc_detect.evaluation.load_annotations` for ``iou_type``), so a malformed file
    fails before any image is run; InputError naming the file on any problem."""
    annotations, images_dir = Path(annotations), Path(images_dir)
    if not annotations.is_file():
        raise InputError(f"annotations file not found: {annotations}")
    if not images_dir.is_dir():
        raise InputError(f"images folder not found: {images_dir}")
    data = read_json(annotations, "annotations")
    gt = load_annotations(annotations, iou_type, data=data)
    sizes = {int(im["id"]): _size(im) for im in data["images"]}
    records = []
    for image_id, file_name in zip(gt.image_ids.tolist(), gt.file_names, strict=True):
        if not file_name:
            raise InputError(f"{annotations}: image {image_id} has no file_name")
        records.append(ImageRecord(image_id, file_name, images_dir / file_name, sizes[image_id]))
    return EvalDataset(annotations.resolve(), images_dir.resolve(), records, gt, data)


def _size(image: dict[str, Any]) -> tuple[int, int] | None:
    width, height = image.get("width"), image.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    return None


def resolve_dataset(
    dataset: str | None,
    annotations: str | os.PathLike | None,
    images: str | os.PathLike | None,
    iou_type: str = "bbox",
) -> tuple[EvalDataset, bool]:
    """The dataset to evaluate on, its ground truth loaded for ``iou_type``, and whether it is
    the demo fallback (COCO not found)."""
    if annotations is not None or images is not None:
        if dataset is not None:
            raise InputError("give either --dataset or --annotations/--images, not both")
        if annotations is None or images is None:
            raise InputError("--annotations and --images go together: give both")
        return load_coco(annotations, images, iou_type), False
    fallback = dataset is None and not coco_val2017_available()
    if dataset == "demo" or fallback:
        from hfc_detect.data.demo import ensure_demo_dataset

        return replace(load_coco(*ensure_demo_dataset(), iou_type), name="demo"), fallback
    name = dataset or "coco_2017_val"
    ann, img = builtin_paths(name)
    if not ann.is_file() or not img.is_dir():
        raise InputError(
            f"dataset {name} not found: expected {ann} and {img} "
            "(set DETECTRON2_DATASETS to the folder holding coco/)"
        )
    return replace(load_coco(ann, img, iou_type), name=name), False


def write_subset_annotations(data: dict[str, Any], image_ids: Sequence[int], path: Path) -> Path:
    """Write the annotations ``data`` restricted to ``image_ids`` (same categories and info)
    atomically."""
    from hfc_detect.utils.files import write_json_atomic

    keep = set(image_ids)
    subset = dict(data)
    subset["images"] = [im for im in data["images"] if int(im["id"]) in keep]
    subset["annotations"] = [a for a in data.get("annotations", []) if int(a["image_id"]) in keep]
    return write_json_atomic(path, subset, indent=None)


@dataclass
class DecodedImage:
    """A loader item: the image as uint8/float (C, H, W), or the reason it could not be read."""

    index: int
    pixels: torch.Tensor | None
    error: str | None
    seconds: float


class DecodedImages:
    """Map-style dataset: item ``i`` decodes ``records[i]`` once, in ``channel_order``."""

    def __init__(self, records: Sequence[ImageRecord], channel_order: str = "RGB"):
        if channel_order not in ("RGB", "BGR"):
            raise InputError(f"detector channel_order must be RGB or BGR, got {channel_order!r}")
        self.records = list(records)
        self.channel_order = channel_order

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> DecodedImage:
        from hfc_detect.data.images import read_image, to_0_255

        start = time.perf_counter()
        record = self.records[index]
        try:
            rgb = read_image(record.path)
            _check_size(rgb, record)
        except (InputError, OSError) as exc:
            return DecodedImage(index, None, str(exc), time.perf_counter() - start)
        hwc = rgb[:, :, ::-1] if self.channel_order == "BGR" else rgb
        chw = torch.from_numpy(np.ascontiguousarray(to_0_255(hwc).transpose(2, 0, 1)))
        return DecodedImage(index, chw, None, time.perf_counter() - start)


def _check_size(image: np.ndarray, record: ImageRecord) -> None:
    """InputError when the decoded image (EXIF orientation applied) does not have the size its
    annotations give: its boxes would be scored against other pixels (Detectron2's
    ``check_image_size`` raises for the same case)."""
    height, width = image.shape[:2]
    if record.size is not None and record.size != (width, height):
        raise InputError(
            f"{record.path}: decoded {width}x{height}, annotations say "
            f"{record.size[0]}x{record.size[1]}"
        )


def _as_list(items: list[Any]) -> list[Any]:
    return items


def make_loader(
    images: DecodedImages, indices: Sequence[int], batch_size: int, num_workers: int
) -> torch.utils.data.DataLoader:
    """Batches (lists) of :class:`DecodedImage` for ``indices``, in order, decoded by workers."""
    subset = torch.utils.data.Subset(images, list(indices))
    return torch.utils.data.DataLoader(
        subset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_as_list,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
