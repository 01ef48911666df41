"""Matplotlib figures shared by the frequency analyses (classifiers and detectors): saving a
figure atomically, and a Fourier heat map with its colour bar."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.utils.files import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically, close it and return the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return Path(path)


def plot_heatmaps(
    path: str | Path,
    maps: Sequence[tuple[str, np.ndarray, str]],
    extent: tuple[float, float, float, float],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
) -> Path:
    """Heat maps side by side, one colour bar each; ``maps`` holds (panel title, (H, W) values
    in centred layout, colour bar label); ``extent`` is imshow's (left, right, bottom, top)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(maps), figsize=(4.8 * len(maps), 4.2), squeeze=False)
    for ax, (name, values, label) in zip(axes[0], maps, strict=True):
        image = ax.imshow(values, origin="upper", extent=extent, cmap="viridis")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def centred_extent(height: int, width: int) -> tuple[float, float, float, float]:
    """imshow extent putting pixel centres of a centred-layout map on its signed frequencies
    (column v at v - W//2, row u at u - H//2, rows growing downwards)."""
    return (-(width // 2) - 0.5, width - width // 2 - 0.5, height - height // 2 - 0.5,
            -(height // 2) - 0.5)  # fmt: skip
