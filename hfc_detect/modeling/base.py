"""The Detector protocol: what ``hfc-detect eval`` needs from any detection model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Detections:
    """One image's detections in that image's original pixel coordinates.

    Instance-segmentation models add ``masks`` (COCO compressed RLE, the image's size) and
    keypoint models ``keypoints`` ((N, K, 3): x, y and a score or visibility), as COCO's segm
    and keypoint results hold them.
    """

    boxes: np.ndarray  # (N, 4) float, x0, y0, x1, y1
    scores: np.ndarray  # (N,) float
    category_ids: np.ndarray  # (N,) int, COCO category ids (not contiguous labels)
    masks: list[dict] | None = None  # (N,) {"size": [H, W], "counts": str}
    keypoints: np.ndarray | None = None  # (N, K, 3) float

    def __len__(self) -> int:
        return len(self.scores)


@runtime_checkable
class Detector(Protocol):
    """A COCO detector.

    ``detect`` gets a batch of images as float32 (C, H, W) tensors on ``device``, channels in
    ``channel_order``, pixels on the 0..255 scale at the image's original resolution (LFC/HFC
    images may leave 0..255 unless a pixel mode clips them). The detector does its own resizing
    and normalisation and returns one :class:`Detections` per image, in input order.
    """

    channel_order: Literal["RGB", "BGR"]
    device: torch.device

    def detect(self, images: list[torch.Tensor]) -> list[Detections]: ...
