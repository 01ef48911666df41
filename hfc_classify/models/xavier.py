"""Xavier (Glorot) initialisation, as the paper's vanilla set-up and TF1's default layers use."""

from __future__ import annotations

from torch import nn

from hfc_detect.utils.errors import InputError


def xavier_init(model: nn.Module) -> nn.Module:
    """Glorot-uniform weights for every convolution and dense layer, zero biases; BatchNorm keeps
    scale 1 and offset 0. Returns ``model``."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def norm_layer(channels: int, batch_norm: bool) -> nn.Module:
    """``BatchNorm2d(channels)`` when ``batch_norm``, else the identity."""
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def check_dropout(p: float) -> float:
    """``p`` as a float in [0, 1); anything else is an :class:`InputError`."""
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise InputError(f"dropout must be in [0, 1), got {p}")
    return p
