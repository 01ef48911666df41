"""COCOeval's greedy detection-to-ground-truth matching, vectorised over (image, category).

The overlap (box IoU, mask IoU or OKS, :mod:`hfc_detect.evaluation.overlaps`) is computed once
for every pair of a group; the matcher only looks the candidates up.

pycocotools matches one (image, category) at a time in Python loops. The greedy rule is
sequential only along a group's detections (highest score first), so here every group advances
one detection rank per step, for all 4 area ranges x 10 IoU thresholds at once. Detections
without any IoU >= 0.5 never match and ground truth no detection reaches is never matched; both
are dropped before the loop, and groups are bucketed by their number of ground-truth candidates
(so padding stays small) and sorted by detection count (so the active set is a shrinking prefix).

Rules reproduced exactly (``COCOeval.evaluateImg``): threshold ``min(t, 1 - 1e-10)`` with
``iou >= threshold``; among the candidates the best IoU wins and ties go to the later ground
truth; non-ignored ground truth is preferred (pycocotools sorts ignored ground truth last and
stops at it once it holds a non-ignored match); crowd ground truth can match many detections,
other ground truth one. The result is the sparse list of matches with the matched ground
truth's ignore flag and whether its id is nonzero (pycocotools stores the matched id in
``dtMatches``, so a match to id 0 reads as none); ``cocoeval`` turns it into COCOeval's flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfc_detect.evaluation.loaders import GroundTruth, Predictions
from hfc_detect.evaluation.overlaps import GroupPairs, Overlap
from hfc_detect.evaluation.params import IOU_THRESHOLDS

_MATCH_THRESHOLDS = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys of a sorted array with the start and length of each run."""
    if len(sorted_keys) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    counts = np.diff(np.r_[starts, len(sorted_keys)])
    return sorted_keys[starts], starts, counts


def by_key_then_score(key: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``np.lexsort((-score, key))``: by key, then score descending, ties in input order.

    One integer sort of (key, score rank, position) where that fits in 63 bits (faster).
    """
    n = len(key)
    uniq, score_rank = np.unique(-score, return_inverse=True)
    if n == 0 or (int(key.max()) + 1) * len(uniq) * n >= 2**62:
        return np.lexsort((-score, key))
    return np.argsort((key * len(uniq) + score_rank.ravel()) * n + np.arange(n))


def rank_in_runs(sorted_keys: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal keys."""
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    start_pos = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - start_pos


@dataclass(frozen=True)
class Groups:
    """Detections and ground truth in the matcher's order: by (image, category) group;
    detections then by score (descending, stable) and cut to maxDets, ground truth in file
    order. Indices refer to the Predictions / GroundTruth arrays."""

    dt_idx: np.ndarray
    dt_key: np.ndarray  # image * K + category
    dt_rank: np.ndarray  # rank within the group
    g_order: np.ndarray
    gt_key: np.ndarray


def group_by_image_category(gt: GroundTruth, preds: Predictions, max_det: int) -> Groups:
    """COCOeval's per-(image, category) lists, as sorted index arrays."""
    n_cat = len(gt.category_ids)
    key = preds.image * n_cat + preds.category
    order = by_key_then_score(key, preds.scores)
    key_sorted = key[order]
    rank = rank_in_runs(key_sorted)
    keep = rank < max_det
    gt_key = gt.ann_image * n_cat + gt.ann_category
    g_order = np.argsort(gt_key, kind="stable")
    return Groups(order[keep], key_sorted[keep], rank[keep], g_order, gt_key[g_order])


@dataclass(frozen=True)
class Matches:
    """Every match COCOeval's greedy rule makes, one entry per (area range, threshold, dt).

    Unlisted (area range, threshold, detection) triples are unmatched. ``gt_nonzero`` is False
    for a ground truth with id 0 (pycocotools then records the match as 0, i.e. none), and
    ``gt_ignored`` is the matched ground truth's ignore flag in that area range.
    """

    area: np.ndarray  # (E,) area-range index
    threshold: np.ndarray  # (E,) IoU-threshold index
    detection: np.ndarray  # (E,) detection index
    gt_nonzero: np.ndarray  # (E,) bool
    gt_ignored: np.ndarray  # (E,) bool
    ground_truth: np.ndarray  # (E,) ground-truth index


def match_detections(
    dt_key: np.ndarray,
    gt_key: np.ndarray,
    overlap: Overlap,
    gt_crowd: np.ndarray,
    gt_ignore: np.ndarray,
    gt_ids: np.ndarray,
    thresholds: np.ndarray | None = None,
) -> Matches:
    """Match detections to ground truth for every area range and IoU threshold.

    Detections are sorted by group key, then by rank (score descending, stable), already cut
    to maxDets; ground truth is sorted by group key, file order within a group. ``overlap``
    gives the IoU (or OKS) of pairs in those orders. ``gt_ignore`` is (A, G): ignored in area
    range A (crowd, no keypoints, or area outside the range). ``thresholds`` picks some of
    COCO's IoU thresholds (indices; all by default); ``Matches.threshold`` indexes into them.
    """
    limits = _MATCH_THRESHOLDS if thresholds is None else _MATCH_THRESHOLDS[thresholds]
    parts: list[tuple[np.ndarray, ...]] = []
    d_keys, d_start, d_count = _runs(dt_key)
    g_keys, g_start, g_count = _runs(gt_key)
    common, d_pos, g_pos = np.intersect1d(d_keys, g_keys, assume_unique=True, return_indices=True)
    if len(common):
        _match_groups(
            GroupPairs.of(d_start[d_pos], d_count[d_pos], g_start[g_pos], g_count[g_pos]),
            overlap, gt_crowd, gt_ignore, gt_ids != 0, limits, parts,
        )  # fmt: skip
    if not parts:
        empty = np.zeros(0, np.int64)
        return Matches(empty, empty, empty, empty.astype(bool), empty.astype(bool), empty)
    return Matches(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def _match_groups(
    pairs: GroupPairs, overlap: Overlap, gt_crowd, gt_ignore, gt_nonzero, limits, parts
) -> None:  # fmt: skip
    """Greedy matching for the groups holding both detections and ground truth."""
    # Every (detection, ground truth) pair of each group; keep those that can ever match.
    iou = overlap(pairs)
    can = iou >= limits.min()
    if not can.any():
        return
    p_dt, p_gt, group = pairs.dt[can], pairs.gt[can], pairs.group[can]
    lookup = _PairLookup(p_dt * len(gt_crowd) + p_gt, iou[can], len(gt_crowd))
    rel_dt, rel_dt_group = _unique_with_group(p_dt, group)
    rel_gt, rel_gt_group = _unique_with_group(p_gt, group)

    # Compressed per-group tables: candidate detections (rank order), candidate gt (file order).
    _, dt_first, nd = np.unique(rel_dt_group, return_index=True, return_counts=True)
    groups, gt_first, ngt = np.unique(rel_gt_group, return_index=True, return_counts=True)
    one = np.zeros(len(pairs.d_start), bool)
    one[groups[ngt == 1]] = True
    _single_candidate(one[group], p_dt, p_gt, iou[can], gt_crowd, gt_ignore, gt_nonzero, limits,
                      parts)  # fmt: skip
    bucket = np.ceil(np.log2(ngt)).astype(np.int64)
    for b in np.unique(bucket[ngt > 1]):
        sel = np.flatnonzero(bucket == b)
        sel = sel[np.argsort(-nd[sel], kind="stable")]
        dt_tab = _table(rel_dt, dt_first[sel], nd[sel])
        gt_tab = _table(rel_gt, gt_first[sel], ngt[sel])
        _greedy(dt_tab, nd[sel], gt_tab, lookup, gt_crowd, gt_ignore, gt_nonzero, limits, parts)


def _single_candidate(
    on, p_dt, p_gt, iou, gt_crowd, gt_ignore, gt_nonzero, limits, parts
) -> None:  # fmt: skip
    """Groups with one candidate ground truth, without the loop: at each threshold it goes to
    the first detection (rank order) that reaches it, or to every such detection for a crowd
    region; its ignore flag cannot change that, so every area range matches alike."""
    if not on.any():
        return
    p_dt, p_gt = p_dt[on], p_gt[on]  # grouped, detections in rank order
    ok = iou[on][:, None] >= limits[None, :]
    count = np.cumsum(ok, axis=0)
    starts = np.flatnonzero(np.r_[True, p_gt[1:] != p_gt[:-1]])
    before = (count[starts] - ok[starts])[np.cumsum(np.r_[True, p_gt[1:] != p_gt[:-1]]) - 1]
    first = ok & ((count - before == 1) | gt_crowd[p_gt][:, None])
    pi, ti = np.nonzero(first)
    g = p_gt[pi]
    for a in range(gt_ignore.shape[0]):
        parts.append((np.full(len(pi), a), ti, p_dt[pi], gt_nonzero[g], gt_ignore[a, g], g))


@dataclass(frozen=True)
class _PairLookup:
    """The overlaps of the pairs that can match (>= the lowest threshold), by (dt, gt)."""

    keys: np.ndarray  # sorted dt * n_gt + gt
    values: np.ndarray
    n_gt: int

    def __call__(self, dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
        """Overlap of each (dt, gt), broadcast; -1 for pairs that cannot match."""
        key = dt * self.n_gt + gt
        pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        return np.where(self.keys[pos] == key, self.values[pos], -1.0)


def _unique_with_group(items: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct items (item order is group order) with the group of each."""
    uniq, first = np.unique(items, return_index=True)
    return uniq, group[first]


def _table(items: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Rows of ``items[first[i] : first[i] + count[i]]``, padded with -1."""
    width = int(count.max())
    col = np.arange(width)
    index = first[:, None] + col[None, :]
    valid = col[None, :] < count[:, None]
    return np.where(valid, items[np.where(valid, index, 0)], -1)


def _last_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the last maximum along the last axis (pycocotools lets ties go to later gt)."""
    return values.shape[-1] - 1 - np.argmax(values[..., ::-1], axis=-1)


def _greedy(dt_tab, nd, gt_tab, lookup, gt_crowd, gt_ignore, gt_nonzero, limits, parts) -> None:
    """Advance all groups of one bucket one detection rank at a time (groups sorted by nd desc)."""
    n_groups, width = gt_tab.shape
    valid = gt_tab >= 0
    gidx = np.where(valid, gt_tab, 0)
    g_crowd = gt_crowd[gidx] & valid
    g_ign = np.moveaxis(gt_ignore[:, gidx], 0, 1)[:, :, None, :]  # (n, A, 1, Gb)
    taken = np.zeros((n_groups, gt_ignore.shape[0], len(limits), width), bool)
    thr = limits[None, None, :, None]
    for r in range(dt_tab.shape[1]):
        act = int(np.count_nonzero(nd > r))
        d = dt_tab[:act, r]
        iou = lookup(d[:, None], gidx[:act])
        iou = np.where(valid[:act], iou, -1.0)[:, None, None, :]  # (act, 1, 1, Gb)
        ok = (iou >= thr) & (~taken[:act] | g_crowd[:act, None, None, :])
        ign = g_ign[:act]
        best = np.where(ok & ~ign, iou, -1.0)
        alt = np.where(ok & ign, iou, -1.0)
        has_best = best.max(axis=-1) >= 0
        has_alt = alt.max(axis=-1) >= 0
        m = np.where(has_best, _last_argmax(best), np.where(has_alt, _last_argmax(alt), -1))
        gi, ai, ti = np.nonzero(m >= 0)
        gj = m[gi, ai, ti]
        taken[gi, ai, ti, gj] = True
        g = gt_tab[gi, gj]
        parts.append((ai, ti, d[gi], gt_nonzero[g], gt_ignore[ai, g], g))
