"""Load and save model weights, accepting the common checkpoint layouts."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from hfc_detect.utils.errors import InputError


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The weights in ``path``: a bare state dict, or one under ``state_dict``/``model``, with any
    ``module.`` prefix (from DataParallel) removed."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable files
        raise InputError(
            f"{path}: not a readable torch checkpoint ({exc.__class__.__name__})"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: no state dict of tensors found")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_weights(model: nn.Module, path: str | os.PathLike, *, arch: str = "") -> nn.Module:
    """Load ``path`` into ``model`` strictly; a mismatch raises :class:`InputError` saying how."""
    state = read_state_dict(path)
    own = model.state_dict()
    # Checkpoints from old torch releases lack BatchNorm's step counter; it is not a weight.
    missing = sorted(k for k in set(own) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        what = arch or type(model).__name__
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise InputError(f"{path}: checkpoint does not fit architecture {what}: {'; '.join(parts)}")
    model.load_state_dict(state, strict=False)
    return model
