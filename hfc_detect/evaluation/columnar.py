"""Columnar reading of COCO files with msgspec: JSON bytes straight into numpy columns.

The fast path of :mod:`hfc_detect.evaluation.loaders` for the big files (results with hundreds of
thousands of detections, instances files): msgspec decodes into typed, untracked structs that
hold only the fields the evaluation reads (others, such as segmentations, are skipped without
building Python objects), and the columns come out through ``np.fromiter``. Values are then
checked in bulk. Anything unexpected (a type msgspec rejects, a negative box side, NaN, a
missing field) returns None, and the caller reads the file the slow, general way, which names
the offending record; so the fast path accepts a subset of what the slow one accepts and never
changes a result.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np

try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency; degrade to the slow path
    msgspec = None


@dataclass(frozen=True)
class GtColumns:
    """A COCO ground-truth file's images, categories and annotations as columns (file order)."""

    image_ids: list[int]
    file_names: list[str]
    sizes: list[tuple[Any, Any]]  # (height, width) as in the file, (-1, -1) where absent
    category_ids: list[int]
    category_names: list[str]
    categories: list[dict[str, Any]]  # as in the file (keypoint sigmas live there)
    ann_ids: np.ndarray
    ann_image: np.ndarray  # image ids
    ann_category: np.ndarray  # category ids
    ann_boxes: np.ndarray  # (N, 4)
    ann_areas: np.ndarray
    ann_crowd: np.ndarray  # bool
    records: list[dict[str, Any]] | None  # the annotations as dicts (id, segmentation, ...)


if msgspec is not None:

    class _Det(msgspec.Struct, gc=False):
        image_id: int
        category_id: int
        bbox: tuple[float, float, float, float]
        score: float

    class _Image(msgspec.Struct, gc=False):
        id: int
        file_name: Any = ""
        height: Any = -1
        width: Any = -1

    class _Category(msgspec.Struct, gc=False):
        id: int
        name: Any = msgspec.UNSET

    class _Ann(msgspec.Struct, gc=False):
        id: int
        image_id: int
        category_id: int
        bbox: tuple[float, float, float, float]
        area: float = float("nan")  # JSON has no NaN: NaN means "absent"
        iscrowd: int = 0

    class _Gt(msgspec.Struct, gc=False):
        images: list[_Image]
        categories: list[_Category]
        annotations: list[_Ann]

    class _SegmDet(msgspec.Struct, gc=False):
        image_id: int
        category_id: int
        score: float
        segmentation: dict[str, Any]
        bbox: tuple[float, float, float, float] | None = None

    class _SegmAnn(_Ann, gc=False):
        segmentation: Any = None

    class _SegmGt(msgspec.Struct, gc=False):
        images: list[_Image]
        categories: list[_Category]
        annotations: list[_SegmAnn]

    _DET_DECODER = msgspec.json.Decoder(list[_Det])
    _GT_DECODER = msgspec.json.Decoder(_Gt)
    _SEGM_DET_DECODER = msgspec.json.Decoder(list[_SegmDet])
    _SEGM_GT_DECODER = msgspec.json.Decoder(_SegmGt)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: decoding a big file creates millions of objects,
    none in a cycle, and collecting meanwhile only costs time (a fifth of msgspec's decode of
    a bbox results file; minutes for the json module on big files)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _decode(decoder_name: str, data: bytes) -> Any:
    if msgspec is None:
        return None
    try:
        with paused_gc():
            return globals()[decoder_name].decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _column(items: list, field: str, dtype: type) -> np.ndarray:
    return np.fromiter(map(attrgetter(field), items), dtype, len(items))


def _boxes(items: list) -> np.ndarray:
    n = len(items)
    flat = np.fromiter(chain.from_iterable(map(attrgetter("bbox"), items)), np.float64, 4 * n)
    return flat.reshape(n, 4)


def _boxes_ok(boxes: np.ndarray) -> bool:
    return bool(np.isfinite(boxes).all() and (boxes[:, 2:] >= 0).all())


def detection_columns(data: bytes) -> tuple[np.ndarray, ...] | None:
    """(image ids, category ids, boxes, scores) of a COCO bbox results file, or None."""
    dets = _decode("_DET_DECODER", data)
    if not dets:
        return None
    boxes = _boxes(dets)
    scores = _column(dets, "score", np.float64)
    if not _boxes_ok(boxes) or not np.isfinite(scores).all():
        return None
    return _column(dets, "image_id", np.int64), _column(dets, "category_id", np.int64), boxes, \
        scores  # fmt: skip


def segm_detection_columns(data: bytes) -> tuple[Any, ...] | None:
    """(image ids, category ids, boxes or None, scores, segmentations) of a COCO segm results
    file, or None. Boxes are None unless every detection has one (see coco's area rule)."""
    dets = _decode("_SEGM_DET_DECODER", data)
    if not dets:
        return None
    scores = _column(dets, "score", np.float64)
    boxes = None
    if dets[0].bbox is not None:
        if any(d.bbox is None for d in dets):
            return None
        boxes = _boxes(dets)
        if not _boxes_ok(boxes):
            return None
    if not np.isfinite(scores).all():
        return None
    return (_column(dets, "image_id", np.int64), _column(dets, "category_id", np.int64), boxes,
            scores, list(map(attrgetter("segmentation"), dets)))  # fmt: skip


def gt_columns(data: bytes, segm: bool = False) -> GtColumns | None:
    """The columns of a COCO ground-truth file: boxes, and with ``segm`` the segmentations in
    ``records`` (no keypoints)."""
    gt = _decode("_SEGM_GT_DECODER" if segm else "_GT_DECODER", data)
    if gt is None:
        return None
    anns = gt.annotations
    boxes = _boxes(anns)
    areas = _column(anns, "area", np.float64)
    areas = np.where(np.isnan(areas), boxes[:, 2] * boxes[:, 3], areas)
    crowd = _column(anns, "iscrowd", np.int64)
    if not _boxes_ok(boxes) or not np.isfinite(areas).all() or not np.isin(crowd, (0, 1)).all():
        return None
    return GtColumns(
        image_ids=[img.id for img in gt.images],
        file_names=[str(img.file_name) for img in gt.images],
        sizes=[(img.height, img.width) for img in gt.images],
        category_ids=[c.id for c in gt.categories],
        category_names=[str(c.id if c.name is msgspec.UNSET else c.name) for c in gt.categories],
        categories=[{"id": c.id} for c in gt.categories],
        ann_ids=_column(anns, "id", np.int64),
        ann_image=_column(anns, "image_id", np.int64),
        ann_category=_column(anns, "category_id", np.int64),
        ann_boxes=boxes,
        ann_areas=areas,
        ann_crowd=crowd.astype(bool),
        records=[{"id": a.id, "segmentation": a.segmentation} for a in anns] if segm else None,
    )
