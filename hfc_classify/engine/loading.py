"""A trained classifier from an architecture name and a checkpoint, checked against the data."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet
from hfc_classify.models import build_model, load_weights
from hfc_detect.utils.errors import InputError


def _saved_config(path: Path) -> dict:
    """The training settings stored in one of our run checkpoints ({} for other checkpoints)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return {}
    config = obj.get("config") if isinstance(obj, dict) else None
    return config if isinstance(config, dict) else {}


def load_classifier(
    arch: str,
    checkpoint: str | Path,
    data: ImageSet,
    *,
    batch_norm: bool | None = None,
    num_classes: int | None = None,
) -> nn.Module:
    """``arch`` with the weights of ``checkpoint``, in eval mode, able to classify ``data``.

    ``batch_norm`` and ``num_classes`` default to what a run checkpoint of this package records
    (else the architecture's default and 10). Mismatches raise :class:`InputError`."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: checkpoint not found")
    saved = _saved_config(checkpoint)
    options = {}
    if batch_norm is None and saved.get("arch") == arch:
        batch_norm = saved.get("batch_norm")
    if batch_norm is not None:
        options["batch_norm"] = batch_norm
    classes = num_classes or int(saved.get("num_classes") or 10)
    try:
        model = build_model(arch, num_classes=classes, in_channels=data.channels, **options)
    except TypeError:
        raise InputError(f"architecture {arch!r} has no BatchNorm switch") from None
    load_weights(model, checkpoint, arch=arch)
    model.eval()
    try:
        with torch.no_grad():
            model(data.tensor()[:1])
    except RuntimeError:
        raise InputError(
            f"{data.source}: images of shape {data.images.shape[1:]} do not fit {arch}"
        ) from None
    if data.labels.max() >= classes:
        raise InputError(
            f"{data.source}: label {data.labels.max()} but {arch} has {classes} classes"
        )
    return model
