"""A trained classifier from an architecture name and a checkpoint, checked against the data."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet
from hfc_classify.models import build_model, load_weights
from hfc_detect.utils.errors import InputError


def saved_config(path: Path) -> dict:
    """The training settings stored in one of our run checkpoints ({} for other checkpoints)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return {}
    config = obj.get("config") if isinstance(obj, dict) else None
    return config if isinstance(config, dict) else {}


def build_from_checkpoint(
    arch: str,
    checkpoint: str | Path,
    *,
    in_channels: int = 3,
    batch_norm: bool | None = None,
    num_classes: int | None = None,
) -> nn.Module:
    """``arch`` with the weights of ``checkpoint`` loaded strictly, in eval mode.

    ``batch_norm`` and ``num_classes`` default to what a run checkpoint of this package records;
    else 10 classes and the architecture's BatchNorm default, then either setting, whichever
    fits. Nothing fitting raises the :class:`InputError` of the first try."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: checkpoint not found")
    saved = saved_config(checkpoint)
    if batch_norm is None and saved.get("arch") == arch:
        batch_norm = saved.get("batch_norm")
    classes = num_classes or int(saved.get("num_classes") or 10)
    if batch_norm is None:
        choices: list[dict] = [{}, {"batch_norm": False}, {"batch_norm": True}]
    else:
        choices = [{"batch_norm": batch_norm}]
    first_error = None
    for options in choices:
        try:
            model = build_model(arch, num_classes=classes, in_channels=in_channels, **options)
        except TypeError:
            if batch_norm is None:
                continue  # the architecture has no BatchNorm switch: its default was tried
            raise InputError(f"architecture {arch!r} has no BatchNorm switch") from None
        try:
            load_weights(model, checkpoint, arch=arch)
        except InputError as exc:
            first_error = first_error or exc
            continue
        return model.eval()
    raise first_error or InputError(f"{checkpoint}: checkpoint does not fit architecture {arch}")


def load_classifier(
    arch: str,
    checkpoint: str | Path,
    data: ImageSet,
    *,
    batch_norm: bool | None = None,
    num_classes: int | None = None,
) -> nn.Module:
    """``arch`` with the weights of ``checkpoint`` (see :func:`build_from_checkpoint`), in eval
    mode, checked to classify ``data``. Mismatches raise :class:`InputError`."""
    model = build_from_checkpoint(
        arch,
        checkpoint,
        in_channels=data.channels,
        batch_norm=batch_norm,
        num_classes=num_classes,
    )
    try:
        with torch.no_grad():
            classes = model(data.tensor()[:1]).shape[1]
    except RuntimeError:
        raise InputError(
            f"{data.source}: images of shape {data.images.shape[1:]} do not fit {arch}"
        ) from None
    if data.labels.max() >= classes:
        raise InputError(
            f"{data.source}: label {data.labels.max()} but {arch} has {classes} classes"
        )
    return model
