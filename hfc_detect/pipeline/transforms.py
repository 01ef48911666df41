"""Image transforms as variants: a user's function (``--transform``) or one of ImageNet-C's
corruptions (``--corruption``), applied to one image at its original resolution, before the
model's own resize, like the frequency split.

The contract of a transform: it takes one image as an ``(H, W, 3)`` float32 RGB array on the
0..255 scale (its own copy) and returns an array of the same shape, any real dtype, finite;
the detector sees it as returned (no clipping, no pixel mode). The pipeline's images are
``(C, H, W)`` float tensors in the model's channel order: :class:`ImageTransform` converts to
the contract and back.

Determinism: each call runs with numpy's global RNG seeded from the image id and the variant
name (:func:`image_seed`) and restored afterwards, and a corruption that takes its own
``seed`` (glass blur, impulse noise: fresh entropy otherwise) gets that seed too; so two runs
and any resume give the same images. A user's function that draws from another RNG is its
own business.

Corruptions come from ``imagecorruptions`` (the maintained fork ``imagecorruptions-imaug``,
imported lazily; the extra ``hfc-toolkit[corruptions]``); its ``corrupt`` takes uint8, so an
8-bit image (whole numbers on 0..255) passes exactly (a 16-bit one, rescaled to 0..255 when
decoded, is rounded first), and its uint8 result is what the detector sees. Where we differ:
ImageNet-C was released as JPEG files of images corrupted once, and MMDetection's robustness
benchmark (COCO-C) corrupts on the fly without a seed, so its numbers vary from run to run; here
the corrupted image goes to the detector unencoded and is made again, identically, on every run
from its seed. The same seed gives the same image with the same versions of the packages in
:data:`CORRUPTION_PACKAGES` (summary.json records them).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from hfc_detect.frequency.variant import CORRUPTION, Variant
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import load_object, require

CONTRACT = "an (H, W, 3) array of finite real numbers"
INSTALL = "pip install 'hfc-toolkit[corruptions]'"


#: What a corrupted image depends on besides numpy (recorded in summary.json's versions): the
#: same seed gives the same image with the same versions of these.
CORRUPTION_PACKAGES = ("imagecorruptions-imaug", "scikit-image", "scipy", "opencv-python",
                       "opencv-python-headless", "numba")  # fmt: skip


def image_seed(image_id: int, variant: str) -> int:
    """A 32-bit seed from an image id and a variant name (the same on every run and machine)."""
    digest = hashlib.sha256(f"{image_id}/{variant}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextlib.contextmanager
def numpy_seeded(seed: int) -> Iterator[None]:
    """numpy's global RNG seeded with ``seed`` inside, as it was outside."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass(frozen=True)
class ImageTransform:
    """One transform variant, ready to apply: ``function(image, seed)`` on the contract's
    arrays; ``label`` names it in errors."""

    variant: Variant
    function: Callable[[np.ndarray, int], np.ndarray]
    label: str

    def __call__(self, image: torch.Tensor, image_id: int, channel_order: str) -> torch.Tensor:
        """``image``: float (3, H, W) in ``channel_order`` on 0..255 -> the transformed image,
        float32 (3, H, W) in the same order, on the same device."""
        rgb = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
        if channel_order == "BGR":
            rgb = rgb[..., ::-1]
        rgb = np.array(rgb, dtype=np.float32, order="C")  # the function's own copy
        seed = image_seed(image_id, self.variant.name())
        try:
            with numpy_seeded(seed):
                out = self.function(rgb, seed)
        except InputError:
            raise
        except Exception as exc:
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise InputError(f"{self.label} failed on image {image_id}: {message}") from None
        out = self._checked(out, rgb.shape, image_id)
        if channel_order == "BGR":
            out = out[..., ::-1]
        chw = np.ascontiguousarray(out.transpose(2, 0, 1))
        return torch.from_numpy(chw).to(image.device)

    def _checked(self, out: object, shape: tuple[int, ...], image_id: int) -> np.ndarray:
        """``out`` as float32 when it keeps the contract, else InputError naming the transform."""
        if not isinstance(out, np.ndarray):
            got = type(out).__name__
        elif out.shape != shape:
            got = f"shape {out.shape}"
        elif out.dtype.kind not in "fiu":
            got = f"dtype {out.dtype}"
        else:
            with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
                out = out.astype(np.float32, copy=False)
            if np.isfinite(out).all():
                return out
            got = "non-finite values (as float32)"
        raise InputError(
            f"{self.label} returned {got} for image {image_id}; it must return {CONTRACT} of "
            f"the input's shape {shape}"
        )


def load_transform(variant: Variant) -> ImageTransform:
    """The :class:`ImageTransform` of a corruption or transform variant (imports its module
    now); InputError with a one-line reason when it cannot be loaded."""
    if variant.kind == CORRUPTION:
        label = f"--corruption {variant.label}:{variant.severity}"
        return ImageTransform(variant, _corruption(variant, label), label)
    label = f"--transform {variant.label}={variant.function}"
    function = load_object(str(variant.function), what=label)
    if not callable(function):
        raise InputError(f"{label}: {variant.function!r} is not a function")
    return ImageTransform(variant, lambda image, _seed: function(image), label)


def load_transforms(variants: Mapping[str, Variant]) -> dict[str, ImageTransform]:
    """:func:`load_transform` of every corruption and transform among ``variants`` (name ->
    spec), by name."""
    return {name: load_transform(v) for name, v in variants.items() if v.is_transform}


def _corruption(variant: Variant, label: str) -> Callable[[np.ndarray, int], np.ndarray]:
    corruptions = require("imagecorruptions", purpose=label, install=INSTALL)
    name, severity = variant.label, variant.severity
    takes_seed = "seed" in inspect.signature(corruptions.corruption_dict[name]).parameters

    def corrupt(image: np.ndarray, seed: int) -> np.ndarray:
        pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        extra = {"seed": seed} if takes_seed else {}
        return corruptions.corrupt(pixels, severity=severity, corruption_name=name, **extra)

    return corrupt
