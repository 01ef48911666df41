"""torchvision's RetinaNet ResNet-50 FPN as a :class:`~hfc_detect.modeling.Detector`.

torchvision's COCO detection models predict 91 labels whose index *is* the COCO category id
(index 0 is the background, the 10 ids COCO never used are named ``"N/A"``), so labels
pass through unchanged; the test suite checks this against the weights' ``categories`` and the
COCO annotation files.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.common import parse_overrides
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.torch_tools import resolve_device

NUM_CLASSES = 91  # torchvision's COCO label space: label == COCO category id


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


class TorchvisionDetector:
    """Wrap a torchvision detection model with COCO's 91-index labels.

    Inputs are RGB float tensors on the 0..255 scale; the wrapper divides by 255 (torchvision
    models take [0, 1] images and resize and normalise them inside). Each image gets its own
    forward pass, as torchvision's COCO evaluation does (batch size 1): batching pads images to
    a common size, which changes detections near the borders and would make results depend on
    the batch composition.
    """

    channel_order = "RGB"

    def __init__(self, model: torch.nn.Module, device: str | torch.device | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        results = []
        for image in images:
            if image.ndim != 3 or image.shape[0] != 3:
                raise InputError(f"expected a (3, H, W) image tensor, got {tuple(image.shape)}")
            output = self.model([image.to(self.device, torch.float32) / 255.0])[0]
            results.append(
                Detections(
                    boxes=output["boxes"].cpu().double().numpy().reshape(-1, 4),
                    scores=output["scores"].cpu().double().numpy(),
                    category_ids=output["labels"].cpu().numpy().astype(np.int64),
                )
            )
        return results


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot load weights {path}: {exc}".splitlines()[0]) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # torchvision's reference training scripts save {"model": ...}
    if not isinstance(state, dict):
        raise InputError(f"weights {path}: expected a state dict, got {type(state).__name__}")
    return state


def build_torchvision(
    *,
    weights: str | Path | None = None,
    device: str | torch.device | None = None,
    overrides: Sequence[str] = (),
    config_file: str | None = None,
) -> TorchvisionDetector:
    """torchvision's ``retinanet_resnet50_fpn`` trained on COCO (36.4 box AP on val2017).

    ``weights``: a local state dict (``.pth``), or None for ``RetinaNet_ResNet50_FPN_Weights.
    COCO_V1`` fetched and cached by torchvision (needs the internet once). ``overrides``:
    ``KEY=VALUE`` keyword arguments of the model, e.g. ``min_size=512``, ``score_thresh=0.05``,
    ``detections_per_img=100`` (torchvision's defaults: 800, 1333, 0.05, 300).
    """
    from torchvision.models.detection import RetinaNet_ResNet50_FPN_Weights, retinanet_resnet50_fpn

    if config_file is not None:
        raise InputError("--config-file applies to the detectron2 backend only")
    kwargs = {key: _literal(value) for key, value in parse_overrides(overrides)}
    for fixed in ("weights", "weights_backbone", "num_classes"):
        if fixed in kwargs:
            raise InputError(f"--set {fixed}=... is not allowed for torchvision; use --weights")
    try:
        model = retinanet_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=NUM_CLASSES, **kwargs
        )
    except TypeError as exc:
        raise InputError(f"torchvision retinanet_resnet50_fpn: bad --set option ({exc})") from None
    if weights is None:
        coco = RetinaNet_ResNet50_FPN_Weights.COCO_V1
        try:
            state = coco.get_state_dict(progress=True, check_hash=True)
        except Exception as exc:
            raise InputError(
                f"cannot fetch torchvision's COCO weights {coco.url} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); offline? download "
                "that file elsewhere and pass --weights PATH"
            ) from None
    else:
        state = _load_state_dict(Path(weights))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputError(f"weights {weights} do not fit retinanet_resnet50_fpn: {detail}") from None
    return TorchvisionDetector(model, device)
