"""Turning LFC/HFC arrays into model inputs: one function, three named modes."""

from __future__ import annotations

from typing import Any

import numpy as np

from hfc_detect.utils.errors import InputError

PIXEL_MODES = ("raw", "clip", "max")


def _image_axes(ndim: int, *, torch_layout: bool) -> tuple[int, ...]:
    """The axes that make up one image: everything but the batch axis of a 4-D input."""
    if torch_layout:
        if ndim not in (3, 4):
            raise InputError(f"expected (C, H, W) or (N, C, H, W), got {ndim} dimensions")
    elif ndim not in (2, 3, 4):
        raise InputError(f"expected (H, W), (H, W, C) or (N, H, W, C), got {ndim} dimensions")
    return tuple(range(1, ndim)) if ndim == 4 else tuple(range(ndim))


def check_pixel_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`PIXEL_MODES`, else InputError."""
    if mode not in PIXEL_MODES:
        raise InputError(f"unknown pixel mode {mode!r}; choose one of {', '.join(PIXEL_MODES)}")
    return mode


def to_pixels(x: Any, mode: str) -> Any:
    """Map split output to pixel values for a model, by ``mode``:

    - ``raw``: as float, untouched (values may be negative or above 255);
    - ``clip``: clipped to 0..255;
    - ``max``: each image divided by its own maximum (over all its pixels and channels), then
      multiplied by 255, as the authors' released code does before training on or evaluating
      LFC/HFC data. Negative values stay negative. An image whose maximum is <= 0 (e.g. all
      zero) is returned unchanged instead of being divided by zero or flipped in sign. An image
      that is zero up to rounding (the HFC of a constant image) has its rounding noise
      stretched to 255, as in the released code.

    Layouts follow :func:`~hfc_detect.frequency.split`: numpy (H, W), (H, W, C) are one image
    and (N, H, W, C) a batch, giving float64; torch (C, H, W) is one image and (N, C, H, W) a
    batch, giving the input's float dtype (float32 for integer input) on its device.
    """
    check_pixel_mode(mode)
    if isinstance(x, np.ndarray):
        axes = _image_axes(x.ndim, torch_layout=False)
        img = x.astype(np.float64)
        if mode == "clip":
            return np.clip(img, 0.0, 255.0, out=img)
        if mode == "max":
            peak = img.max(axis=axes, keepdims=True)
            scale = np.where(peak > 0, 255.0 / np.where(peak > 0, peak, 1.0), 1.0)
            img *= scale
        return img
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(x, torch.Tensor):
        raise InputError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
    axes = _image_axes(x.ndim, torch_layout=True)
    img = x if x.is_floating_point() else x.to(torch.float32)
    if mode == "clip":
        return img.clamp(0.0, 255.0)
    if mode == "max":
        peak = img.amax(dim=axes, keepdim=True)
        positive = peak > 0
        return img * torch.where(positive, 255.0 / torch.where(positive, peak, 1.0), 1.0)
    return img.clone()
