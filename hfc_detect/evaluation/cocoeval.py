"""COCO bbox evaluation, per image and for the whole set, equal to pycocotools' COCOeval.

``evaluate`` gives, in one vectorised pass, what pycocotools gives by running COCOeval
(iouType ``bbox``, default parameters) once on the whole set and once per image with
``params.imgIds = [image]``: the 12 ``stats``, the ``precision``/``recall`` arrays, the AP per
category and, per image, AP, AP50 and AP75 (area ``all``, maxDets 100).

What COCOeval does, and so what this does too:

- Detections are grouped by (image, category), sorted by score (stable: ties keep file order)
  and cut to the 100 best per group.
- An image's AP is the mean over the categories that have non-crowd ground truth in that image
  (of area in range). Detections of categories absent from the image are ignored, not counted
  as false positives; an image without non-crowd ground truth has no AP (COCOeval gives -1;
  here NaN).
- The whole-set precision concatenates images in sorted id order and sorts stably by score.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hfc_detect.evaluation.coco import GroundTruth, Predictions
from hfc_detect.evaluation.matching import (
    AREA_LABELS,
    AREA_RANGES,
    IOU_THRESHOLDS,
    match_detections,
)

REC_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")  # fmt: skip

_T50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_T75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])
_CHUNK = 1 << 21  # padded elements (rows x detections) per step: bounds memory


@dataclass(frozen=True)
class Evaluation:
    """Results of :func:`evaluate`; NaN stands where COCOeval gives -1 per image."""

    image_ids: np.ndarray  # (I,) sorted
    ap: np.ndarray  # (I,) per-image AP @[.50:.95], area all, maxDets 100
    ap50: np.ndarray  # (I,)
    ap75: np.ndarray  # (I,)
    num_dets: np.ndarray  # (I,) detections of the image in the predictions (before maxDets)
    stats: np.ndarray  # (12,) COCOeval.stats (-1 where undefined), order of STAT_NAMES
    precision: np.ndarray  # (T, R, K, A, M) COCOeval.eval["precision"]
    recall: np.ndarray  # (T, K, A, M) COCOeval.eval["recall"]
    category_ids: np.ndarray  # (K,)

    def stats_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(STAT_NAMES, self.stats, strict=True)}

    def per_category_ap(self) -> np.ndarray:
        """AP per category (area all, maxDets 100); NaN for categories without ground truth."""
        s = self.precision[:, :, :, 0, -1]
        valid = s > -1
        total = np.where(valid, s, 0.0).sum(axis=(0, 1))
        count = valid.sum(axis=(0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def evaluate(gt: GroundTruth, preds: Predictions) -> Evaluation:
    """Score ``preds`` against ``gt`` per image and for the whole set (see module docstring)."""
    n_img, n_cat = gt.num_images, len(gt.category_ids)
    n_thr, n_rec, n_area, n_max = len(IOU_THRESHOLDS), len(REC_THRESHOLDS), 4, len(MAX_DETS)

    # Detections: sort by (image, category) group, then score descending (stable), keep 100.
    dt_key_all = preds.image * n_cat + preds.category
    order = np.lexsort((-preds.scores, dt_key_all))
    key_sorted = dt_key_all[order]
    rank = _rank_in_runs(key_sorted)
    keep = rank < MAX_DETS[-1]
    dt_idx = order[keep]
    dt_key, dt_rank = key_sorted[keep], rank[keep]
    dt_boxes, dt_scores = preds.boxes[dt_idx], preds.scores[dt_idx]
    dt_areas = dt_boxes[:, 2] * dt_boxes[:, 3]

    # Ground truth: sort by group, file order within; ignore = crowd or area out of range.
    g_order = np.argsort(gt.ann_image * n_cat + gt.ann_category, kind="stable")
    gt_key = (gt.ann_image * n_cat + gt.ann_category)[g_order]
    gt_areas = gt.ann_areas[g_order]
    gt_crowd = gt.ann_crowd[g_order]
    gt_ignore = (
        gt_crowd[None, :]
        | (gt_areas[None, :] < AREA_RANGES[:, :1])
        | (gt_areas[None, :] > AREA_RANGES[:, 1:])
    )
    matched, ignored = match_detections(
        dt_key, dt_boxes, dt_areas, gt_key, gt.ann_boxes[g_order], gt_crowd, gt_ignore,
        gt.ann_ids[g_order],
    )  # fmt: skip
    tps = matched & ~ignored  # (A, T, D)
    fps = ~matched & ~ignored

    ap, ap50, ap75 = _per_image_ap(n_img, n_cat, dt_key, tps[0], fps[0], gt_key, gt_ignore[0])

    precision = -np.ones((n_thr, n_rec, n_cat, n_area, n_max))
    recall = -np.ones((n_thr, n_cat, n_area, n_max))
    npig = np.stack([np.bincount(gt_key[~ig] % n_cat, minlength=n_cat) for ig in gt_ignore], 1)
    dt_cat = dt_key % n_cat
    by_cat = np.lexsort((-dt_scores, dt_cat))  # stable: ties keep (image, rank) order
    cat_start = np.searchsorted(dt_cat[by_cat], np.arange(n_cat + 1))
    for k in range(n_cat):
        areas = np.flatnonzero(npig[k] > 0)
        if len(areas) == 0:
            continue
        in_cat = by_cat[cat_start[k] : cat_start[k + 1]]
        for m, max_det in enumerate(MAX_DETS):
            sel = in_cat[dt_rank[in_cat] < max_det]
            for chunk in _row_chunks(areas, n_thr * len(sel)):
                rows_tp = tps[chunk][:, :, sel].reshape(len(chunk) * n_thr, len(sel))
                rows_fp = fps[chunk][:, :, sel].reshape(len(chunk) * n_thr, len(sel))
                rows_npig = np.repeat(npig[k, chunk], n_thr)
                q, rc = _precision_at_recalls(rows_tp, rows_fp, rows_npig, len(sel))
                precision[:, :, k, chunk, m] = q.reshape(len(chunk), n_thr, n_rec).transpose(
                    1, 2, 0
                )
                recall[:, k, chunk, m] = rc.reshape(len(chunk), n_thr).T

    counts = np.bincount(preds.image, minlength=n_img)
    return Evaluation(
        image_ids=gt.image_ids,
        ap=ap,
        ap50=ap50,
        ap75=ap75,
        num_dets=counts,
        stats=_summarize(precision, recall),
        precision=precision,
        recall=recall,
        category_ids=gt.category_ids,
    )


def _rank_in_runs(sorted_keys: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal keys."""
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    start_pos = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - start_pos


def _row_chunks(areas: np.ndarray, per_area: int) -> list[np.ndarray]:
    """Split area indices so that each chunk's padded arrays stay under the memory bound."""
    step = max(1, _CHUNK // max(per_area, 1))
    return [areas[i : i + step] for i in range(0, len(areas), step)]


@lru_cache(maxsize=4096)
def _min_tp_for_recall(npig: int) -> np.ndarray:
    """Per recall threshold, the fewest true positives k with ``k / npig >= threshold``.

    Computed with the same float division as COCOeval's ``rc = tp / npig``, so that
    ``searchsorted(rc, recThrs, side='left')`` is the first rank reaching k true positives.
    """
    rc = np.arange(npig + 1, dtype=np.float64) / npig
    return np.searchsorted(rc, REC_THRESHOLDS, side="left")


def _precision_at_recalls(
    tps: np.ndarray, fps: np.ndarray, npig: np.ndarray, nd: int | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """COCOeval.accumulate's inner loop for many rows at once.

    ``tps``/``fps`` are (rows, D) bool in score order, False beyond each row's ``nd``
    detections; ``npig`` is the number of non-ignored ground truth per row. Returns the
    interpolated precision at the 101 recall thresholds (rows, R) and the final recall (rows,).
    """
    rows, width = tps.shape
    nd = np.broadcast_to(np.asarray(nd), (rows,))
    if width == 0:
        return np.zeros((rows, len(REC_THRESHOLDS))), np.zeros(rows)
    tp = np.cumsum(tps, axis=1, dtype=np.float64)
    fp = np.cumsum(fps, axis=1, dtype=np.float64)
    pr = tp / (fp + tp + np.spacing(1))
    # Precision envelope: running maximum from the right (padding repeats the last value).
    envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    final_recall = np.where(nd > 0, tp[:, -1] / npig, 0.0)

    # First rank whose recall reaches each threshold: rank of the k-th true positive.
    uniq, inverse = np.unique(npig, return_inverse=True)
    k_min = np.stack([_min_tp_for_recall(int(n)) for n in uniq])[inverse.ravel()]
    kth = np.full((rows, width + 2), width, dtype=np.int64)
    kth[:, 0] = 0
    ri, di = np.nonzero(tps)
    kth[ri, tp[ri, di].astype(np.int64)] = di
    idx = np.take_along_axis(kth, np.minimum(k_min, width + 1), axis=1)
    inside = idx < nd[:, None]
    q = np.where(inside, np.take_along_axis(envelope, np.minimum(idx, width - 1), axis=1), 0.0)
    return q, final_recall


def _per_image_ap(
    n_img: int,
    n_cat: int,
    dt_key: np.ndarray,
    tps: np.ndarray,
    fps: np.ndarray,
    gt_key: np.ndarray,
    gt_ignore: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, AP50, AP75 of each image alone (area all, maxDets 100); NaN without valid gt."""
    n_thr, n_rec = len(IOU_THRESHOLDS), len(REC_THRESHOLDS)
    valid_keys, npig = np.unique(gt_key[~gt_ignore], return_counts=True)
    n_valid_cats = np.bincount(valid_keys // n_cat, minlength=n_img)
    total = np.zeros((n_img, n_thr))  # sum over categories and recall thresholds

    # Groups with valid ground truth and at least one detection; the others add zeros.
    d_start = np.searchsorted(dt_key, valid_keys, side="left")
    nd = np.searchsorted(dt_key, valid_keys, side="right") - d_start
    has = np.flatnonzero(nd > 0)
    has = has[np.argsort(nd[has], kind="stable")]  # similar widths share a chunk
    step = max(1, _CHUNK // (n_thr * MAX_DETS[-1]))
    for i in range(0, len(has), step):
        grp = has[i : i + step]
        width = int(nd[grp].max())
        col = np.arange(width)
        inside = col[None, :] < nd[grp, None]
        idx = np.where(inside, d_start[grp, None] + col[None, :], 0)
        rows_tp = (tps[:, idx] & inside[None]).transpose(1, 0, 2).reshape(-1, width)
        rows_fp = (fps[:, idx] & inside[None]).transpose(1, 0, 2).reshape(-1, width)
        q, _ = _precision_at_recalls(
            rows_tp, rows_fp, np.repeat(npig[grp], n_thr), np.repeat(nd[grp], n_thr)
        )
        per_thr = q.sum(axis=1).reshape(len(grp), n_thr)
        np.add.at(total, valid_keys[grp] // n_cat, per_thr)

    with np.errstate(invalid="ignore", divide="ignore"):
        denom = n_valid_cats.astype(np.float64)
        ap = total.sum(axis=1) / (denom * n_thr * n_rec)
        ap50 = total[:, _T50] / (denom * n_rec)
        ap75 = total[:, _T75] / (denom * n_rec)
    none = n_valid_cats == 0
    for arr in (ap, ap50, ap75):
        arr[none] = np.nan
    return ap, ap50, ap75


def _summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """COCOeval.summarize for bbox: the 12 standard numbers (-1 where nothing is defined)."""

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return -1.0 if len(s) == 0 else float(np.mean(s))

    a = {label: i for i, label in enumerate(AREA_LABELS)}
    m100 = MAX_DETS.index(100)
    return np.array(
        [
            mean(precision[:, :, :, a["all"], m100]),
            mean(precision[_T50, :, :, a["all"], m100]),
            mean(precision[_T75, :, :, a["all"], m100]),
            mean(precision[:, :, :, a["small"], m100]),
            mean(precision[:, :, :, a["medium"], m100]),
            mean(precision[:, :, :, a["large"], m100]),
            mean(recall[:, :, a["all"], MAX_DETS.index(1)]),
            mean(recall[:, :, a["all"], MAX_DETS.index(10)]),
            mean(recall[:, :, a["all"], m100]),
            mean(recall[:, :, a["small"], m100]),
            mean(recall[:, :, a["medium"], m100]),
            mean(recall[:, :, a["large"], m100]),
        ]
    )
