"""The paper's low/high frequency split (Sec. 3.1): FFT, keep a centred disk of radius r.

This is the straightforward reference form; see ``split`` for the conventions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hfc_detect.utils.errors import InputError


def _check_radius(radius: float) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise InputError(f"radius must be a number, got {radius!r}") from None
    if not math.isfinite(r) or r <= 0:
        raise InputError(f"radius must be a finite number > 0, got {radius!r}")
    return r


def disk_mask(height: int, width: int, radius: float, *, inclusive: bool = False) -> np.ndarray:
    """Boolean (H, W) mask of the centred spectrum: True where the distance to (H//2, W//2) is
    ``< radius`` (``<=`` when ``inclusive``)."""
    rows = np.arange(height)[:, None] - height // 2
    cols = np.arange(width)[None, :] - width // 2
    dist = np.sqrt(rows**2 + cols**2)
    return dist <= radius if inclusive else dist < radius


def split(x: Any, radius: float, *, inclusive: bool = False) -> tuple[Any, Any]:
    """Split ``x`` into its low- and high-frequency components; ``low + high == x``.

    numpy input is channels-last, (H, W), (H, W, C) or (N, H, W, C), and gives float64.
    torch input is channels-first, (C, H, W) or (N, C, H, W), and gives the input's float dtype
    on the input's device.
    """
    r = _check_radius(radius)
    if isinstance(x, np.ndarray):
        if x.ndim < 2 or x.ndim > 4:
            raise InputError(f"expected (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
        img = x.astype(np.float64)
        axes = (0, 1) if img.ndim in (2, 3) else (1, 2)
        h, w = img.shape[axes[0]], img.shape[axes[1]]
        mask = disk_mask(h, w, r, inclusive=inclusive)
        shape = [1] * img.ndim
        shape[axes[0]], shape[axes[1]] = h, w
        mask = mask.reshape(shape)
        z = np.fft.fftshift(np.fft.fft2(img, axes=axes), axes=axes)
        low = np.fft.ifft2(np.fft.ifftshift(z * mask, axes=axes), axes=axes).real
        return low, img - low
    import torch

    if isinstance(x, torch.Tensor):
        if x.ndim not in (3, 4):
            raise InputError(f"expected (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else torch.float32
        img = x.to(dtype)
        h, w = img.shape[-2:]
        mask = torch.from_numpy(disk_mask(h, w, r, inclusive=inclusive)).to(img.device)
        z = torch.fft.fftshift(torch.fft.fft2(img), dim=(-2, -1))
        low = torch.fft.ifft2(torch.fft.ifftshift(z * mask, dim=(-2, -1))).real.to(dtype)
        return low, img - low
    raise InputError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
