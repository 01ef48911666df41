"""Object-level differences between two detection results on one image (paper Fig. 8 and 9).

A ground-truth object counts as *found* by a result when the AP engine's own greedy COCOeval
matching (:func:`hfc_detect.evaluation.cocoeval.found_ground_truth`: the same matcher and the
same IoU as the AP, at IoU threshold 0.5 and area ``all``, among each category's 100
highest-scoring detections) pairs it with a detection of score >= the threshold. Crowd regions
are never objects. Objects found by the variant and not by the baseline are *gained*; the
reverse are *lost*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfc_detect.evaluation.cocoeval import found_ground_truth
from hfc_detect.evaluation.loaders import GroundTruth, Predictions
from hfc_detect.reports.defaults import DEFAULT_SCORE_THRESHOLD

DEFAULT_IOU_THRESHOLD = 0.5


def found_mask(
    gt_boxes: np.ndarray,
    gt_categories: np.ndarray,
    gt_crowd: np.ndarray,
    det_boxes: np.ndarray,
    det_categories: np.ndarray,
    det_scores: np.ndarray,
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> np.ndarray:
    """Boolean mask over one image's ground truth (arrays: (G, 4) ``[x, y, w, h]`` boxes,
    category ids, crowd flags): which objects the detections ((D, 4) boxes, category ids,
    scores) find (box IoU). Crowd regions are always False."""
    gt_categories = np.asarray(gt_categories, dtype=np.int64).ravel()
    det_categories = np.asarray(det_categories, dtype=np.int64).ravel()
    cats, index = np.unique(np.r_[gt_categories, det_categories], return_inverse=True)
    n_gt, n_det = len(gt_categories), len(det_categories)
    gt = GroundTruth(
        source="one image", path=None, image_ids=np.zeros(1, np.int64), file_names=[""],
        category_ids=cats, category_names=[str(c) for c in cats.tolist()],
        ann_ids=np.arange(1, n_gt + 1), ann_image=np.zeros(n_gt, np.int64),
        ann_category=index[:n_gt], ann_boxes=np.asarray(gt_boxes, np.float64).reshape(-1, 4),
        ann_areas=np.zeros(n_gt), ann_crowd=np.asarray(gt_crowd, dtype=bool).ravel(),
    )  # fmt: skip
    preds = Predictions(
        source="one image", path=None, image=np.zeros(n_det, np.int64), category=index[n_gt:],
        boxes=np.asarray(det_boxes, np.float64).reshape(-1, 4),
        scores=np.asarray(det_scores, np.float64).ravel(),
    )  # fmt: skip
    return found_ground_truth(
        gt, preds, "bbox", score_threshold=score_threshold, iou_threshold=iou_threshold
    )


def found_objects(
    gts: Sequence[dict[str, Any]],
    dets: Sequence[dict[str, Any]],
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> np.ndarray:
    """:func:`found_mask` on COCO-style dicts: which of ``gts`` (annotations of one image) the
    ``dets`` (results of the same image) find."""
    return found_mask(
        np.array([g["bbox"] for g in gts], dtype=np.float64),
        np.array([g["category_id"] for g in gts]),
        np.array([bool(g.get("iscrowd", 0)) for g in gts], dtype=bool),
        np.array([d["bbox"] for d in dets], dtype=np.float64),
        np.array([d["category_id"] for d in dets]),
        np.array([d["score"] for d in dets], dtype=np.float64),
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
    )


@dataclass(frozen=True)
class ObjectDiff:
    """Ground-truth annotations found by the variant only (gained) and by the baseline only."""

    gained: list[dict[str, Any]] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)


def object_diff(
    gts: Sequence[dict[str, Any]],
    baseline_dets: Sequence[dict[str, Any]],
    variant_dets: Sequence[dict[str, Any]],
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> ObjectDiff:
    """Which ground-truth objects of one image the variant gains or loses against the baseline."""
    kw = {"score_threshold": score_threshold, "iou_threshold": iou_threshold}
    base = found_objects(gts, baseline_dets, **kw)
    var = found_objects(gts, variant_dets, **kw)
    return ObjectDiff(
        gained=[g for g, b, v in zip(gts, base, var, strict=True) if v and not b],
        lost=[g for g, b, v in zip(gts, base, var, strict=True) if b and not v],
    )
