"""Object-level differences between two detection results on one image (paper Fig. 8 and 9).

A ground-truth object counts as *found* by a result when a detection of the same category, with
score >= the threshold, matches it at IoU >= 0.5 (IoU as pycocotools computes it). Matching is
greedy by descending score (ties keep input order, as in COCOeval); each detection takes the
still-unmatched ground truth it overlaps most (the later one on a tie, as in COCOeval), and each
ground truth is taken at most once. Only the ``max_dets`` highest-scoring detections count
(COCO's 100). Crowd regions are never objects: they are left out. Objects found by the variant
and not by the baseline are *gained*; the reverse are *lost*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfc_detect.evaluation.matching import box_iou

DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_MAX_DETS = 100


def found_objects(
    gts: Sequence[dict[str, Any]],
    dets: Sequence[dict[str, Any]],
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    max_dets: int = DEFAULT_MAX_DETS,
) -> np.ndarray:
    """Boolean mask over ``gts`` (COCO annotations of one image): which ones ``dets`` (COCO
    results of the same image) find. Crowd annotations are always False."""
    found = np.zeros(len(gts), dtype=bool)
    if not gts or not dets:
        return found
    scores = np.array([d["score"] for d in dets], dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")[:max_dets]
    order = order[scores[order] >= score_threshold]
    if order.size == 0:
        return found
    crowd = np.array([bool(g.get("iscrowd", 0)) for g in gts])
    gt_cats = np.array([g["category_id"] for g in gts])
    det_cats = np.array([dets[i]["category_id"] for i in order])
    det_boxes = np.array([dets[i]["bbox"] for i in order], dtype=np.float64)
    gt_boxes = np.array([g["bbox"] for g in gts], dtype=np.float64)
    iou = box_iou(det_boxes[:, None, :], gt_boxes[None, :, :], crowd[None, :])
    eligible = (det_cats[:, None] == gt_cats[None]) & ~crowd[None] & (iou >= iou_threshold)
    for row in range(order.size):
        candidates = np.flatnonzero(eligible[row] & ~found)
        if candidates.size:
            best = iou[row, candidates]
            found[candidates[best.size - 1 - np.argmax(best[::-1])]] = True
    return found


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
    max_dets: int = DEFAULT_MAX_DETS,
) -> ObjectDiff:
    """Which ground-truth objects of one image the variant gains or loses against the baseline."""
    kw = {"score_threshold": score_threshold, "iou_threshold": iou_threshold, "max_dets": max_dets}
    base = found_objects(gts, baseline_dets, **kw)
    var = found_objects(gts, variant_dets, **kw)
    return ObjectDiff(
        gained=[g for g, b, v in zip(gts, base, var, strict=True) if v and not b],
        lost=[g for g, b, v in zip(gts, base, var, strict=True) if b and not v],
    )
