"""Hugging Face transformers object-detection models (DETR, Deformable/Conditional DETR,
RT-DETR v1/v2, D-FINE, YOLOS, ...) as a Detector.

Each image takes the model's own path, one image per forward pass: its ``AutoImageProcessor``
(resize, rescale by 1/255, normalisation and padding as the checkpoint's processor config says),
``AutoModelForObjectDetection``, then ``post_process_object_detection`` at threshold 0 with the
original image size, so every (query, class) pair the model's post-processing returns is kept;
the 100 best-scoring per image are scored (COCO's ``maxDets``).

Floats: the processor is loaded with its torchvision backend, whose steps (``resize`` on
tensors, antialiased bilinear for the DETR family, then multiply and normalise) accept float
tensors and keep them float; the PIL backend would round them to uint8. Original images (floats
holding uint8 values) are handed over as uint8 tensors, exactly as an image read from disk;
LFC/HFC images as float32, unrounded and unclipped (the tests check both).

Labels map to the annotation file's categories by ``config.id2label`` names
(:mod:`hfc_detect.modeling.class_names`); DETR's ``N/A`` placeholder classes are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.class_names import class_to_category, map_labels
from hfc_detect.modeling.common import as_exact_uint8, parse_overrides
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import require
from hfc_detect.utils.torch_tools import resolve_device

TRANSFORMERS_HINT = (
    "install it with pip install transformers (or this project's [transformers] extra)"
)


@dataclass(frozen=True)
class PostprocessSettings:
    """``threshold`` of ``post_process_object_detection`` and the detections kept per image."""

    threshold: float = 0.0
    max_detections: int = 100

    @classmethod
    def from_overrides(cls, overrides: Sequence[str]) -> PostprocessSettings:
        """Defaults with ``KEY=VALUE`` overrides (``--set max_detections=300``) applied."""
        values: dict[str, Any] = {}
        kinds = {"threshold": float, "max_detections": int}
        for key, value in parse_overrides(overrides):
            if key not in kinds:
                raise InputError(f"--set {key}: transformers options are {', '.join(kinds)}")
            try:
                values[key] = kinds[key](value)
            except ValueError:
                raise InputError(f"--set {key}={value}: not a {kinds[key].__name__}") from None
        settings = cls(**values)
        if not 0 <= settings.threshold < 1 or settings.max_detections < 1:
            raise InputError(
                "transformers: need 0 <= threshold < 1 and max_detections >= 1 (got "
                f"{settings.threshold}, {settings.max_detections})"
            )
        return settings


class TransformersDetector:
    """A transformers object-detection model with its image processor; inputs are RGB
    (C, H, W) tensors on the 0..255 scale."""

    channel_order = "RGB"

    def __init__(
        self,
        model: Any,
        processor: Any,
        categories: Mapping[int, str] | None,
        settings: PostprocessSettings = PostprocessSettings(),
        device: str | torch.device | None = None,
    ) -> None:
        if getattr(processor, "backend", None) != "torchvision":
            raise InputError(
                f"transformers: {type(processor).__name__} is not a torchvision-backend image "
                "processor; the PIL one would round LFC/HFC images to uint8"
            )
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.processor = processor
        self.settings = settings
        self.category_of = class_to_category(
            model.config.id2label, categories, backend="transformers"
        )

    @torch.inference_mode()
    def predict(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The processor, the model and ``post_process_object_detection`` on one RGB (3, H, W)
        tensor (uint8 or float32 on the 0..255 scale): scores, labels and boxes."""
        inputs = self.processor(
            images=[image], return_tensors="pt", input_data_format="channels_first"
        )
        outputs = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        (result,) = self.processor.post_process_object_detection(
            outputs, threshold=self.settings.threshold, target_sizes=[tuple(image.shape[-2:])]
        )
        return result

    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        results = []
        for image in images:
            if image.ndim != 3 or image.shape[0] != 3:
                raise InputError(f"expected a (3, H, W) image tensor, got {tuple(image.shape)}")
            chw = image.detach().to("cpu", torch.float32)
            exact = as_exact_uint8(chw.numpy())
            pixels = torch.from_numpy(exact) if exact is not None else chw
            results.append(self.to_detections(self.predict(pixels)))
        return results

    def to_detections(self, result: Mapping[str, torch.Tensor]) -> Detections:
        """The best ``max_detections`` of one post-processed result, labels as category ids."""
        scores = result["scores"].cpu().double()
        order = torch.argsort(scores, descending=True, stable=True)[: self.settings.max_detections]
        labels = result["labels"].cpu().numpy()[order.numpy()]
        keep, category_ids = map_labels(labels, self.category_of)
        rows = order.numpy()[keep]
        return Detections(
            boxes=result["boxes"].cpu().double().numpy()[rows].reshape(-1, 4),
            scores=scores.numpy()[rows],
            category_ids=category_ids,
        )


def load_pretrained(weights: str | Path) -> tuple[Any, Any]:
    """(model, image processor) from a ``save_pretrained`` folder or a Hub model id (e.g.
    ``PekingU/rtdetr_r50vd``, fetched and cached by transformers; online only)."""
    transformers = require(
        "transformers", purpose="the transformers backend", install=TRANSFORMERS_HINT
    )
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(
            str(weights), backend="torchvision"
        )
        model = transformers.AutoModelForObjectDetection.from_pretrained(str(weights))
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise InputError(
            f"cannot load transformers model {weights} ({detail}); offline? download it "
            "elsewhere (save_pretrained) and pass --weights DIR"
        ) from None
    return model, processor


def build_transformers(
    *,
    weights: str | Path,
    categories: Mapping[int, str] | None = None,
    device: str | torch.device | None = None,
    overrides: Sequence[str] = (),
) -> TransformersDetector:
    """Build the transformers backend from ``--weights DIR_OR_MODEL_ID`` (required).

    ``overrides``: ``threshold`` (default 0: every query) and ``max_detections`` (default 100).
    """
    settings = PostprocessSettings.from_overrides(overrides)
    model, processor = load_pretrained(weights)
    return TransformersDetector(model, processor, categories, settings, device)
