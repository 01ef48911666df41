"""Kernel smoothing of the paper's Eq. 3: robustness without retraining (Sec. 6.3).

Each kernel value becomes itself plus ``rho`` times the sum of its 8 spatial neighbours, the
neighbours outside the kernel duplicating the boundary values. That is a same-size 2-D
convolution of every kernel slice with ``[[rho, rho, rho], [rho, 1, rho], [rho, rho, rho]]``
under a symmetric boundary, as the authors' released code computes it. The weights are not
renormalised (a rho of 1 sums 9 values), exactly as Eq. 3 reads.

That scaling is harmless for the paper's network (BatchNorm off: ReLU networks without
normalisation pass a scale through), but a BatchNorm layer right after the convolution, with
its fixed running statistics, sees activations up to ``1 + 8 rho`` times too large: on
He et al.'s ResNet-20, rho = 1 drops clean accuracy to chance. ``rescale=True`` divides by
the filter's sum ``1 + 8 rho`` (a weighted neighbourhood mean), which keeps the kernels' mean
response and so the BatchNorm statistics valid.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hfc_detect.utils.errors import InputError

Layers = Literal["first", "all"]
LAYERS: tuple[Layers, ...] = ("first", "all")


def smoothing_filter(rho: float) -> torch.Tensor:
    """The 3x3 filter of Eq. 3: 1 in the centre, ``rho`` on the 8 neighbours."""
    filt = torch.full((3, 3), float(rho), dtype=torch.float64)
    filt[1, 1] = 1.0
    return filt


def smooth_kernels(weight: torch.Tensor, rho: float, *, rescale: bool = False) -> torch.Tensor:
    """Eq. 3 applied to every 2-D slice of ``weight`` (..., kh, kw); a new tensor, same shape,
    dtype and device; with ``rescale`` divided by ``1 + 8 rho``. ``rho = 0`` returns an
    unchanged copy."""
    if weight.ndim < 2:
        raise InputError(f"kernels need at least 2 dimensions, got shape {tuple(weight.shape)}")
    if not rho >= 0:
        raise InputError(f"rho must be >= 0, got {rho}")
    w = weight.detach()
    slices = w.reshape(-1, 1, *w.shape[-2:])
    # One-pixel replicate padding is the symmetric boundary for a 3x3 filter.
    padded = F.pad(slices.to(torch.float64), (1, 1, 1, 1), mode="replicate")
    filt = smoothing_filter(rho).to(padded.device).view(1, 1, 3, 3)
    # The filter is symmetric, so cross-correlation (conv2d) equals convolution.
    out = F.conv2d(padded, filt)
    if rescale:
        out = out / (1 + 8 * rho)
    return out.reshape(w.shape).to(dtype=w.dtype)


def _convolutions(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The model's first convolution in definition order (the one that sees the pixels)."""
    convs = _convolutions(model)
    if not convs:
        raise InputError(f"{type(model).__name__} has no Conv2d layer to smooth")
    return convs[0][1]


def smooth_model(
    model: nn.Module, rho: float, *, layers: Layers = "first", rescale: bool = False
) -> nn.Module:
    """A deep copy of ``model`` whose first convolution (``layers="first"``, the paper's and the
    released code's choice) or every convolution (``"all"``) has Eq. 3-smoothed kernels
    (``rescale``: divided by ``1 + 8 rho``). The given model is never changed."""
    if layers not in LAYERS:
        raise InputError(f"layers must be one of {', '.join(LAYERS)}, got {layers!r}")
    first_conv(model)  # fail early, before copying, on models without convolutions
    smoothed = copy.deepcopy(model)
    convs = [m for _, m in _convolutions(smoothed)]
    with torch.no_grad():
        for conv in convs[:1] if layers == "first" else convs:
            conv.weight.copy_(smooth_kernels(conv.weight, rho, rescale=rescale))
    return smoothed


def high_frequency_energy(weight: torch.Tensor) -> float:
    """Share of the kernels' spectral energy outside the DC term: ``sum |FFT2|^2`` without the
    (0, 0) bin over the total, pooled over all 2-D slices. 0 for constant kernels."""
    spectrum = torch.fft.fft2(weight.detach().to(torch.float64)).abs().square()
    total = spectrum.sum()
    if total == 0:
        return 0.0
    return float((total - spectrum[..., 0, 0].sum()) / total)
