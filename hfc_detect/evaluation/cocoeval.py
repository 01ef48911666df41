"""COCO evaluation, per image and for the whole set, equal to pycocotools' COCOeval.

``evaluate`` gives, in one vectorised pass, what pycocotools gives by running COCOeval
(iouType ``bbox``, ``segm`` or ``keypoints``, default parameters) once on the whole set and
once per image with ``params.imgIds = [image]``: the ``stats`` (12 numbers; 10 for keypoints),
the ``precision``/``recall`` arrays, the AP per category and, per image, AP, AP50 and AP75
(area ``all``, the largest maxDets: 100, or 20 for keypoints).

What COCOeval does, and so what this does too:

- Detections are grouped by (image, category), sorted by score (stable: ties keep file order)
  and cut to the largest maxDets per group.
- An image's AP is the mean over the categories that have non-ignored ground truth in that
  image (not crowd, area in range; for keypoints also ``num_keypoints > 0``). Detections of
  categories absent from the image are ignored, not counted as false positives; an image
  without such ground truth has no AP (COCOeval gives -1; here NaN).
- The whole-set precision concatenates images in sorted id order and sorts stably by score.
- The overlap is box IoU, mask IoU (``pycocotools.mask.iou``; crowd: intersection over the
  detection's area) or OKS, see :mod:`hfc_detect.evaluation.overlaps`. A detection's area (for
  the area ranges) is what ``COCO.loadRes`` gives it, see :mod:`hfc_detect.evaluation.loaders`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hfc_detect.evaluation.loaders import GroundTruth, Predictions
from hfc_detect.evaluation.matching import (
    by_key_then_score,
    group_by_image_category,
    match_detections,
)
from hfc_detect.evaluation.overlaps import BoxOverlap, KeypointOverlap, MaskOverlap, Overlap
from hfc_detect.evaluation.params import (
    IOU_THRESHOLDS,
    PARAMS,
    REC_THRESHOLDS,
    Params,
    params_for,
)
from hfc_detect.utils.errors import InputError

STAT_NAMES = PARAMS["bbox"].stat_names  # the 12 numbers of bbox and segm

_T50 = int(np.flatnonzero(IOU_THRESHOLDS == 0.5)[0])
_T75 = int(np.flatnonzero(IOU_THRESHOLDS == 0.75)[0])


@dataclass(frozen=True)
class Evaluation:
    """Results of :func:`evaluate`; NaN stands where COCOeval gives -1 per image."""

    image_ids: np.ndarray  # (I,) sorted
    ap: np.ndarray  # (I,) per-image AP @[.50:.95], area all, maxDets 100
    ap50: np.ndarray  # (I,)
    ap75: np.ndarray  # (I,)
    num_dets: np.ndarray  # (I,) detections of the image in the predictions (before maxDets)
    stats: np.ndarray  # (12,) COCOeval.stats (-1 where undefined), order of STAT_NAMES
    recall: np.ndarray  # (T, K, A, M) COCOeval.eval["recall"]
    category_ids: np.ndarray  # (K,)
    iou_type: str = "bbox"
    # (T, R, K, A, M), filled at the largest maxDets; _fill_precision fills the rest once.
    _precision: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _fill_precision: Callable[[np.ndarray], None] | None = field(default=None, repr=False)

    @property
    def precision(self) -> np.ndarray:
        """(T, R, K, A, M) COCOeval.eval["precision"]. The stats and per-category AP read the
        largest maxDets only; the smaller ones (a third of the work each) are computed when
        this is first read."""
        if self._fill_precision is not None:
            self._fill_precision(self._precision)
            object.__setattr__(self, "_fill_precision", None)  # and free what it held
        return self._precision

    @property
    def stat_names(self) -> tuple[str, ...]:
        """Names of ``stats``: 12 for bbox and segm, 10 for keypoints."""
        return params_for(self.iou_type).stat_names

    def stats_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(self.stat_names, self.stats, strict=True)}

    def per_category_ap(self) -> np.ndarray:
        """AP per category (area all, largest maxDets); NaN for categories without ground truth."""
        s = self._precision[:, :, :, 0, -1]
        valid = s > -1
        total = np.where(valid, s, 0.0).sum(axis=(0, 1))
        count = valid.sum(axis=(0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _ground_truths_iou_type(gt: GroundTruth, iou_type: str | None) -> str:
    """``gt``'s iouType; InputError when ``iou_type`` names another."""
    if iou_type is not None and iou_type != gt.iou_type:
        raise InputError(
            f"iou_type {iou_type!r}: the ground truth was loaded for {gt.iou_type!r}; load it "
            f"with load_annotations(..., {iou_type!r}) to score {iou_type}"
        )
    return gt.iou_type


def evaluate(gt: GroundTruth, preds: Predictions, iou_type: str | None = None) -> Evaluation:
    """Score ``preds`` against ``gt`` per image and for the whole set (see module docstring).

    The iouType is the one ``gt`` was loaded for (masks for segm, keypoints for keypoints), and
    ``preds`` must have been loaded for it too. ``iou_type``, when given, only confirms it: a
    different one is an InputError, never a silent rescoring of other geometry.
    """
    iou_type = _ground_truths_iou_type(gt, iou_type)
    params = params_for(iou_type)
    n_img, n_cat = gt.num_images, len(gt.category_ids)
    n_thr, n_rec = len(IOU_THRESHOLDS), len(REC_THRESHOLDS)
    n_area, n_max = len(params.area_ranges), len(params.max_dets)
    ranges = params.area_ranges

    # Detections by (image, category) group, then score descending (stable), cut to maxDets;
    # ground truth by group, file order within; ignored: crowd (or without keypoints) or area
    # out of range.
    groups = group_by_image_category(gt, preds, params.max_det)
    dt_idx, dt_key, dt_rank, g_order, gt_key = (
        groups.dt_idx,
        groups.dt_key,
        groups.dt_rank,
        groups.g_order,
        groups.gt_key,
    )
    dt_scores = preds.scores[dt_idx]
    dt_areas = preds.detection_areas()[dt_idx]
    outside = (dt_areas[None, :] < ranges[:, :1]) | (dt_areas[None, :] > ranges[:, 1:])
    gt_areas = gt.ann_areas[g_order]
    ignored = _ignored(gt, iou_type)[g_order]
    gt_ignore = (
        ignored[None, :] | (gt_areas[None, :] < ranges[:, :1]) | (gt_areas[None, :] > ranges[:, 1:])
    )
    overlap = _overlap(iou_type, gt, g_order, preds, dt_idx)
    found = match_detections(
        dt_key, gt_key, overlap, gt.ann_crowd[g_order], gt_ignore, gt.ann_ids[g_order]
    )
    # COCOeval's flags at a match: a true positive needs a nonzero gt id and a non-ignored gt;
    # dtIgnore is the gt's flag, or'ed with "outside the area range" when the stored id is 0.
    # Elsewhere a detection is ignored exactly when outside the range. ``delta`` is the change
    # of the ignore flag that a match makes.
    ev_out = outside[found.area, found.detection]
    is_tp = found.gt_nonzero & ~found.gt_ignored
    delta = np.where(found.gt_nonzero, found.gt_ignored.astype(np.int64) - ev_out,
                     found.gt_ignored & ~ev_out).astype(np.int64)  # fmt: skip
    useful = is_tp | (delta != 0)  # other matches leave the flags as if unmatched
    ev = _Events(found.area[useful], found.threshold[useful], found.detection[useful],
                 is_tp[useful], delta[useful])  # fmt: skip

    ap, ap50, ap75 = _per_image_ap(n_img, n_cat, params.max_det, dt_key, dt_rank, outside[0], ev,
                                   gt_key, gt_ignore[0])  # fmt: skip

    # Whole set: per category, images in id order then stable by score (accumulate's order).
    npig = np.stack([np.bincount(gt_key[~ig] % n_cat, minlength=n_cat) for ig in gt_ignore], 1)
    dt_cat = dt_key % n_cat
    by_cat = by_key_then_score(dt_cat, dt_scores)
    cat_pos = np.empty_like(by_cat)
    cat_pos[by_cat] = np.arange(len(by_cat))
    cat_start = np.searchsorted(dt_cat[by_cat], np.arange(n_cat))
    precision = -np.ones((n_thr, n_rec, n_cat, n_area, n_max))
    recall = -np.ones((n_thr, n_cat, n_area, n_max))
    # Matches in (area, threshold, whole-set position) order: rows (area, threshold, category)
    # come out contiguous and ascending, for every maxDets.
    position = cat_pos[ev.detection]
    order = np.argsort((ev.area * n_thr + ev.threshold) * max(len(dt_key), 1) + position)
    whole = _WholeSetEvents.of(ev, order, position[order], dt_cat, cat_start, n_cat)
    rank_c, outside_c = dt_rank[by_cat], outside[:, by_cat]

    def fill_precision(out: np.ndarray, max_dets: Sequence[int] = params.max_dets[:-1]) -> None:
        for m, max_det in enumerate(max_dets):
            q = _whole_set_precision(max_det, rank_c, outside_c, whole, npig)
            out[:, :, :, :, m] = q.transpose(1, 3, 2, 0)

    q = _whole_set_precision(params.max_det, rank_c, outside_c, whole, npig)
    precision[:, :, :, :, -1] = q.transpose(1, 3, 2, 0)
    for m, max_det in enumerate(params.max_dets):
        recall[:, :, :, m] = _whole_set_recall(max_det, rank_c, whole, npig).transpose(1, 2, 0)
    if any(kind == "ap" and m != params.max_det for kind, _, _, m in params.summary):
        fill_precision(precision)  # a summary that reads a smaller maxDets' precision
        fill_precision = None

    counts = np.bincount(preds.image, minlength=n_img)
    return Evaluation(
        image_ids=gt.image_ids,
        ap=ap,
        ap50=ap50,
        ap75=ap75,
        num_dets=counts,
        stats=_summarize(params, precision, recall),
        recall=recall,
        category_ids=gt.category_ids,
        iou_type=iou_type,
        _precision=precision,
        _fill_precision=fill_precision if n_max > 1 else None,
    )


def found_ground_truth(
    gt: GroundTruth,
    preds: Predictions,
    iou_type: str = "bbox",
    *,
    score_threshold: float = 0.0,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """Which ground-truth objects (``gt.ann_*`` order) COCOeval's matching finds.

    An object is found when, at IoU (or OKS) threshold ``iou_threshold`` (one of COCO's ten)
    and area range ``all``, ``evaluate``'s own greedy matching pairs it with a detection of
    score >= ``score_threshold``. Detections below the threshold come after all others in their
    group, so they cannot change these matches. Ignored ground truth (crowd regions, persons
    without keypoints) is never found.
    """
    t = np.flatnonzero(np.isclose(IOU_THRESHOLDS, iou_threshold, rtol=0, atol=1e-12))
    if len(t) != 1:
        raise ValueError(f"iou_threshold must be one of COCO's {IOU_THRESHOLDS.tolist()}")
    groups = group_by_image_category(gt, preds, params_for(iou_type).max_det)
    ignored = _ignored(gt, iou_type)[groups.g_order]
    matches = match_detections(
        groups.dt_key, groups.gt_key, _overlap(iou_type, gt, groups.g_order, preds, groups.dt_idx),
        gt.ann_crowd[groups.g_order], ignored[None, :], gt.ann_ids[groups.g_order],
        thresholds=t,
    )  # fmt: skip
    hit = ~matches.gt_ignored & (preds.scores[groups.dt_idx[matches.detection]] >= score_threshold)
    found = np.zeros(len(gt.ann_ids), bool)
    found[groups.g_order[matches.ground_truth[hit]]] = True
    return found


def _ignored(gt: GroundTruth, iou_type: str) -> np.ndarray:
    """COCOeval's ``ignore`` flag of each annotation: crowd; for keypoints also none visible."""
    if iou_type != "keypoints":
        return gt.ann_crowd
    return gt.ann_crowd | (_required(gt.ann_num_keypoints, "ground truth", iou_type) == 0)


def _required(column, what: str, iou_type: str):
    """``column`` of ground truth or predictions, which exists only when loaded for iou_type."""
    if column is None:
        raise InputError(f"the {what} was not loaded for iouType {iou_type!r} (pass iou_type=)")
    return column


def _overlap(
    iou_type: str, gt: GroundTruth, g_order: np.ndarray, preds: Predictions, dt_idx: np.ndarray
) -> Overlap:
    """The overlap of ``iou_type`` over the engine's sorted detections and ground truth."""
    if iou_type == "bbox":
        return BoxOverlap(preds.boxes[dt_idx], gt.ann_boxes[g_order], gt.ann_crowd[g_order])
    if iou_type == "segm":
        dt_masks = _required(preds.masks, "predictions", iou_type)
        gt_masks = _required(gt.ann_masks, "ground truth", iou_type)
        return MaskOverlap(
            [dt_masks[i] for i in dt_idx.tolist()],
            [gt_masks[i] for i in g_order.tolist()],
            _required(preds.mask_boxes, "predictions", iou_type)[dt_idx],
            _required(gt.ann_mask_boxes, "ground truth", iou_type)[g_order],
            gt.ann_crowd[g_order],
        )
    sigmas = _required(gt.category_sigmas, "ground truth", iou_type)
    return KeypointOverlap(
        _required(preds.keypoints, "predictions", iou_type)[dt_idx],
        _required(gt.ann_keypoints, "ground truth", iou_type)[g_order],
        gt.ann_boxes[g_order],
        gt.ann_areas[g_order],
        sigmas[gt.ann_category[g_order]],
    )


@dataclass(frozen=True)
class _Events:
    """The matched (area, threshold, detection) triples with their effect on the flags."""

    area: np.ndarray
    threshold: np.ndarray
    detection: np.ndarray  # index in (image, category, rank) order
    is_tp: np.ndarray  # bool
    delta: np.ndarray  # int: ignored-at-match minus outside-the-area-range


@dataclass(frozen=True)
class _WholeSetEvents:
    """The events in (area, threshold, whole-set position) order, with what every maxDets
    reads: rows (area, threshold, category) come out contiguous and ascending."""

    position: np.ndarray  # whole-set position of the detection (category, then score)
    first: np.ndarray  # whole-set position of its category's first detection
    area: np.ndarray
    row: np.ndarray  # (area * T + threshold) * K + category
    is_tp: np.ndarray
    delta: np.ndarray

    @classmethod
    def of(
        cls, ev: _Events, order: np.ndarray, position: np.ndarray, dt_cat: np.ndarray,
        cat_start: np.ndarray, n_cat: int,
    ) -> _WholeSetEvents:  # fmt: skip
        area, category = ev.area[order], dt_cat[ev.detection[order]]
        row = (area * len(IOU_THRESHOLDS) + ev.threshold[order]) * n_cat + category
        return cls(position, cat_start[category], area, row, ev.is_tp[order], ev.delta[order])

    def where(self, keep: np.ndarray) -> _WholeSetEvents:
        return _WholeSetEvents(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@lru_cache(maxsize=4096)
def _min_tp_for_recall(npig: int) -> np.ndarray:
    """Per recall threshold, the fewest true positives k with ``k / npig >= threshold``.

    Computed with the same float division as COCOeval's ``rc = tp / npig``, so that
    ``searchsorted(rc, recThrs, side='left')`` is the first rank reaching k true positives.
    """
    rc = np.arange(npig + 1, dtype=np.float64) / npig
    return np.searchsorted(rc, REC_THRESHOLDS, side="left")


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


def _precision_at_true_positives(
    row: np.ndarray, pos: np.ndarray, outside_upto: np.ndarray, is_tp: np.ndarray,
    delta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """COCOeval's precision at each true positive.

    Each row is one score-ordered detection list of accumulate (a category of an image, or of
    the whole set, at one area range and threshold). Given the matched detections of all rows,
    sorted by row and position (rows contiguous and, for callers that need it, ascending),
    with their position in the row and how many detections up to there are outside the area
    range, return for each true positive its row, k (it is the row's k-th) and the precision
    there. Precision between true positives only falls, so the envelope (max precision from a
    point to the row's end) at true positives is all the interpolated precision needs: at a
    recall threshold first reached with k true positives it is the envelope at the k-th (at
    k = 0, at the first).
    """
    first = np.r_[True, row[1:] != row[:-1]] if len(row) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(row)), 0))
    tp_upto = np.cumsum(is_tp)
    tp_upto = tp_upto - (tp_upto[start] - is_tp[start])
    ign_upto = np.cumsum(delta)
    ign_upto = ign_upto - (ign_upto[start] - delta[start]) + outside_upto

    row, k, pos, ign_upto = row[is_tp], tp_upto[is_tp], pos[is_tp], ign_upto[is_tp]
    tp = k.astype(np.float64)
    fp = (pos + 1 - k - ign_upto).astype(np.float64)
    return row, k, tp / (fp + tp + np.spacing(1))  # COCOeval: tp / (fp + tp + eps)


def _suffix_max_at(
    values: np.ndarray, at: np.ndarray, reached: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """``max(values[at[r, j] : end[r]])`` for each row r and query j where ``reached``.

    A row's reached queries are ascending, come first, and lie in ``[.., end[r])``; rows do
    not overlap. One ``maximum.reduceat`` over the blocks between queries (a row's last block
    ends at ``end[r]``), then a running maximum from the right along each row: exact, and
    linear in ``values`` (unreached queries read -1).
    """
    n_rows, n_queries = at.shape
    slots = np.concatenate([np.where(reached, at, end[:, None]), end[:, None]], axis=1)
    blocks = np.maximum.reduceat(np.append(values, -1.0), slots.ravel())
    blocks = blocks.reshape(n_rows, n_queries + 1)[:, :n_queries]
    blocks[~reached] = -1.0
    return np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]


def _per_image_ap(
    n_img: int,
    n_cat: int,
    max_det: int,
    dt_key: np.ndarray,
    dt_rank: np.ndarray,
    outside: np.ndarray,
    ev: _Events,
    gt_key: np.ndarray,
    gt_ignore: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, AP50, AP75 of each image alone (area all, largest maxDets); NaN without valid gt.

    A row is (category of the image with non-crowd gt, threshold); each true positive adds its
    envelope value times the number of recall thresholds first reached there.
    """
    n_thr, n_rec = len(IOU_THRESHOLDS), len(REC_THRESHOLDS)
    valid_keys, npig = np.unique(gt_key[~gt_ignore], return_counts=True)
    n_valid_cats = np.bincount(valid_keys // n_cat, minlength=n_img)
    total = np.zeros(n_img * n_thr)  # sum over categories and recall thresholds, per (image, t)

    on = ev.area == 0
    d = ev.detection[on]
    group = np.searchsorted(valid_keys, dt_key[d])
    valid = group < len(valid_keys)
    valid[valid] = valid_keys[group[valid]] == dt_key[d[valid]]
    d, group, t = d[valid], group[valid], ev.threshold[on][valid]
    if np.any(ev.is_tp[on][valid]):
        # Detections outside the area range up to each position of its (image, category) list.
        out_upto = np.cumsum(outside)
        out_upto = out_upto[d] - (out_upto[d - dt_rank[d]] - outside[d - dt_rank[d]])
        row, rank = group * n_thr + t, dt_rank[d]
        order = np.argsort(row * max_det + rank)
        row, k, precision = _precision_at_true_positives(
            row[order], rank[order], out_upto[order], ev.is_tp[on][valid][order],
            ev.delta[on][valid][order],
        )  # fmt: skip
        envelope = _segment_suffix_max(precision, row)
        g = row // n_thr
        uniq, which = np.unique(npig[g], return_inverse=True)
        tables = [_thresholds_per_tp_count(int(n)) for n in uniq]
        offset = np.cumsum([0] + [len(c) for c in tables])[:-1][which.ravel()]
        flat = np.concatenate(tables)
        weight = flat[offset + k] + np.where(k == 1, flat[offset], 0)
        index = (valid_keys[g] // n_cat) * n_thr + row % n_thr
        total += np.bincount(index, weights=weight * envelope, minlength=len(total))

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


def _whole_set_precision(
    max_det: int,
    rank_c: np.ndarray,
    outside_c: np.ndarray,
    ev: _WholeSetEvents,
    npig: np.ndarray,
) -> np.ndarray:
    """Interpolated precision (A, T, K, R) at one maxDets, -1 without gt.

    ``rank_c``/``outside_c`` are in whole-set order (category, then score, stable); a row is
    (area range, threshold, category) over the detections ranked below ``max_det``.
    """
    n_cat, n_area = npig.shape
    n_thr, n_rec = len(IOU_THRESHOLDS), len(REC_THRESHOLDS)
    n = len(rank_c)
    kept = rank_c < max_det
    if kept.all():  # the largest maxDets: the detections were cut to it already
        pos = ev.position - ev.first
    else:
        ev = ev.where(kept[ev.position])
        kept_upto = np.r_[0, np.cumsum(kept)]  # kept detections before each position
        pos = kept_upto[ev.position] - kept_upto[ev.first]
    # Outside the area range and kept, before each position: a flat (A, n + 1) table.
    out_upto = np.zeros((n_area, n + 1), np.int64)
    np.cumsum(outside_c & kept, axis=1, out=out_upto[:, 1:])
    out_upto = out_upto.ravel()
    base = ev.area * (n + 1)
    outs = out_upto[base + ev.position + 1] - out_upto[base + ev.first]
    row, _, precision = _precision_at_true_positives(ev.row, pos, outs, ev.is_tp, ev.delta)

    n_rows = n_cat * n_area * n_thr
    n_tp = np.bincount(row, minlength=n_rows)
    first_tp = np.cumsum(n_tp) - n_tp
    row_npig = _row_npig(npig)
    has_gt = row_npig > 0
    q = -np.ones((n_rows, n_rec))
    uniq, which = np.unique(row_npig[has_gt], return_inverse=True)
    if len(uniq):
        k_min = np.stack([_min_tp_for_recall(int(n)) for n in uniq])[which.ravel()]
        k_min = np.maximum(k_min, 1)  # k = 0 (threshold 0) reads the envelope at the first tp
        reached = k_min <= n_tp[has_gt, None]
        at = first_tp[has_gt, None] + k_min - 1
        end = first_tp[has_gt] + n_tp[has_gt]
        q[has_gt] = np.where(reached, _suffix_max_at(precision, at, reached, end), 0.0)
    return q.reshape(n_area, n_thr, n_cat, n_rec)


def _row_npig(npig: np.ndarray) -> np.ndarray:
    """Non-ignored ground truth of each whole-set row (area, threshold, category)."""
    return np.repeat(npig.T, len(IOU_THRESHOLDS), axis=0).ravel()


def _whole_set_recall(
    max_det: int, rank_c: np.ndarray, ev: _WholeSetEvents, npig: np.ndarray
) -> np.ndarray:
    """Recall (A, T, K) at one maxDets, -1 without gt: true positives ranked below
    ``max_det`` over the non-ignored ground truth of the row."""
    n_cat, n_area = npig.shape
    n_thr = len(IOU_THRESHOLDS)
    tp = ev.is_tp & (rank_c < max_det)[ev.position]
    n_tp = np.bincount(ev.row[tp], minlength=n_cat * n_area * n_thr)
    row_npig = _row_npig(npig)
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = np.where(row_npig > 0, n_tp / np.maximum(row_npig, 1), -1.0)
    return rc.reshape(n_area, n_thr, n_cat)


def _summarize(params: Params, precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """COCOeval.summarize: the iouType's standard numbers (-1 where nothing is defined)."""

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return -1.0 if len(s) == 0 else float(np.mean(s))

    stats = []
    for kind, iou, area, max_det in params.summary:
        a, m = params.area_labels.index(area), params.max_dets.index(max_det)
        t = slice(None) if iou is None else int(np.flatnonzero(iou == IOU_THRESHOLDS)[0])
        if kind == "ap":
            stats.append(mean(precision[t, :, :, a, m]))
        else:
            stats.append(mean(recall[t, :, a, m]))
    return np.array(stats)
