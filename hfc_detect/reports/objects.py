"""Object-level differences between two detection results on one image (paper Fig. 8 and 9).

A ground-truth object counts as *found* by a result when a detection of the same category, with
score >= the threshold, matches it at IoU >= 0.5 (IoU as pycocotools computes it). Matching is
greedy by descending score (ties keep input order, as in COCOeval); each detection takes the
still-unmatched ground truth it overlaps most (the later one on a tie, as in COCOeval), and each
ground truth is taken at most once. Only the ``max_dets`` (100) highest-scoring detections of
each category count, as COCOeval's maxDets (which applies per image and category). Crowd regions
are never objects: they are left out. The result equals COCOeval's ground-truth matches at IoU
0.5 on the detections with score >= the threshold. Objects found by the variant and not by the
baseline are *gained*; the reverse are *lost*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hfc_detect.evaluation.overlaps import box_iou

DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_MAX_DETS = 100


def _rank_within(categories: np.ndarray) -> np.ndarray:
    """For items in score order: each one's rank among the items of its own category."""
    by_cat = np.argsort(categories, kind="stable")
    sorted_cats = categories[by_cat]
    rank = np.empty(categories.size, dtype=np.int64)
    rank[by_cat] = np.arange(categories.size) - np.searchsorted(sorted_cats, sorted_cats)
    return rank


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
    max_dets: int = DEFAULT_MAX_DETS,
) -> np.ndarray:
    """Boolean mask over one image's ground truth (arrays: (G, 4) ``[x, y, w, h]`` boxes,
    category ids, crowd flags): which objects the detections ((D, 4) boxes, category ids,
    scores) find. Crowd regions are always False."""
    gt_crowd = np.asarray(gt_crowd, dtype=bool)
    found = np.zeros(gt_crowd.size, dtype=bool)
    scores = np.asarray(det_scores, dtype=np.float64)
    if found.size == 0 or scores.size == 0:
        return found
    order = np.argsort(-scores, kind="mergesort")
    det_categories = np.asarray(det_categories)
    order = order[_rank_within(det_categories[order]) < max_dets]
    order = order[scores[order] >= score_threshold]
    if order.size == 0:
        return found
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)[order]
    iou = box_iou(det_boxes[:, None, :], gt_boxes[None, :, :], gt_crowd[None, :])
    same = det_categories[order][:, None] == np.asarray(gt_categories)[None, :]
    eligible = same & ~gt_crowd[None, :] & (iou >= iou_threshold)
    for row in np.flatnonzero(eligible.any(axis=1)):  # score order; others can match nothing
        candidates = np.flatnonzero(eligible[row] & ~found)
        if candidates.size:
            best = iou[row, candidates]
            found[candidates[best.size - 1 - np.argmax(best[::-1])]] = True
    return found


def found_objects(
    gts: Sequence[dict[str, Any]],
    dets: Sequence[dict[str, Any]],
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    max_dets: int = DEFAULT_MAX_DETS,
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
        max_dets=max_dets,
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
