"""The report's figures drawn from the per-image table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.results import ComparisonFolder


def histogram_figure(comparison: ComparisonFolder) -> Any:
    """Histograms of per-image AP differences (variant - baseline): one small panel per
    variant, two to a row (an eval folder's LFC left, HFC right, a radius per row), on shared
    axes, so that a radius sweep's many variants stay readable side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = [n for n in comparison.variant_names if n != comparison.baseline]
    cols = 1 if len(names) <= 1 else 2
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(4.2 * cols, 0.9 + 2.1 * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    base = comparison.column(f"ap_{comparison.baseline}")
    width = 0.025
    bins = (np.arange(-40, 42) - 0.5) * width  # a bin centred on 0: "no change" stays apart
    for ax, name in zip(axes, names, strict=False):
        diff = comparison.column(f"ap_{name}") - base
        diff = diff[np.isfinite(diff)]
        same = int((diff == 0).sum())
        spec = comparison.spec(name)
        colour = "tab:red" if spec is not None and spec.kind == "hfc" else "tab:blue"
        ax.hist(diff, bins=bins, color=colour, alpha=0.8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{name}: {diff.size} images, {(diff > 0).sum()} up, {same} equal",
                     fontsize=9)  # fmt: skip
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.supxlabel(f"per-image AP(variant) - AP({comparison.baseline})", fontsize=10)
    fig.supylabel("images", fontsize=10)
    fig.tight_layout()
    return fig


def histogram_png(comparison: ComparisonFolder, path: Path) -> None:
    """Write :func:`histogram_figure` as a PNG."""
    histogram_figure(comparison).savefig(path, format="png")
