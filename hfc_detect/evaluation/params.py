"""COCOeval's parameters for each iouType (``pycocotools.cocoeval.Params``), as constants.

bbox and segm share them; keypoints use three area ranges (no ``small``) and maxDets 20, and
summarise into 10 numbers instead of 12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfc_detect.utils.errors import InputError

IOU_TYPES = ("bbox", "segm", "keypoints")
OVERLAP_NAMES = {"bbox": "IoU", "segm": "mask IoU", "keypoints": "OKS"}  # what each matches by
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
# COCO's 17 person keypoints (pycocotools' default kpt_oks_sigmas).
COCO_PERSON_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                               1.07, 1.07, .87, .87, .89, .89]) / 10.0  # fmt: skip

_ALL, _SMALL, _MEDIUM, _LARGE = [0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]


@dataclass(frozen=True)
class Params:
    """One iouType's area ranges, maxDets and summary (``stats``) layout.

    A summary entry is (kind, IoU threshold or None for all, area label, maxDets), kind "ap"
    reading the precision array and "ar" the recall array, in COCOeval.summarize's order.
    """

    iou_type: str
    area_ranges: np.ndarray  # (A, 2)
    area_labels: tuple[str, ...]
    max_dets: tuple[int, ...]
    stat_names: tuple[str, ...]
    summary: tuple[tuple[str, float | None, str, int], ...]

    @property
    def max_det(self) -> int:
        """The largest maxDets: detections per (image, category) that are evaluated at all."""
        return self.max_dets[-1]


_DET_SUMMARY = (("ap", None, "all", 100), ("ap", 0.5, "all", 100), ("ap", 0.75, "all", 100),
                ("ap", None, "small", 100), ("ap", None, "medium", 100),
                ("ap", None, "large", 100), ("ar", None, "all", 1), ("ar", None, "all", 10),
                ("ar", None, "all", 100), ("ar", None, "small", 100),
                ("ar", None, "medium", 100), ("ar", None, "large", 100))  # fmt: skip
_DET_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")  # fmt: skip
_KP_SUMMARY = (("ap", None, "all", 20), ("ap", 0.5, "all", 20), ("ap", 0.75, "all", 20),
               ("ap", None, "medium", 20), ("ap", None, "large", 20), ("ar", None, "all", 20),
               ("ar", 0.5, "all", 20), ("ar", 0.75, "all", 20), ("ar", None, "medium", 20),
               ("ar", None, "large", 20))  # fmt: skip
_KP_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def _detection_params(iou_type: str) -> Params:
    return Params(iou_type, np.array([_ALL, _SMALL, _MEDIUM, _LARGE], float),
                  ("all", "small", "medium", "large"), (1, 10, 100), _DET_NAMES,
                  _DET_SUMMARY)  # fmt: skip


PARAMS = {
    "bbox": _detection_params("bbox"),
    "segm": _detection_params("segm"),
    "keypoints": Params("keypoints", np.array([_ALL, _MEDIUM, _LARGE], float),
                        ("all", "medium", "large"), (20,), _KP_NAMES, _KP_SUMMARY),
}  # fmt: skip


def params_for(iou_type: str) -> Params:
    """COCOeval's parameters for ``iou_type``; ValueError naming the valid ones otherwise."""
    if iou_type not in PARAMS:
        raise ValueError(f"iou_type must be one of {', '.join(IOU_TYPES)}, got {iou_type!r}")
    return PARAMS[iou_type]


def check_iou_type(iou_type: str) -> str:
    """``iou_type`` when it is one of :data:`IOU_TYPES`; else InputError naming ``--iou-type``."""
    if iou_type not in IOU_TYPES:
        raise InputError(f"--iou-type must be one of {', '.join(IOU_TYPES)}, got {iou_type!r}")
    return iou_type
