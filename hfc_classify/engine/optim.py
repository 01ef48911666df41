"""Optimizers by name (the five of the paper's Sec. 5.1), with the learning rate given."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hfc_classify.engine.config import OPTIMIZERS
from hfc_detect.utils.errors import InputError


def build_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    *,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """``sgd`` (with ``momentum``), ``adam``, ``adagrad``, ``adadelta`` or ``rmsprop``.

    Other settings are torch's defaults (TF1's differ slightly, e.g. Adam's epsilon 1e-8 in both,
    RMSprop's decay 0.99 in torch vs 0.9 in TF1)."""
    name = name.lower()
    wd = {"weight_decay": weight_decay}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, **wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **wd)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, **wd)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, **wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, **wd)
    raise InputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
