"""The report's figures: drawn from the per-image table, and from ``variant_spectrum.csv``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hfc_detect.reports.colours import variant_styles
from hfc_detect.results import ComparisonFolder
from hfc_detect.utils.files import atomic_path

if TYPE_CHECKING:
    from hfc_detect.analysis.spectrum import VariantSpectrum
    from hfc_detect.frequency.variant import Variant

SPECTRUM_FLOOR = 1e-4  # shares below it are drawn on it (an LFC's outside is ~1e-15)


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
    styles = variant_styles({n: comparison.spec_or_none(n) for n in comparison.variant_names})
    for ax, name in zip(axes, names, strict=False):
        diff = comparison.column(f"ap_{name}") - base
        diff = diff[np.isfinite(diff)]
        same = int((diff == 0).sum())
        ax.hist(diff, bins=bins, color=styles[name][0], alpha=0.8)
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


def spectrum_figure(
    spectrum: VariantSpectrum, kinds: Mapping[str, Variant | None], title: str
) -> Any:
    """Each variant's share of the original's energy against radius (log-log; the x axis as
    ``curve.png``'s, so a variant can be read against the AP-against-radius curve), in
    :func:`~hfc_detect.reports.colours.variant_styles`; the original is the dashed line at 1.
    Shares below :data:`SPECTRUM_FLOOR` are drawn on it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    centres = np.arange(spectrum.num_bins) + 0.5
    styles = variant_styles({name: kinds.get(name) for name in spectrum.shares})
    ax.axhline(1.0, color="k", linestyle="--", lw=1, label="original")
    for name, (colour, style) in styles.items():
        spec = kinds.get(name)
        if spec is not None and spec.kind == "original":
            continue
        share = np.clip(spectrum.shares[name], SPECTRUM_FLOOR, None)
        ax.plot(centres, share, lw=1.4, color=colour, linestyle=style, label=name,
                drawstyle="steps-mid")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("radius r (frequency bins; bin [k, k+1) drawn from k to k + 1)")
    ax.set_ylabel("share of the original's energy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2 if len(spectrum.shares) > 8 else 1)
    images = int(spectrum.images.max()) if spectrum.num_bins else 0
    ax.set_title(f"{title} ({images} images; below {SPECTRUM_FLOOR:g} drawn at it)", fontsize=10)
    fig.tight_layout()
    return fig


def spectrum_png(
    spectrum: VariantSpectrum, kinds: Mapping[str, Variant | None], path: Path, title: str
) -> Path:
    """Write :func:`spectrum_figure` as a PNG, atomically."""
    with atomic_path(path) as tmp:
        spectrum_figure(spectrum, kinds, title).savefig(tmp, format="png")
    return Path(path)
