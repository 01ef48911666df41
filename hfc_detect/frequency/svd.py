"""Sec. 8's alternative split: per channel, the top-k singular values against the rest."""

from __future__ import annotations

import operator
import sys
from typing import Any

import numpy as np

from hfc_detect.utils.errors import InputError


def check_rank(k: Any) -> int:
    """``k`` as an int; InputError unless it is an integer >= 0."""
    if isinstance(k, bool):
        raise InputError(f"k must be an integer >= 0, got {k!r}")
    try:
        rank = operator.index(k)
    except TypeError:
        raise InputError(f"k must be an integer >= 0, got {k!r}") from None
    if rank < 0:
        raise InputError(f"k must be an integer >= 0, got {k!r}")
    return rank


def svd_split(x: Any, k: int) -> tuple[Any, Any]:
    """Split ``x`` into ``top`` (each channel rebuilt from its k largest singular values) and
    ``rest = x - top``, so ``top + rest == x``.

    Same conventions as :func:`~hfc_detect.frequency.split`: numpy channels-last (H, W),
    (H, W, C) or (N, H, W, C) giving float64; torch channels-first (C, H, W) or (N, C, H, W)
    giving the input's float dtype (float32 for integers; float16/bfloat16 are decomposed in
    float32) on its device. ``k`` = 0 gives ``top`` = 0; ``k`` >= min(H, W) gives ``top`` = x.
    """
    rank = check_rank(k)
    if isinstance(x, np.ndarray):
        if x.ndim not in (2, 3, 4):
            raise InputError(f"expected (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
        img = x.astype(np.float64)
        # Stack the channels as matrices: (..., H, W) with H, W the last two axes.
        mats = np.moveaxis(img, -1, -3) if x.ndim >= 3 else img
        u, s, vt = np.linalg.svd(mats, full_matrices=False)
        top = (u[..., :rank] * s[..., None, :rank]) @ vt[..., :rank, :]
        if x.ndim >= 3:
            top = np.moveaxis(top, -3, -1)
        return top, img - top
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(x, torch.Tensor):
        raise InputError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise InputError(f"expected (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    work_dtype = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32
    img = x.to(work_dtype)
    u, s, vh = torch.linalg.svd(img, full_matrices=False)
    top = ((u[..., :rank] * s[..., None, :rank]) @ vh[..., :rank, :]).to(out_dtype)
    img = img.to(out_dtype)
    return top, img - top
