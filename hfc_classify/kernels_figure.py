"""Fig. 7: the first-layer kernels of several models (and their smoothed versions) as images.

Each panel shows one model's first convolution as a mosaic: a row per input channel, a column
per kernel, each cell the kh x kw weights. Colours are diverging and centred at 0 with one
symmetric scale per panel (smoothing with Eq. 3 scales the weights, so panels are not
comparable in absolute value); the label gives the share of spectral energy outside the DC
term, which falls as the kernels get smoother.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hfc_classify.models import build_model, read_state_dict
from hfc_classify.smoothing import first_conv, high_frequency_energy
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path

FORMATS = ("png", "pdf", "svg")


def first_layer_weight(arch: str, checkpoint: str | os.PathLike) -> torch.Tensor:
    """The first convolution's weights in ``checkpoint``, which must load strictly into
    ``arch`` built with the checkpoint's input channels (BatchNorm and classes as
    :func:`~hfc_classify.engine.loading.build_from_checkpoint` finds them)."""
    from hfc_classify.engine.loading import build_from_checkpoint

    probe = build_model(arch)
    conv = first_conv(probe)
    key = next(n for n, m in probe.named_modules() if m is conv) + ".weight"
    weight = read_state_dict(checkpoint).get(key)
    if weight is None or weight.ndim != 4:
        raise InputError(f"{checkpoint}: checkpoint does not fit architecture {arch}: no {key}")
    model = build_from_checkpoint(arch, checkpoint, in_channels=weight.shape[1])
    return first_conv(model).weight.detach()


def kernel_mosaic(weight: torch.Tensor, gap: int = 1) -> np.ndarray:
    """(out, in, kh, kw) weights -> a 2-D float array, rows = input channels, columns = kernels,
    cells separated by ``gap`` NaN pixels."""
    if weight.ndim != 4:
        raise InputError(f"expected conv weights (out, in, kh, kw), got {tuple(weight.shape)}")
    w = weight.detach().cpu().double().numpy()
    n_out, n_in, kh, kw = w.shape
    mosaic = np.full((n_in * (kh + gap) - gap, n_out * (kw + gap) - gap), np.nan)
    for c in range(n_in):
        for k in range(n_out):
            r0, c0 = c * (kh + gap), k * (kw + gap)
            mosaic[r0 : r0 + kh, c0 : c0 + kw] = w[k, c]
    return mosaic


def plot_kernels(
    panels: Sequence[tuple[str, torch.Tensor]],
    path: str | os.PathLike,
    *,
    title: str = "",
    dpi: int = 150,
) -> Path:
    """Draw each ``(label, conv weight)`` as a panel, stacked vertically, and save to ``path``
    (.png, .pdf or .svg) atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"{path}: output must end in {', '.join('.' + f for f in FORMATS)}")
    if not panels:
        raise InputError("no kernels to draw")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mosaics = [kernel_mosaic(w) for _, w in panels]
    width = max(m.shape[1] for m in mosaics)
    heights = [m.shape[0] for m in mosaics]
    fig_w = min(max(0.16 * width + 1.6, 5.0), 24.0)
    fig_h = sum(0.16 * h + 0.7 for h in heights) + (0.4 if title else 0.1)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(fig_w, fig_h),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    try:
        for ax, (label, weight), mosaic in zip(axes[:, 0], panels, mosaics, strict=True):
            limit = float(np.nanmax(np.abs(mosaic))) or 1.0
            image = ax.imshow(mosaic, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
            hf = high_frequency_energy(weight)
            ax.set_title(f"{label}  (high-frequency energy share {hf:.3f})", fontsize=9)
            kh = weight.shape[2]
            ax.set_yticks([c * (kh + 1) + (kh - 1) / 2 for c in range(weight.shape[1])])
            ax.set_yticklabels([f"ch {c}" for c in range(weight.shape[1])], fontsize=7)
            ax.set_xticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01).ax.tick_params(labelsize=6)
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)
    return path
