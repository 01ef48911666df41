"""Independent references shared by the classification tests: the LFC/HFC split in plain numpy
(the released code's recipe) and a tiny seeded CNN for the attack and Table 2 tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def numpy_split(images: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Channels-last (..., H, W, C) images -> (low, high) in float64: per channel
    ``fftshift(fft2)``, keep the disk of distance < r around (H/2, W/2), inverse, real part."""
    h, w = images.shape[-3:-1]
    yy, xx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    mask = (np.sqrt(yy**2 + xx**2) < radius)[..., None]
    axes = (-3, -2)
    z = np.fft.fftshift(np.fft.fft2(images.astype(np.float64), axes=axes), axes=axes)
    low = np.fft.ifft2(np.fft.ifftshift(z * mask, axes=axes), axes=axes).real
    return low, images - low


def max_scaled(images: np.ndarray) -> np.ndarray:
    """Each (H, W, C) image of a (N, H, W, C) batch divided by its own maximum."""
    return images / images.max(axis=(1, 2, 3), keepdims=True)


def tiny_model(seed: int = 0) -> nn.Module:
    """A seeded conv + BatchNorm + dense classifier for 3-channel images, in eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(96, 10),
    ).eval()
