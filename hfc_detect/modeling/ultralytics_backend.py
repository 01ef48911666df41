"""Ultralytics YOLO models (YOLOv8 to YOLO11 and later: detect, segment, pose) as a Detector.

Each image goes through Ultralytics' own ``predict`` pipeline, one image per call:
``LetterBox`` to the model's image size (scale by ``min(imgsz / h, imgsz / w)``, OpenCV
bilinear resize, minimal padding to the model's stride, centred, padding value 114), BGR to RGB,
``/ 255``, the model, then its NMS and rescaling to the original image with Ultralytics'
validation settings by default (``conf=0.001``, ``iou=0.7``, ``max_det=300``; ``predict``
itself defaults to ``conf=0.25``). Segment models use ``retina_masks=True``: masks are computed
at the original resolution (``process_mask_native``), as Ultralytics' validator does for COCO
JSON output; a pixel is in the mask where the upsampled mask logit is > 0. Pose models give
their keypoints (x, y, confidence), COCO's 17 in COCO order for COCO-pose models.

Floats: Ultralytics' pipeline takes uint8 images, but every step of it (``cv2.resize``,
``cv2.copyMakeBorder``, the division) also accepts float32 arrays and keeps them float. Original
images (floats holding uint8 values) are handed over as uint8, so they take exactly the path of
an image read from disk; LFC/HFC images are handed over as float32, unrounded and unclipped
(the tests check both). Where we differ from ``model.val``: ``val`` letterboxes each batch to a
common rectangle (``rect``), ``predict`` each image to its own minimal one, which this follows.

Class names (``model.names``) map to the annotation file's categories by name
(:mod:`hfc_detect.modeling.class_names`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.class_names import class_to_category, map_labels
from hfc_detect.modeling.common import as_exact_uint8, masks_to_rles, parse_overrides
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import require
from hfc_detect.utils.torch_tools import resolve_device

ULTRALYTICS_HINT = "install it with pip install ultralytics (or this project's [ultralytics] extra)"
TASKS = ("detect", "segment", "pose")


@dataclass(frozen=True)
class PredictSettings:
    """Ultralytics ``predict`` arguments (defaults: Ultralytics' validation settings).

    ``imgsz`` None: the image size the checkpoint was trained at (``model.overrides``).
    """

    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300
    imgsz: int | None = None

    def with_overrides(self, overrides: Sequence[str]) -> PredictSettings:
        """These settings with ``KEY=VALUE`` overrides (``--set conf=0.25``) applied."""
        kinds = {f.name: (int if f.name in ("max_det", "imgsz") else float) for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in parse_overrides(overrides):
            if key not in kinds:
                raise InputError(f"--set {key}: ultralytics options are {', '.join(kinds)}")
            try:
                changes[key] = kinds[key](value)
            except ValueError:
                raise InputError(f"--set {key}={value}: not a {kinds[key].__name__}") from None
        settings = replace(self, **changes)
        if not (0 <= settings.conf < 1 and 0 < settings.iou <= 1 and settings.max_det >= 1):
            raise InputError(
                "ultralytics: need 0 <= conf < 1, 0 < iou <= 1, max_det >= 1 (got "
                f"{settings.conf}, {settings.iou}, {settings.max_det})"
            )
        if settings.imgsz is not None and settings.imgsz < 32:
            raise InputError(f"ultralytics: imgsz must be >= 32, got {settings.imgsz}")
        return settings


class UltralyticsDetector:
    """An Ultralytics ``YOLO`` model (detect, segment or pose) with classes mapped to category
    ids; inputs are BGR (C, H, W) tensors on the 0..255 scale."""

    channel_order = "BGR"

    def __init__(
        self,
        model: Any,
        categories: Mapping[int, str] | None,
        settings: PredictSettings = PredictSettings(),
        device: str | torch.device | None = None,
    ) -> None:
        if model.task not in TASKS:
            raise InputError(f"ultralytics: task {model.task!r} is not one of {', '.join(TASKS)}")
        self.model = model
        self.task = model.task
        self.settings = settings
        self.device = resolve_device(device)
        self.category_of = class_to_category(model.names, categories, backend="ultralytics")
        # Ultralytics sets its predictor up (and on CPU torch's thread count) in the first
        # predict: do it now, so that every image runs with the same threads, as a resumed run
        # must (summation order changes the last digits).
        self.predict(np.zeros((32, 32, 3), dtype=np.uint8))

    def predict(self, image: np.ndarray) -> Any:
        """Ultralytics' own ``predict`` on one (H, W, 3) BGR array (uint8 or float32): its
        ``Results``. Keeps torch's CPU thread count, which Ultralytics' set-up resets on CPU."""
        threads = torch.get_num_threads()
        try:
            (result,) = self.model.predict(
                image,
                conf=self.settings.conf,
                iou=self.settings.iou,
                max_det=self.settings.max_det,
                imgsz=self.settings.imgsz or self.model.overrides.get("imgsz", 640),
                device=str(self.device),
                retina_masks=self.task == "segment",
                verbose=False,
            )
        finally:
            torch.set_num_threads(threads)
        return result

    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        results = []
        for image in images:
            if image.ndim != 3 or image.shape[0] != 3:
                raise InputError(f"expected a (3, H, W) image tensor, got {tuple(image.shape)}")
            hwc = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
            exact = as_exact_uint8(hwc)
            source = exact if exact is not None else np.ascontiguousarray(hwc)
            results.append(self.to_detections(self.predict(source)))
        return results

    def to_detections(self, result: Any) -> Detections:
        """One Ultralytics ``Results`` as :class:`Detections` with category ids."""
        boxes = result.boxes
        keep, category_ids = map_labels(boxes.cls.cpu().numpy(), self.category_of)
        masks = keypoints = None
        if self.task == "segment":
            data = result.masks.data[keep] if result.masks is not None else torch.zeros(0, 1, 1)
            masks = masks_to_rles((data > 0.5).cpu().numpy())
        if self.task == "pose":
            keypoints = result.keypoints.data.cpu().double().numpy()[keep]
        return Detections(
            boxes=boxes.xyxy.cpu().double().numpy()[keep].reshape(-1, 4),
            scores=boxes.conf.cpu().double().numpy()[keep],
            category_ids=category_ids,
            masks=masks,
            keypoints=keypoints,
        )


def load_yolo(weights: str | Path) -> Any:
    """``ultralytics.YOLO(weights)``: a local ``.pt`` checkpoint, or the name of a released one
    (``yolov8n.pt``, ``yolo11n-seg.pt``), which Ultralytics downloads once (online only)."""
    ultralytics = require(
        "ultralytics", purpose="the ultralytics backend", install=ULTRALYTICS_HINT
    )
    path = Path(weights)
    if not path.is_file() and (len(path.parts) > 1 or path.suffix != ".pt"):
        raise InputError(f"Ultralytics weights {weights} do not exist")
    try:
        return ultralytics.YOLO(str(weights))
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"cannot load Ultralytics weights {weights} ({detail}); offline? download the "
            "checkpoint elsewhere and pass --weights PATH.pt"
        ) from None


def build_ultralytics(
    *,
    weights: str | Path,
    categories: Mapping[int, str] | None = None,
    device: str | torch.device | None = None,
    overrides: Sequence[str] = (),
) -> UltralyticsDetector:
    """Build the ultralytics backend from ``--weights MODEL.pt`` (required).

    ``overrides``: ``conf``, ``iou``, ``max_det`` (defaults 0.001, 0.7, 300: Ultralytics'
    validation settings) and ``imgsz`` (default: the checkpoint's), e.g. ``--set imgsz=1280``.
    """
    settings = PredictSettings().with_overrides(overrides)
    return UltralyticsDetector(load_yolo(weights), categories, settings, device)
