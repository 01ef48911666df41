"""Load and validate COCO ground truth and COCO results (detections) into flat numpy arrays.

Every problem in a file becomes one :class:`InputError` naming the file and what is wrong, so a
run fails before anything is written. The arrays follow pycocotools' ``COCO`` / ``loadRes``
semantics: detections keep file order (their ids are 1, 2, ... in that order), ground truth
keeps its own ``area`` field and ``iscrowd`` flag. A detection's area (for the area ranges) is
``loadRes``'s: ``w * h`` of its box when the *first* detection of the file has a non-empty
``bbox`` (Detectron2's segm and keypoint results do), else the mask's area (segm) or the area
of the keypoints' bounding box (keypoints).

Loaded for ``iou_type="segm"``, ground truth and predictions also hold compressed RLEs
(polygons and uncompressed RLE converted as ``COCO.annToRLE`` does, with the image's height
and width); for ``"keypoints"``, (N, K, 3) keypoints, the ground truth's ``num_keypoints``
(counted from the visibility flags where the field is missing) and the OKS sigmas of each
category (see :func:`load_annotations`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from hfc_detect.evaluation import columnar
from hfc_detect.evaluation.json_io import (
    check_box,
    is_int,
    is_number,
    json_records,
    json_type_name,
    parse_json,
    read_bytes,
    reject_duplicates,
)
from hfc_detect.evaluation.keypoints import keypoint_array, keypoint_columns
from hfc_detect.evaluation.masks import mask_areas, to_rles
from hfc_detect.evaluation.params import params_for
from hfc_detect.utils.errors import InputError

_DETECTION_KEYS = ("image_id", "category_id", "bbox", "score")


@dataclass(frozen=True)
class GroundTruth:
    """COCO ground truth as arrays.

    Images and categories are sorted by id (as COCOeval sorts them). Annotations keep file order
    and only those naming a listed image and a listed category (COCOeval ignores the rest).
    """

    source: str
    path: Path | None
    image_ids: np.ndarray  # (I,) int64, sorted
    file_names: list[str]  # (I,) in image_ids order
    category_ids: np.ndarray  # (K,) int64, sorted
    category_names: list[str]  # (K,) in category_ids order
    ann_ids: np.ndarray  # (N,) int64
    ann_image: np.ndarray  # (N,) index into image_ids
    ann_category: np.ndarray  # (N,) index into category_ids
    ann_boxes: np.ndarray  # (N, 4) float64 [x, y, w, h]
    ann_areas: np.ndarray  # (N,) float64, the annotation's "area" field
    ann_crowd: np.ndarray  # (N,) bool
    image_sizes: np.ndarray | None = None  # (I, 2) int64 height, width (-1 where not given)
    iou_type: str = "bbox"  # what the optional columns below were loaded for
    ann_masks: list[dict] | None = None  # (N,) compressed RLE (segm)
    ann_mask_boxes: np.ndarray | None = None  # (N, 4) boxes of the masks (segm)
    ann_keypoints: np.ndarray | None = None  # (N, K, 3) float64 (keypoints)
    ann_num_keypoints: np.ndarray | None = None  # (N,) int64 (keypoints)
    category_sigmas: np.ndarray | None = None  # (K_cat, K) OKS sigmas per category (keypoints)

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    def category_names_by_id(self) -> dict[int, str]:
        """Category id -> name (what backends that name their classes map by)."""
        return dict(zip(self.category_ids.tolist(), self.category_names, strict=True))

    def num_gt_per_image(self) -> np.ndarray:
        """Non-crowd ground-truth objects per image, in ``image_ids`` order."""
        return np.bincount(self.ann_image[~self.ann_crowd], minlength=self.num_images)

    def subset(self, image_ids: Sequence[int]) -> GroundTruth:
        """The ground truth of the listed images only (in memory, same categories): what
        :func:`load_annotations` gives for the file restricted to those images."""
        keep_image = np.isin(self.image_ids, np.asarray(list(image_ids), dtype=np.int64))
        new_index = np.cumsum(keep_image) - 1
        keep_ann = keep_image[self.ann_image]
        per_ann = {
            f.name: _take(getattr(self, f.name), keep_ann)
            for f in fields(self)
            if f.name.startswith("ann_")
        }
        per_ann["ann_image"] = new_index[self.ann_image[keep_ann]]
        return replace(
            self,
            image_ids=self.image_ids[keep_image],
            file_names=_take(self.file_names, keep_image),
            image_sizes=_take(self.image_sizes, keep_image),
            **per_ann,
        )


def _take(values: np.ndarray | list | None, keep: np.ndarray) -> np.ndarray | list | None:
    """The entries of a per-image or per-annotation column where ``keep`` is true (a list stays
    a list, an absent column stays None)."""
    if values is None:
        return None
    if isinstance(values, list):
        return [v for v, k in zip(values, keep, strict=True) if k]
    return values[keep]


@dataclass(frozen=True)
class Predictions:
    """Detections in COCO results format as arrays, in file order (detection id = index + 1)."""

    source: str
    path: Path | None
    image: np.ndarray  # (D,) index into GroundTruth.image_ids
    category: np.ndarray  # (D,) index into GroundTruth.category_ids
    boxes: np.ndarray  # (D, 4) float64 [x, y, w, h]
    scores: np.ndarray  # (D,) float64
    areas: np.ndarray | None = None  # (D,) loadRes's area; None: w * h of the boxes
    masks: list[dict] | None = None  # (D,) compressed RLE (segm)
    mask_boxes: np.ndarray | None = None  # (D, 4) boxes of the masks (segm)
    keypoints: np.ndarray | None = None  # (D, K, 3) float64 (keypoints)

    def __len__(self) -> int:
        return len(self.scores)

    def detection_areas(self) -> np.ndarray:
        """Each detection's area for COCOeval's area ranges (``COCO.loadRes``'s ``area``)."""
        return self.areas if self.areas is not None else self.boxes[:, 2] * self.boxes[:, 3]


def _read_gt_columns(path: Path, iou_type: str) -> columnar.GtColumns:
    """The ground-truth columns of the file ``path``: msgspec's columnar reader where it can,
    else the record-by-record one (which also names the first bad record)."""
    raw_bytes = read_bytes(path, "annotations")
    cols = columnar.gt_columns(raw_bytes, iou_type == "segm") if iou_type != "keypoints" else None
    if cols is None:  # keypoints wanted, no msgspec, or a fault to name
        cols = _gt_columns(parse_json(raw_bytes, path, "annotations"), str(path))
    return cols


def load_annotations(
    path: str | Path,
    iou_type: str = "bbox",
    *,
    kpt_oks_sigmas: Sequence[float] | Mapping[int, Sequence[float]] | None = None,
    data: Any = None,
) -> GroundTruth:
    """Read and validate a COCO ground-truth JSON file for ``iou_type`` (bbox, segm, keypoints);
    ``data``: the file's content when already parsed (so a caller that needs the raw JSON too
    parses the file once).

    Keypoints: a category's OKS sigmas are ``kpt_oks_sigmas`` (one list for every category, or
    a mapping category id -> list), else the category's own ``"kpt_oks_sigmas"`` field, else
    COCO's 17 person sigmas (pycocotools' default) when it has 17 keypoints.
    """
    params_for(iou_type)
    path = Path(path)
    source = str(path)
    cols = _gt_columns(data, source) if data is not None else _read_gt_columns(path, iou_type)
    image_ids, cat_ids = cols.image_ids, cols.category_ids
    if not image_ids:
        raise InputError(f"{source}: the 'images' list is empty")
    if not cat_ids:
        raise InputError(f"{source}: the 'categories' list is empty")
    reject_duplicates(image_ids, f"{source}: image id")
    reject_duplicates(cat_ids, f"{source}: category id")
    reject_duplicates(cols.ann_ids, f"{source}: annotation id")
    sizes = [s if all(is_int(v) for v in s) else (-1, -1) for s in cols.sizes]

    img_sorted = np.array(sorted(image_ids), dtype=np.int64)
    order = np.argsort(np.array(image_ids, dtype=np.int64), kind="stable")
    names_sorted = [cols.file_names[i] for i in order]
    cat_sorted = np.array(sorted(cat_ids), dtype=np.int64)
    corder = np.argsort(np.array(cat_ids, dtype=np.int64), kind="stable")
    cat_names_sorted = [cols.category_names[i] for i in corder]

    img_index, img_known = _index_of(cols.ann_image, img_sorted)
    cat_index, cat_known = _index_of(cols.ann_category, cat_sorted)
    keep = img_known & cat_known
    image_sizes = np.array(sizes, dtype=np.int64).reshape(-1, 2)[order]
    extra: dict[str, Any] = {}
    if iou_type != "bbox":
        kept = [cols.records[i] for i in np.flatnonzero(keep).tolist()]
    if iou_type == "segm":
        extra["ann_masks"], extra["ann_mask_boxes"] = to_rles(
            [a.get("segmentation") for a in kept], image_sizes[img_index[keep]],
            lambda i: f"{source}: annotation id {kept[i]['id']}",
        )  # fmt: skip
    elif iou_type == "keypoints":
        cats_sorted = [cols.categories[i] for i in corder]
        extra.update(keypoint_columns(kept, cats_sorted, cat_index[keep], kpt_oks_sigmas, source))
    return GroundTruth(
        source=source,
        path=path.resolve(),
        image_ids=img_sorted,
        file_names=names_sorted,
        category_ids=cat_sorted,
        category_names=cat_names_sorted,
        ann_ids=cols.ann_ids[keep],
        ann_image=img_index[keep],
        ann_category=cat_index[keep],
        ann_boxes=cols.ann_boxes[keep],
        ann_areas=cols.ann_areas[keep],
        ann_crowd=cols.ann_crowd[keep],
        image_sizes=image_sizes,
        iou_type=iou_type,
        **extra,
    )


def _gt_columns(data: Any, source: str) -> columnar.GtColumns:
    """The columns of a parsed COCO ground-truth file, checked record by record."""
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: expected a COCO annotation object, got a JSON {json_type_name(data)}"
        )
    images = json_records(data, "images", source)
    categories = json_records(data, "categories", source)
    annotations = json_records(data, "annotations", source)
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not is_int(img.get("id")):
            raise InputError(f"{source}: images[{i}] needs an integer 'id'")
    for i, cat in enumerate(categories):
        if not isinstance(cat, dict) or not is_int(cat.get("id")):
            raise InputError(f"{source}: categories[{i}] needs an integer 'id'")
    for i, ann in enumerate(annotations):
        where = f"{source}: annotations[{i}]"
        if not isinstance(ann, dict):
            raise InputError(f"{where} is not an object")
        for key in ("id", "image_id", "category_id"):
            if not is_int(ann.get(key)):
                raise InputError(f"{where} needs an integer '{key}'")
        check_box(ann.get("bbox"), where)
        box = ann["bbox"]
        area = ann.setdefault("area", box[2] * box[3])
        if not is_number(area) or not math.isfinite(area):
            raise InputError(f"{where}: 'area' must be a finite number, got {area!r}")
        if ann.get("iscrowd", 0) not in (0, 1):
            raise InputError(f"{where}: 'iscrowd' must be 0 or 1, got {ann['iscrowd']!r}")
    return columnar.GtColumns(
        image_ids=[int(img["id"]) for img in images],
        file_names=[str(img.get("file_name", "")) for img in images],
        sizes=[(img.get("height", -1), img.get("width", -1)) for img in images],
        category_ids=[int(cat["id"]) for cat in categories],
        category_names=[str(cat.get("name", cat["id"])) for cat in categories],
        categories=categories,
        ann_ids=np.array([a["id"] for a in annotations], dtype=np.int64),
        ann_image=np.array([a["image_id"] for a in annotations], dtype=np.int64),
        ann_category=np.array([a["category_id"] for a in annotations], dtype=np.int64),
        ann_boxes=np.array([a["bbox"] for a in annotations], dtype=np.float64).reshape(-1, 4),
        ann_areas=np.array([a["area"] for a in annotations], dtype=np.float64),
        ann_crowd=np.array([bool(a.get("iscrowd", 0)) for a in annotations], dtype=bool),
        records=annotations,
    )


def load_predictions(
    source: str | Path | Sequence[dict],
    gt: GroundTruth,
    *,
    name: str | None = None,
    iou_type: str | None = None,
) -> Predictions:
    """Read and validate detections in COCO results format against ``gt``.

    ``source`` is a JSON file path or an in-memory list of dicts with ``image_id``,
    ``category_id``, ``score`` and, by ``iou_type`` (default: the one ``gt`` was loaded for),
    ``bbox`` ([x, y, w, h]), ``segmentation`` (an RLE; ``bbox`` optional) or ``keypoints``
    ([x1, y1, v1, ...]; ``bbox`` optional). Either may be empty: a detector that found nothing
    scores AP 0 on every image with ground truth (pycocotools' ``loadRes`` refuses an empty
    list; we do not). Every image and category id must exist in ``gt``.
    """
    iou_type = iou_type or gt.iou_type
    params_for(iou_type)
    if iou_type != "bbox" and gt.iou_type != iou_type:
        raise InputError(f"{gt.source}: ground truth was loaded for {gt.iou_type}, not {iou_type}")
    columns = None
    if isinstance(source, (str, Path)):
        path: Path | None = Path(source)
        label = str(path)
        raw_bytes = read_bytes(path, "predictions")
        columns = _fast_columns(raw_bytes, iou_type)
        dets = [] if columns else parse_json(raw_bytes, path, "predictions")
        del raw_bytes
        if not isinstance(dets, list):
            raise InputError(
                f"{label}: expected a JSON list of detections (COCO results format), "
                f"got a JSON {json_type_name(dets)}"
            )
    else:
        path = None
        label = f"in-memory predictions {name!r}" if name else "in-memory predictions"
        dets = source
        if not isinstance(dets, (list, tuple)):
            raise InputError(
                f"{label}: expected a list of detection dicts, got {json_type_name(dets)}"
            )

    if columns:
        image_ids, category_ids, boxes, scores = columns[:4]
        box_areas = boxes is not None
    else:
        box_areas = iou_type == "bbox" or _has_box(dets[0] if len(dets) else None)
        image_ids, category_ids, boxes, scores = _detection_arrays(dets, label, box_areas)
    img_index = _known_index(image_ids, gt.image_ids, "image_id", label, gt.source)
    cat_index = _known_index(category_ids, gt.category_ids, "category_id", label, gt.source)
    extra: dict[str, Any] = {}
    if iou_type == "segm":
        segms = columns[4] if columns else [d.get("segmentation") for d in dets]
        sizes = gt.image_sizes[img_index] if gt.image_sizes is not None else None
        masks, boxes_of_masks = to_rles(segms, sizes, lambda i: f"{label}: detection {i}")
        extra = {"masks": masks, "mask_boxes": boxes_of_masks}
        if not box_areas:
            boxes = extra["mask_boxes"]
            extra["areas"] = mask_areas(masks)
    elif iou_type == "keypoints":
        k = gt.ann_keypoints.shape[1]
        points = np.stack(
            [keypoint_array(d.get("keypoints"), k, f"{label}: detection {i}")
             for i, d in enumerate(dets)]
        ) if len(dets) else np.zeros((0, k, 3))  # fmt: skip
        extra = {"keypoints": points}
        if not box_areas:
            lo, hi = points[:, :, :2].min(axis=1), points[:, :, :2].max(axis=1)
            boxes = np.concatenate([lo, hi - lo], axis=1).reshape(-1, 4)
            extra["areas"] = (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])
    return Predictions(
        source=label,
        path=path.resolve() if path is not None else None,
        image=img_index,
        category=cat_index,
        boxes=boxes,
        scores=scores,
        **extra,
    )


def _fast_columns(data: bytes, iou_type: str) -> tuple[Any, ...] | None:
    """Columns of a results file by :mod:`columnar` (bbox, segm), or None: read it slowly."""
    if iou_type == "bbox":
        return columnar.detection_columns(data)
    return columnar.segm_detection_columns(data) if iou_type == "segm" else None


def _has_box(det: Any) -> bool:
    """loadRes's test on the first detection: a non-empty 'bbox' makes every area w * h."""
    return isinstance(det, dict) and "bbox" in det and det["bbox"] != []


def _detection_arrays(
    dets: Sequence[Any], label: str, with_box: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Columns of the detections (boxes None without ``with_box``); on any malformed entry,
    name the first one and its fault."""
    n = len(dets)
    if n == 0:
        boxes0 = np.zeros((0, 4), np.float64) if with_box else None
        return np.zeros(0, np.int64), np.zeros(0, np.int64), boxes0, np.zeros(0, np.float64)
    try:
        image_ids = np.array([d["image_id"] for d in dets])
        category_ids = np.array([d["category_id"] for d in dets])
        boxes = np.array([d["bbox"] for d in dets]) if with_box else np.zeros((n, 4))
        scores = np.array([d["score"] for d in dets])
    except (KeyError, TypeError, ValueError, IndexError):
        _explain_bad_detection(dets, label, with_box)
    ok = (
        image_ids.dtype.kind in "iu"
        and category_ids.dtype.kind in "iu"
        and boxes.dtype.kind in "iuf"
        and boxes.shape == (n, 4)
        and scores.dtype.kind in "iuf"
        and scores.shape == (n,)
    )
    if ok:
        boxes = boxes.astype(np.float64)
        scores = scores.astype(np.float64)
        ok = bool(np.isfinite(boxes).all() and np.isfinite(scores).all())
        ok = ok and bool((boxes[:, 2:] >= 0).all())
    if not ok:
        _explain_bad_detection(dets, label, with_box)
    return image_ids.astype(np.int64), category_ids.astype(np.int64), \
        boxes if with_box else None, scores  # fmt: skip


def _explain_bad_detection(dets: Sequence[Any], label: str, with_box: bool = True) -> NoReturn:
    """Raise an InputError about the first malformed detection."""
    keys = _DETECTION_KEYS if with_box else tuple(k for k in _DETECTION_KEYS if k != "bbox")
    for i, det in enumerate(dets):
        where = f"{label}: detection {i}"
        if not isinstance(det, dict):
            raise InputError(f"{where} is not an object: {det!r}"[:300])
        missing = [k for k in keys if k not in det]
        if missing:
            raise InputError(f"{where} lacks {', '.join(repr(k) for k in missing)}")
        for key in ("image_id", "category_id"):
            if not is_int(det[key]):
                raise InputError(f"{where}: '{key}' must be an integer, got {det[key]!r}")
        if with_box:
            check_box(det["bbox"], where)
        score = det["score"]
        if not is_number(score) or not math.isfinite(score):
            raise InputError(f"{where}: 'score' must be a finite number, got {score!r}")
    raise InputError(f"{label}: detections have inconsistent types")


def _known_index(
    ids: np.ndarray, known: np.ndarray, key: str, label: str, source: str
) -> np.ndarray:
    """Positions of ``ids`` in ``known``; InputError naming the first id that is not there."""
    index, found = _index_of(ids, known)
    if not found.all():
        bad = int(np.flatnonzero(~found)[0])
        raise InputError(
            f"{label}: detection {bad} names {key} {ids[bad]} that is not in "
            f"{source} ({int((~found).sum())} such detections)"
        )
    return index


def _index_of(values: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each value in ``sorted_ids`` and whether it is there at all."""
    pos = np.searchsorted(sorted_ids, values)
    pos_clipped = np.minimum(pos, len(sorted_ids) - 1)
    known = sorted_ids[pos_clipped] == values
    return pos_clipped.astype(np.int64), known
