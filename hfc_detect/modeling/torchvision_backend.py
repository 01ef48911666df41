"""torchvision's COCO models as :class:`~hfc_detect.modeling.Detector`: RetinaNet ResNet-50 FPN
(backend ``torchvision``), Mask R-CNN (``torchvision-maskrcnn``: boxes and masks) and keypoint
R-CNN (``torchvision-keypointrcnn``: person boxes and 17 keypoints).

torchvision's COCO detection models predict 91 labels whose index *is* the COCO category id
(index 0 is the background, the 10 ids COCO never used are named ``"N/A"``), so labels
pass through unchanged; the test suite checks this against the weights' ``categories`` and the
COCO annotation files. Keypoint R-CNN has two labels, background and person (COCO id 1).
Masks come out as probabilities at the image's resolution; a pixel belongs to the mask where
it is > 0.5 (torchvision's reference evaluation), encoded as COCO compressed RLE.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.common import masks_to_rles, parse_overrides
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
            keypoints = output.get("keypoints")
            results.append(
                Detections(
                    boxes=output["boxes"].cpu().double().numpy().reshape(-1, 4),
                    scores=output["scores"].cpu().double().numpy(),
                    category_ids=output["labels"].cpu().numpy().astype(np.int64),
                    masks=_rles(output["masks"]) if "masks" in output else None,
                    keypoints=None if keypoints is None else keypoints.cpu().double().numpy(),
                )
            )
        return results


def _rles(masks: torch.Tensor) -> list[dict]:
    """(N, 1, H, W) mask probabilities -> COCO compressed RLEs of the pixels > 0.5."""
    return masks_to_rles((masks[:, 0] > 0.5).cpu().numpy())


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


@dataclass(frozen=True)
class _Arch:
    """One torchvision COCO model: its builder, COCO weights and label count."""

    name: str  # torchvision's function name
    weights: str  # the weights enum's name in torchvision.models.detection
    num_classes: int


_RETINANET = _Arch("retinanet_resnet50_fpn", "RetinaNet_ResNet50_FPN_Weights", NUM_CLASSES)
_MASKRCNN = _Arch("maskrcnn_resnet50_fpn", "MaskRCNN_ResNet50_FPN_Weights", NUM_CLASSES)
_KEYPOINTRCNN = _Arch("keypointrcnn_resnet50_fpn", "KeypointRCNN_ResNet50_FPN_Weights", 2)


def build_torchvision(**options: Any) -> TorchvisionDetector:
    """torchvision's ``retinanet_resnet50_fpn`` trained on COCO (36.4 box AP on val2017).

    ``weights``: a local state dict (``.pth``), ``"random"`` (random initialisation, no
    download: for trying the pipeline offline), or None for the ``COCO_V1`` weights fetched and
    cached by torchvision (needs the internet once). ``overrides``: ``KEY=VALUE`` keyword
    arguments of the model, e.g. ``min_size=512``, ``score_thresh=0.05``,
    ``detections_per_img=100`` (torchvision's defaults: 800, 1333, 0.05, 300).
    """
    return _build(_RETINANET, **options)


def build_torchvision_maskrcnn(**options: Any) -> TorchvisionDetector:
    """torchvision's ``maskrcnn_resnet50_fpn`` (COCO_V1: 37.9 box AP, 34.6 mask AP); boxes and
    masks. Options as :func:`build_torchvision` (e.g. ``box_score_thresh=0.05``)."""
    return _build(_MASKRCNN, **options)


def build_torchvision_keypointrcnn(**options: Any) -> TorchvisionDetector:
    """torchvision's ``keypointrcnn_resnet50_fpn`` (COCO_V1: 54.6 box AP, 65.0 keypoint AP);
    person boxes and 17 keypoints. Options as :func:`build_torchvision`."""
    return _build(_KEYPOINTRCNN, **options)


def _build(
    arch: _Arch,
    *,
    weights: str | Path | None = None,
    device: str | torch.device | None = None,
    overrides: Sequence[str] = (),
) -> TorchvisionDetector:
    from torchvision.models import detection

    kwargs = {key: _literal(value) for key, value in parse_overrides(overrides)}
    for fixed in ("weights", "weights_backbone", "num_classes"):
        if fixed in kwargs:
            raise InputError(f"--set {fixed}=... is not allowed for torchvision; use --weights")
    try:
        model = getattr(detection, arch.name)(
            weights=None, weights_backbone=None, num_classes=arch.num_classes, **kwargs
        )
    except TypeError as exc:
        raise InputError(f"torchvision {arch.name}: bad --set option ({exc})") from None
    if weights == "random":
        return TorchvisionDetector(model, device)
    if weights is None:
        coco = getattr(detection, arch.weights).COCO_V1
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
        raise InputError(f"weights {weights} do not fit {arch.name}: {detail}") from None
    return TorchvisionDetector(model, device)
