"""Instance masks as pycocotools holds them: polygons and uncompressed RLE converted to
compressed RLE as ``COCO.annToRLE`` does (with the image's height and width), their boxes and
areas."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hfc_detect.evaluation.json_io import is_int
from hfc_detect.utils.errors import InputError


def to_rles(
    segmentations: Sequence[Any], sizes: np.ndarray, where: Callable[[int], str]
) -> tuple[list[dict], np.ndarray]:
    """Compressed RLEs of COCO segmentations, as ``COCO.annToRLE`` makes them.

    Polygons (a list of [x1, y1, x2, y2, ...]) are rasterised at the image's (height, width)
    from ``sizes`` and their parts merged; uncompressed RLE (``counts`` a list, as crowd regions
    are stored) is compressed; compressed RLE is kept. Returns them with their boxes
    (``maskUtils.toBbox``). InputError naming ``where(i)`` for a malformed one.
    """
    from pycocotools import mask as mask_utils

    if all(type(s) is dict and type(s.get("counts")) is str for s in segmentations):
        try:  # compressed RLE throughout (results files): kept as they are
            return list(segmentations), mask_boxes(segmentations)
        except (TypeError, ValueError, KeyError, IndexError, OverflowError):
            pass  # name the bad one below
    out = []
    done = _single_polygons(segmentations, sizes)
    for i, (segm, (height, width)) in enumerate(zip(segmentations, sizes.tolist(), strict=True)):
        label = where(i)
        try:
            if i in done:
                rle = done[i]
            elif isinstance(segm, list):
                if height < 0 or width < 0:
                    raise InputError(f"{label}: polygons need the image's 'height' and 'width'")
                rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
            elif isinstance(segm, dict) and isinstance(segm.get("counts"), list):
                rle = mask_utils.frPyObjects(segm, *segm["size"])
            elif _is_compressed_rle(segm):
                rle = segm
            else:
                raise InputError(
                    f"{label}: 'segmentation' must be polygons or an RLE, got {str(segm)[:80]}"
                )
        except (TypeError, ValueError, KeyError, IndexError, AssertionError) as exc:
            raise InputError(f"{label}: malformed 'segmentation' ({exc})") from None
        out.append(rle)
    return out, mask_boxes(out)


def _single_polygons(segmentations: Sequence[Any], sizes: np.ndarray) -> dict[int, dict]:
    """RLEs of the one-part polygons, one ``frPyObjects`` call per image size (merging one
    part changes nothing); {} when any fails (the caller then names it)."""
    from pycocotools import mask as mask_utils

    single = [
        i for i, s in enumerate(segmentations)
        if type(s) is list and len(s) == 1 and type(s[0]) is list and len(s[0]) >= 6
    ]  # fmt: skip
    if not single:
        return {}
    index = np.array(single)
    done: dict[int, dict] = {}
    size_of = sizes[index]
    for height, width in np.unique(size_of, axis=0).tolist():
        if height < 0 or width < 0:
            continue
        rows = index[(size_of[:, 0] == height) & (size_of[:, 1] == width)].tolist()
        try:
            rles = mask_utils.frPyObjects([segmentations[i][0] for i in rows], height, width)
        except (TypeError, ValueError, IndexError, OverflowError):
            return {}
        done.update(zip(rows, rles, strict=True))
    return done


def _is_compressed_rle(segm: Any) -> bool:
    if not isinstance(segm, dict) or not isinstance(segm.get("counts"), (str, bytes)):
        return False
    size = segm.get("size")
    return type(size) is list and len(size) == 2 and all(is_int(v) and v >= 0 for v in size)


def mask_boxes(rles: Sequence[dict]) -> np.ndarray:
    """(N, 4) [x, y, w, h] boxes of compressed RLEs (``maskUtils.toBbox``)."""
    from pycocotools import mask as mask_utils

    if not rles:
        return np.zeros((0, 4))
    return np.asarray(mask_utils.toBbox(list(rles)), dtype=np.float64).reshape(-1, 4)


def mask_areas(rles: list[dict]) -> np.ndarray:
    """``maskUtils.area`` of each mask, in chunks of 255 (pycocotools' list form overflows a
    uint8 array from 256 masks on under numpy 2)."""
    from pycocotools import mask as mask_utils

    chunks = [mask_utils.area(rles[i : i + 255]) for i in range(0, len(rles), 255)]
    return np.concatenate([np.zeros(0), *chunks]).astype(np.float64)
