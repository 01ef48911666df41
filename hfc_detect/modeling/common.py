"""Small facts and helpers shared by the bundled detector backends."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hfc_detect.utils.errors import InputError

#: The 80 COCO "thing" category ids in ascending order: contiguous class k of an 80-class COCO
#: detector (YOLOX, Detectron2's builtin COCO metadata) is category ``COCO_CATEGORY_IDS[k]``.
COCO_CATEGORY_IDS: tuple[int, ...] = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91),
)  # fmt: skip


_BLOCK_ELEMENTS = 1 << 20  # values compared at a time by as_exact_uint8


def as_exact_uint8(image: np.ndarray) -> np.ndarray | None:
    """``image`` as uint8 when that loses nothing (every value an integer in 0..255), else None.

    Original images reach the backends as float32 holding uint8 values; converting them back
    lets a backend take its reference implementation's uint8 path (e.g. PIL or OpenCV resizing
    with uint8 rounding) so that originals give exactly what the reference tools give. LFC/HFC
    images are not integral and take the float path.
    """
    if image.size == 0 or image.min() < 0 or image.max() > 255:
        return None
    as_uint8 = np.empty(image.shape, dtype=np.uint8)
    step = max(1, _BLOCK_ELEMENTS // max(1, image[0].size))  # no full-size float temporary
    for start in range(0, len(image), step):
        block = image[start : start + step]
        as_uint8[start : start + step] = block
        if not np.array_equal(as_uint8[start : start + step], block):
            return None
    return as_uint8


def parse_overrides(overrides: Sequence[str]) -> list[tuple[str, str]]:
    """Split ``KEY=VALUE`` strings (``--set``) into (key, value) pairs."""
    pairs = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    return pairs


def masks_to_rles(masks: np.ndarray) -> list[dict]:
    """(N, H, W) binary masks -> COCO compressed RLEs (``counts`` as text), as COCO results
    files hold them."""
    from pycocotools import mask as mask_utils

    binary = np.asarray(masks, dtype=np.uint8)
    if len(binary) == 0:
        return []
    encoded = mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
    return [{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in encoded]
