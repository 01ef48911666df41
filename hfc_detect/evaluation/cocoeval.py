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
    # Whole-set order: per category, images in id order, then stable by score (as accumulate
    # concatenates and sorts); the matching writes its flags straight into that order.
    dt_cat = dt_key % n_cat
    by_cat = np.lexsort((-dt_scores, dt_cat))
    cat_pos = np.empty_like(by_cat)
    cat_pos[by_cat] = np.arange(len(by_cat))
    cat_start = np.searchsorted(dt_cat[by_cat], np.arange(n_cat + 1))
    rank_c = dt_rank[by_cat]
    matched, ignored = match_detections(
        dt_key, dt_boxes, dt_areas, gt_key, gt.ann_boxes[g_order], gt_crowd, gt_ignore,
        gt.ann_ids[g_order], out_index=cat_pos,
    )  # fmt: skip
    tps = matched & ~ignored  # (A, T, D), whole-set order
    fps = ~matched & ~ignored

    ap, ap50, ap75 = _per_image_ap(
        n_img, n_cat, dt_key, cat_pos, tps[0], fps[0], gt_key, gt_ignore[0]
    )

    precision = -np.ones((n_thr, n_rec, n_cat, n_area, n_max))
    recall = -np.ones((n_thr, n_cat, n_area, n_max))
    npig = np.stack([np.bincount(gt_key[~ig] % n_cat, minlength=n_cat) for ig in gt_ignore], 1)
    for k in range(n_cat):
        areas = np.flatnonzero(npig[k] > 0)
        if len(areas) == 0:
            continue
        first, last = cat_start[k], cat_start[k + 1]
        for m, max_det in enumerate(MAX_DETS):
            sel = np.flatnonzero(rank_c[first:last] < max_det) + first
            if len(sel) == last - first:
                sel = slice(first, last)
            n = last - first if isinstance(sel, slice) else len(sel)
            for chunk in _row_chunks(areas, n_thr * n):
                rows_tp = _rows(tps, chunk, sel, n_area).reshape(len(chunk) * n_thr, n)
                rows_fp = _rows(fps, chunk, sel, n_area).reshape(len(chunk) * n_thr, n)
                rows_npig = np.repeat(npig[k, chunk], n_thr)
                q, rc = _precision_at_recalls(rows_tp, rows_fp, rows_npig, n)
                q = q.reshape(len(chunk), n_thr, n_rec)
                precision[:, :, k, chunk, m] = q.transpose(1, 2, 0)
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


def _rows(flags: np.ndarray, areas: np.ndarray, sel: slice | np.ndarray, n_area: int):
    """``flags[areas][:, :, sel]`` with as few copies as possible."""
    part = flags[:, :, sel] if isinstance(sel, slice) else np.take(flags, sel, axis=2)
    return part if len(areas) == n_area else np.take(part, areas, axis=0)


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
    n_rec = len(REC_THRESHOLDS)
    if width == 0:
        return np.zeros((rows, n_rec)), np.zeros(rows)
    # Precision only matters at true positives: between two of them it can only fall, and the
    # first rank reaching a recall threshold is the rank of the k-th true positive (or rank 0).
    ri, di = np.nonzero(tps)
    n_tp = np.bincount(ri, minlength=rows)
    k = np.arange(len(ri)) - np.repeat(np.cumsum(n_tp) - n_tp, n_tp) + 1
    fp = np.cumsum(fps, axis=1, dtype=np.int32)[ri, di]
    tp = k.astype(np.float64)
    pr = tp / (fp.astype(np.float64) + tp + np.spacing(1))  # COCOeval: tp / (fp + tp + eps)
    table = np.zeros((rows, max(int(n_tp.max()), 1)))
    table[ri, k - 1] = pr
    envelope = np.maximum.accumulate(table[:, ::-1], axis=1)[:, ::-1]

    uniq, inverse = np.unique(npig, return_inverse=True)
    k_min = np.stack([_min_tp_for_recall(int(n)) for n in uniq])[inverse.ravel()]
    at = np.take_along_axis(envelope, np.clip(k_min - 1, 0, table.shape[1] - 1), axis=1)
    q = np.where((k_min <= n_tp[:, None]) & (nd[:, None] > 0), at, 0.0)
    final_recall = np.where(nd > 0, n_tp / npig, 0.0)
    return q, final_recall


@lru_cache(maxsize=4096)
def _thresholds_per_tp_count(npig: int) -> np.ndarray:
    """How many recall thresholds are first reached at k true positives, k = 0 .. npig."""
    return np.bincount(_min_tp_for_recall(npig), minlength=npig + 1)


def _segment_suffix_max(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Running maximum from the right within runs of equal ``segment`` (log-step doubling)."""
    out = values.copy()
    shift = 1
    while shift < len(out):
        same = segment[:-shift] == segment[shift:]
        if not same.any():
            break
        out[:-shift] = np.where(same, np.maximum(out[:-shift], out[shift:]), out[:-shift])
        shift *= 2
    return out


def _per_image_ap(
    n_img: int,
    n_cat: int,
    dt_key: np.ndarray,
    flag_pos: np.ndarray,
    tps: np.ndarray,
    fps: np.ndarray,
    gt_key: np.ndarray,
    gt_ignore: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, AP50, AP75 of each image alone (area all, maxDets 100); NaN without valid gt.

    ``dt_key`` is in (image, category, rank) order; the flags of detection ``i`` sit in column
    ``flag_pos[i]`` of ``tps``/``fps`` (T, D). Only groups with valid ground truth count, and
    only their true positives: the interpolated precision at a recall threshold is the precision
    envelope at the k-th true positive, so each true positive adds its envelope value times the
    number of thresholds first reached there (all flat, no padding).
    """
    n_thr, n_rec = len(IOU_THRESHOLDS), len(REC_THRESHOLDS)
    valid_keys, npig = np.unique(gt_key[~gt_ignore], return_counts=True)
    n_valid_cats = np.bincount(valid_keys // n_cat, minlength=n_img)
    total = np.zeros(n_img * n_thr)  # sum over categories and recall thresholds, per (image, t)

    pos = np.minimum(np.searchsorted(valid_keys, dt_key), max(len(valid_keys) - 1, 0))
    sel = np.flatnonzero(valid_keys[pos] == dt_key) if len(valid_keys) else np.zeros(0, int)
    if len(sel):
        group = pos[sel]  # nondecreasing: detections are in group order
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(group)]))
        cols = flag_pos[sel]
        tp, fp = np.take(tps, cols, axis=1), np.take(fps, cols, axis=1)
        zero = np.zeros((n_thr, 1), np.int32)
        tp_before = np.concatenate([zero, np.cumsum(tp, axis=1, dtype=np.int32)], axis=1)
        fp_before = np.concatenate([zero, np.cumsum(fp, axis=1, dtype=np.int32)], axis=1)
        ti, di = np.nonzero(tp)
        first = starts[run[di]]
        k = tp_before[ti, di + 1] - tp_before[ti, first]  # k-th true positive of its group
        n_fp = fp_before[ti, di + 1] - fp_before[ti, first]
        k_f = k.astype(np.float64)
        pr = k_f / (n_fp.astype(np.float64) + k_f + np.spacing(1))
        envelope = _segment_suffix_max(pr, ti * len(starts) + run[di])

        run_npig = npig[group[starts]]
        uniq, which = np.unique(run_npig, return_inverse=True)
        tables = [_thresholds_per_tp_count(int(n)) for n in uniq]
        offset = np.cumsum([0] + [len(t) for t in tables])[:-1][which.ravel()][run[di]]
        flat = np.concatenate(tables)
        weight = flat[offset + k] + np.where(k == 1, flat[offset], 0)
        image = valid_keys[group[starts]][run[di]] // n_cat
        total += np.bincount(image * n_thr + ti, weights=weight * envelope, minlength=len(total))

    total = total.reshape(n_img, n_thr)
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
