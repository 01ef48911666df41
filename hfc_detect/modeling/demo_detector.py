"""The bundled demo detector: a small CenterNet-style network trained on the demo dataset.

A CPU-fast, pure-torch model (about 0.4 M parameters) with a stride-4 output: one centre
heatmap per category, plus box size (log width, log height in output cells) and sub-cell
centre offset. Peaks are taken by 3 x 3 max-pool non-maximum suppression, as in CenterNet
(Zhou et al., "Objects as Points", 2019). ``tools/train_demo_detector.py`` trains it; the
weights and their metadata (recipe, seeds, measured AP) ship in ``hfc_detect/assets``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_detect.modeling.base import Detections
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path

WEIGHTS_FILE = "demo_detector.pt"
METADATA_FILE = "demo_detector.json"
STRIDE = 4
INPUT_LONG_SIDE = 512  # the demo's image width: inputs are scaled so their long side is this
MAX_DETECTIONS = 100  # COCO's maxDets
_PAD_TO = 32  # the coarsest feature map's stride
_MEAN, _STD = 127.5, 64.0  # pixel normalisation (inputs on the 0..255 scale)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class DemoNet(nn.Module):
    """Backbone to stride 32, top-down merge back to stride 4, CenterNet heads."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        w = width
        self.num_classes = num_classes
        self.stem = nn.Sequential(_conv(3, 16, 2), _conv(16, w, 2), _conv(w, w))  # stride 4
        self.down8 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.down16 = nn.Sequential(_conv(2 * w, 3 * w, 2), _conv(3 * w, 3 * w))
        self.down32 = nn.Sequential(_conv(3 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.lateral = nn.ModuleList(nn.Conv2d(c, w, 1) for c in (w, 2 * w, 3 * w, 4 * w))
        self.merge = _conv(w, w)
        self.heatmap = nn.Sequential(_conv(w, w), nn.Conv2d(w, num_classes, 1))
        self.box = nn.Sequential(_conv(w, w), nn.Conv2d(w, 4, 1))  # log w, log h, dx, dy
        self.heatmap[-1].bias.data.fill_(-4.6)  # start at p = 0.01, as CenterNet does

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised (N, 3, H, W) with H, W multiples of 32 -> (heatmap logits, box)."""
        c4 = self.stem(x)
        c8 = self.down8(c4)
        c16 = self.down16(c8)
        c32 = self.down32(c16)
        top = self.lateral[3](c32)
        for feat, lateral in zip((c16, c8, c4), list(self.lateral)[2::-1], strict=True):
            top = lateral(feat) + F.interpolate(top, size=feat.shape[-2:], mode="nearest")
        p4 = self.merge(top)
        return self.heatmap(p4), self.box(p4)


def decode(
    heat_logits: torch.Tensor, box: torch.Tensor, k: int = MAX_DETECTIONS
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image: (boxes x0, y0, x1, y1 in network-input pixels, scores, class indices)."""
    heat = torch.sigmoid(heat_logits)
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    n, c, h, w = heat.shape
    scores, flat = peaks.reshape(n, -1).topk(min(k, c * h * w))
    cls = torch.div(flat, h * w, rounding_mode="floor")
    cell = flat % (h * w)
    ys, xs = torch.div(cell, w, rounding_mode="floor"), cell % w
    out = []
    for i in range(n):
        b = box[i, :, ys[i], xs[i]]  # (4, k)
        cx = (xs[i].float() + 0.5 + b[2]) * STRIDE
        cy = (ys[i].float() + 0.5 + b[3]) * STRIDE
        bw, bh = torch.exp(b[0]) * STRIDE, torch.exp(b[1]) * STRIDE
        boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=1)
        out.append((boxes, scores[i], cls[i]))
    return out


def prepare(
    images: list[torch.Tensor], device: torch.device, long_side: int | None = INPUT_LONG_SIDE
) -> tuple[torch.Tensor, list[float]]:
    """Scale each (3, H, W) image so its long side is ``long_side`` (identity on demo images;
    ``None`` keeps every size), normalise, and zero-pad into one batch whose sides are
    multiples of 32. Returns the batch and each image's scale factor."""
    scaled, scales = [], []
    for img in images:
        if img.ndim != 3 or img.shape[0] != 3:
            raise InputError(f"expected a (3, H, W) image tensor, got shape {tuple(img.shape)}")
        x = img.to(device=device, dtype=torch.float32)
        scale = 1.0 if long_side is None else long_side / max(x.shape[-2:])
        if scale != 1.0:
            size = [max(1, round(s * scale)) for s in x.shape[-2:]]
            x = F.interpolate(
                x[None], size=size, mode="bilinear", align_corners=False, antialias=scale < 1
            )[0]
        scaled.append((x - _MEAN) / _STD)
        scales.append(scale)
    height = max(x.shape[-2] for x in scaled)
    width = max(x.shape[-1] for x in scaled)
    height, width = -(-height // _PAD_TO) * _PAD_TO, -(-width // _PAD_TO) * _PAD_TO
    batch = torch.zeros(len(scaled), 3, height, width, device=device)
    for i, x in enumerate(scaled):
        batch[i, :, : x.shape[-2], : x.shape[-1]] = x
    return batch, scales


class DemoDetector:
    """The demo network behind the :class:`~hfc_detect.modeling.Detector` protocol."""

    channel_order: Literal["RGB", "BGR"] = "RGB"

    def __init__(self, net: DemoNet, category_ids: list[int], device: str | torch.device = "cpu"):
        if len(category_ids) != net.num_classes:
            raise InputError(
                f"{len(category_ids)} category ids for a network with {net.num_classes} classes"
            )
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.category_ids = np.asarray(category_ids, dtype=np.int64)

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        """Detect objects in float (3, H, W) RGB images on the 0..255 scale."""
        if not images:
            return []
        batch, scales = prepare(images, self.device)
        heat, box = self.net(batch)
        results = []
        for img, scale, (boxes, scores, cls) in zip(images, scales, decode(heat, box), strict=True):
            height, width = img.shape[-2:]
            boxes = boxes / scale
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
            results.append(
                Detections(
                    boxes=boxes.cpu().numpy().astype(np.float64),
                    scores=scores.cpu().numpy().astype(np.float64),
                    category_ids=self.category_ids[cls.cpu().numpy()],
                )
            )
        return results


def _asset(name: str) -> Path:
    return Path(str(resources.files("hfc_detect.assets").joinpath(name)))


def load_metadata() -> dict[str, Any]:
    """The shipped weights' metadata: architecture, categories, training recipe, measured AP."""
    return json.loads(_asset(METADATA_FILE).read_text(encoding="utf-8"))


def save_checkpoint(path: str | Path, net: DemoNet, category_ids: list[int], width: int) -> str:
    """Save weights as float16 (the file stays small) with what is needed to rebuild the net,
    atomically; the same weights give the same bytes. Returns the file's SHA-256."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    buffer = io.BytesIO()  # a fixed archive name inside the file, whatever the path
    torch.save({"state_dict": state, "category_ids": list(category_ids), "width": width}, buffer)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def build_demo_detector(
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    overrides: Sequence[str] = (),
) -> DemoDetector:
    """Backend ``demo``: the shipped weights by default, or a checkpoint that
    ``tools/train_demo_detector.py`` wrote. It has no settings: ``overrides`` are refused
    rather than silently ignored (and ``--config-file`` by the registry)."""
    if overrides:
        raise InputError(f"--set {overrides[0]!r}: the demo backend has no settings")
    path = Path(weights) if weights is not None else _asset(WEIGHTS_FILE)
    if not path.is_file():
        raise InputError(f"demo detector weights not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        net = DemoNet(len(ckpt["category_ids"]), width=int(ckpt["width"]))
        state = {
            k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()
        }
        net.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a demo detector checkpoint ({exc})") from None
    return DemoDetector(net, [int(c) for c in ckpt["category_ids"]], device=device)
