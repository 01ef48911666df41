"""torch helpers shared by both packages: the device a command runs on, eval mode for a block.

(The AP engine, :mod:`hfc_detect.evaluation`, never imports this module: it never imports torch.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from hfc_detect.utils.errors import InputError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch.device. None or ``auto``: the first CUDA GPU where there is one
    (under torchrun: this rank's GPU), else the CPU. A name torch does not know, or a CUDA
    device where CUDA is not available, raises :class:`InputError` here, not at the first
    tensor moved."""
    if device is None or str(device) == "auto":
        from hfc_detect.utils.distributed import default_device

        return torch.device(default_device() or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(
            f"device {device!r} is not a torch device (e.g. auto, cpu, cuda, cuda:1)"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: CUDA is not available here")
    return dev


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (all submodules) in eval mode for the block, then give every module back
    its own mode. (``model.train(was_training)`` would instead switch every submodule to the
    parent's mode, losing e.g. a BatchNorm deliberately frozen in eval mode.)"""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
