"""The ground truth and detections behind a comparison folder, per image.

``summary.json`` names the annotations file and each variant's predictions file; the reports
need them to say which objects make an image's AP differ and to draw boxes. Files are read and
validated by :mod:`hfc_detect.evaluation` (one-line errors naming the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.evaluation import GroundTruth, Predictions, load_annotations, load_predictions
from hfc_detect.evaluation.cocoeval import found_ground_truth
from hfc_detect.reports.objects import DEFAULT_IOU_THRESHOLD, DEFAULT_SCORE_THRESHOLD, ObjectDiff
from hfc_detect.results import ComparisonFolder
from hfc_detect.utils.errors import InputError


def _runs(image_index: np.ndarray, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Order grouping items by image (stable: file order kept) and each image's start offset."""
    order = np.argsort(image_index, kind="stable")
    starts = np.searchsorted(image_index[order], np.arange(num_images + 1))
    return order, starts


def _shape(masks: list[dict] | None, keypoints: np.ndarray | None, row: int) -> dict[str, Any]:
    """The mask / keypoints of item ``row`` where a segm / keypoints comparison loaded them."""
    if masks is not None:
        return {"segmentation": masks[row]}
    return {"keypoints": keypoints[row].tolist()} if keypoints is not None else {}


@dataclass(frozen=True)
class ObjectSources:
    """Annotations and detections of a comparison, as COCO-style dicts per image id."""

    gt: GroundTruth
    preds: dict[str, Predictions]
    _groups: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _found: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False)

    def _group(self, key: str, image_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if key not in self._groups:
            self._groups[key] = _runs(image_index, self.gt.num_images)
        return self._groups[key]

    @property
    def category_names(self) -> dict[int, str]:
        return dict(zip(self.gt.category_ids.tolist(), self.gt.category_names, strict=True))

    def _image_index(self, image_id: int) -> int | None:
        i = int(np.searchsorted(self.gt.image_ids, image_id))
        return i if i < self.gt.num_images and self.gt.image_ids[i] == image_id else None

    def gt_rows(self, image_id: int) -> np.ndarray:
        """Indices into the ``gt.ann_*`` arrays of the annotations of ``image_id`` (file order)."""
        i = self._image_index(image_id)
        if i is None:
            return np.zeros(0, dtype=np.int64)
        order, starts = self._group("", self.gt.ann_image)
        return order[starts[i] : starts[i + 1]]

    def det_rows(self, variant: str, image_id: int) -> np.ndarray:
        """Indices into ``preds[variant]`` of its detections on ``image_id`` (file order)."""
        i = self._image_index(image_id)
        preds = self.preds.get(variant)
        if i is None or preds is None:
            return np.zeros(0, dtype=np.int64)
        order, starts = self._group(f"dets:{variant}", preds.image)
        return order[starts[i] : starts[i + 1]]

    def gt_record(self, row: int) -> dict[str, Any]:
        """Annotation ``row`` as a COCO-style dict: id, category_id, bbox, iscrowd (and
        ``segmentation`` as compressed RLE / ``keypoints`` as (K, 3) lists where loaded)."""
        return {
            "id": int(self.gt.ann_ids[row]),
            "category_id": int(self.gt.category_ids[self.gt.ann_category[row]]),
            "bbox": self.gt.ann_boxes[row].tolist(),
            "iscrowd": int(self.gt.ann_crowd[row]),
            **_shape(self.gt.ann_masks, self.gt.ann_keypoints, row),
        }

    def image_gts(self, image_id: int) -> list[dict[str, Any]]:
        """Annotations of ``image_id`` as COCO-style dicts (file order)."""
        return [self.gt_record(k) for k in self.gt_rows(image_id)]

    def image_dets(self, variant: str, image_id: int) -> list[dict[str, Any]]:
        """Detections of ``variant`` on ``image_id`` as dicts (file order): category_id, bbox,
        score (and segmentation / keypoints as :meth:`gt_record`)."""
        preds = self.preds.get(variant)
        cats = self.gt.category_ids
        return [
            {
                "category_id": int(cats[preds.category[k]]),
                "bbox": preds.boxes[k].tolist(),
                "score": float(preds.scores[k]),
                **_shape(preds.masks, preds.keypoints, k),
            }
            for k in self.det_rows(variant, image_id)
        ]

    def found(
        self,
        variant: str,
        image_id: int,
        *,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    ) -> np.ndarray:
        """Which annotations of ``image_id`` (in :meth:`gt_rows` order) ``variant`` finds, with
        the IoU of the comparison's iouType (box IoU, mask IoU or OKS): COCOeval's matching
        (:func:`~hfc_detect.evaluation.cocoeval.found_ground_truth`), run once per variant."""
        key = (variant, score_threshold, iou_threshold)
        if key not in self._found:
            self._found[key] = found_ground_truth(
                self.gt, self.preds[variant], self.gt.iou_type,
                score_threshold=score_threshold, iou_threshold=iou_threshold,
            )  # fmt: skip
        return self._found[key][self.gt_rows(image_id)]

    def object_diff(self, image_id: int, baseline: str, variant: str, **kw: Any) -> ObjectDiff:
        """Objects of ``image_id`` that ``variant`` gains / loses against ``baseline``."""
        rows = self.gt_rows(image_id)
        base = self.found(baseline, image_id, **kw)
        var = self.found(variant, image_id, **kw)
        return ObjectDiff(
            gained=[self.gt_record(k) for k in rows[var & ~base]],
            lost=[self.gt_record(k) for k in rows[base & ~var]],
        )


def load_sources(comparison: ComparisonFolder, variants: list[str]) -> ObjectSources:
    """Read the annotations and the predictions of ``variants`` named in the summary, for the
    summary's ``iou_type`` (and its keypoints' OKS sigmas): one iouType per folder."""
    summary_path = comparison.root / "summary.json"
    ann_path = comparison.summary.get("annotations")
    if not ann_path:
        raise InputError(f"{summary_path}: no annotations path recorded")
    if not Path(ann_path).is_file():
        raise InputError(f"{ann_path}: annotations file not found (named in {summary_path})")
    summary = comparison.summary
    sigmas = {int(c): s for c, s in summary.get("kpt_oks_sigmas", {}).items()} or None
    gt = load_annotations(ann_path, summary.get("iou_type", "bbox"), kpt_oks_sigmas=sigmas)
    preds = {}
    for name in variants:
        pred_path = comparison.variant(name).get("predictions")
        if not pred_path:
            raise InputError(
                f"{summary_path}: variant {name!r} has no predictions file (it was scored from "
                "memory), so its objects cannot be matched; use --no-objects"
            )
        if not Path(pred_path).is_file():
            raise InputError(f"{pred_path}: predictions file not found (named in {summary_path})")
        preds[name] = load_predictions(pred_path, gt, name=name)
    return ObjectSources(gt=gt, preds=preds)
