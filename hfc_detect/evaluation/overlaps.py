"""The overlap COCOeval matches with, one per iouType: box IoU, mask IoU and keypoint OKS.

Each overlap is computed for every (detection, ground truth) pair of the (image, category)
groups the matcher hands it (:class:`GroupPairs`), bit-identical to what pycocotools'
``computeIoU`` / ``computeOks`` give for that pair. Detections are in the engine's order
(group, then score), already cut to maxDets; ground truth in group, then file order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class GroupPairs:
    """All (detection, ground truth) pairs of some groups, group by group, detection-major.

    Group ``i`` holds detections ``d_start[i] : d_start[i] + d_count[i]`` and ground truth
    ``g_start[i] : g_start[i] + g_count[i]``.
    """

    d_start: np.ndarray
    d_count: np.ndarray
    g_start: np.ndarray
    g_count: np.ndarray
    group: np.ndarray  # (P,) group of each pair
    dt: np.ndarray  # (P,) detection index
    gt: np.ndarray  # (P,) ground-truth index

    @classmethod
    def of(cls, d_start, d_count, g_start, g_count) -> GroupPairs:
        pairs = d_count * g_count
        group = np.repeat(np.arange(len(pairs)), pairs)
        local = np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs)
        ng = g_count[group]
        dt = d_start[group] + local // ng
        gt = g_start[group] + local % ng
        return cls(d_start, d_count, g_start, g_count, group, dt, gt)


class Overlap(Protocol):
    def __call__(self, pairs: GroupPairs) -> np.ndarray:
        """IoU (or OKS) of every pair, in ``pairs`` order."""


def box_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of [x, y, w, h] boxes, broadcast; for crowd ground truth, intersection / dt area.

    Same double-precision operations in the same order as pycocotools' ``maskUtils.iou``
    (``bbIou`` in maskApi.c), so the results are bit-identical.
    """
    dx, dy, dw, dh = dt[..., 0], dt[..., 1], dt[..., 2], dt[..., 3]
    gx, gy, gw, gh = gt[..., 0], gt[..., 1], gt[..., 2], gt[..., 3]
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    dt_area = dw * dh
    union = np.where(crowd, dt_area, dt_area + gw * gh - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


@dataclass(frozen=True)
class BoxOverlap:
    """iouType bbox."""

    dt_boxes: np.ndarray  # (D, 4)
    gt_boxes: np.ndarray  # (G, 4)
    gt_crowd: np.ndarray  # (G,)

    def __call__(self, pairs: GroupPairs) -> np.ndarray:
        return box_iou(self.dt_boxes[pairs.dt], self.gt_boxes[pairs.gt], self.gt_crowd[pairs.gt])


@dataclass(frozen=True)
class MaskOverlap:
    """iouType segm: ``pycocotools.mask.iou`` of compressed RLEs, one call per group.

    Groups where no detection's mask box meets a ground-truth mask box are all zeros without a
    call (pycocotools' rleIou gives 0 there too).
    """

    dt_masks: Sequence[dict[str, Any]]  # (D,) compressed RLE
    gt_masks: Sequence[dict[str, Any]]  # (G,) compressed RLE
    dt_boxes: np.ndarray  # (D, 4) boxes of the masks (maskUtils.toBbox)
    gt_boxes: np.ndarray  # (G, 4)
    gt_crowd: np.ndarray  # (G,)

    def __call__(self, pairs: GroupPairs) -> np.ndarray:
        from pycocotools import mask as mask_utils

        iou = np.zeros(len(pairs.dt))
        meet = box_iou(self.dt_boxes[pairs.dt], self.gt_boxes[pairs.gt], False) > 0
        groups = np.unique(pairs.group[meet])
        offsets = np.cumsum(pairs.d_count * pairs.g_count) - pairs.d_count * pairs.g_count
        for i in groups.tolist():
            ds, dc = int(pairs.d_start[i]), int(pairs.d_count[i])
            gs, gc = int(pairs.g_start[i]), int(pairs.g_count[i])
            block = mask_utils.iou(
                list(self.dt_masks[ds : ds + dc]),
                list(self.gt_masks[gs : gs + gc]),
                self.gt_crowd[gs : gs + gc].astype(np.uint8).tolist(),
            )
            iou[offsets[i] : offsets[i] + dc * gc] = np.asarray(block).ravel()
        return iou


@dataclass(frozen=True)
class KeypointOverlap:
    """iouType keypoints: COCOeval.computeOks with each ground truth's category sigmas.

    Same operations as pycocotools, in the same order, and the sum over the visible keypoints
    in their order, so the values are bit-identical.
    """

    dt_keypoints: np.ndarray  # (D, K, 3)
    gt_keypoints: np.ndarray  # (G, K, 3)
    gt_boxes: np.ndarray  # (G, 4)
    gt_areas: np.ndarray  # (G,)
    gt_sigmas: np.ndarray  # (G, K)

    def __call__(self, pairs: GroupPairs) -> np.ndarray:
        g, d = pairs.gt, pairs.dt
        xd, yd = self.dt_keypoints[d, :, 0], self.dt_keypoints[d, :, 1]
        xg, yg = self.gt_keypoints[g, :, 0], self.gt_keypoints[g, :, 1]
        visible = self.gt_keypoints[g, :, 2] > 0
        n_visible = visible.sum(axis=1)
        bb = self.gt_boxes[g][:, :, None]
        x0, x1 = bb[:, 0] - bb[:, 2], bb[:, 0] + bb[:, 2] * 2
        y0, y1 = bb[:, 1] - bb[:, 3], bb[:, 1] + bb[:, 3] * 2
        none = (n_visible == 0)[:, None]
        dx = np.where(none, np.maximum(0, x0 - xd) + np.maximum(0, xd - x1), xd - xg)
        dy = np.where(none, np.maximum(0, y0 - yd) + np.maximum(0, yd - y1), yd - yg)
        variances = (self.gt_sigmas[g] * 2) ** 2
        e = (dx**2 + dy**2) / variances / (self.gt_areas[g][:, None] + np.spacing(1)) / 2
        # Visible keypoints first, in order; a ground truth without any uses all of them.
        used = visible | none
        e = np.take_along_axis(e, np.argsort(~used, axis=1, kind="stable"), axis=1)
        n_used = used.sum(axis=1)
        oks = np.zeros(len(d))
        for n in np.unique(n_used).tolist():
            rows = np.flatnonzero(n_used == n)
            oks[rows] = np.sum(np.exp(-np.ascontiguousarray(e[rows, :n])), axis=1) / n
        return oks
