"""AP against radius: how a detector's AP falls as the cut between LFC and HFC moves.

Reads an ``eval`` folder run with several radii (``--radius`` repeated or ``--radius-sweep``):
its ``summary.json`` (the 12 COCOeval numbers and the AP per category of every variant, and
which kind and radius each variant is) and ``per_image.csv`` (per-image AP). For each LFC/HFC
variant it reports AP, AP50, AP75, APs, APm, APl and the paired-bootstrap 95% confidence
interval of the mean per-image AP difference against the original
(:func:`hfc_detect.reports.bootstrap.paired_bootstrap_ci`: 10,000 resamples, seed 0).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from hfc_detect.frequency.variant import COMPONENTS, ORIGINAL, Variant
from hfc_detect.reports.bootstrap import BootstrapCI, paired_bootstrap_ci
from hfc_detect.results import load_comparison
from hfc_detect.utils.errors import InputError

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


@dataclass(frozen=True)
class CurvePoint:
    """One LFC or HFC variant: its radius, COCOeval numbers, AP per category id and the
    bootstrap CI of its mean per-image AP difference against the original."""

    kind: str
    radius: float
    stats: dict[str, float]
    per_category: dict[int, float | None]
    delta: BootstrapCI


@dataclass(frozen=True)
class Curve:
    """The points sorted by (kind, radius), the original's numbers and the category names."""

    points: list[CurvePoint]
    original: dict[str, float]
    original_per_category: dict[int, float | None]
    category_names: dict[int, str]
    num_images_scored: int


def _per_category(entry: dict) -> dict[int, float | None]:
    return {int(cid): value["ap"] for cid, value in entry["per_category_ap"].items()}


def load_curve(directory: str | Path, *, resamples: int = 10_000, seed: int = 0) -> Curve:
    """The curve of the ``eval`` folder ``directory``; :class:`InputError` if it has no
    original variant or no LFC/HFC variant with a radius."""
    folder = load_comparison(directory)
    if folder.spec(folder.baseline) != Variant(ORIGINAL):
        raise InputError(
            f"{folder.root}: a curve needs an eval folder whose baseline is the original images "
            "(run hfc-detect eval with --variants original,lfc,hfc)"
        )
    base = folder.column(f"ap_{folder.baseline}")
    points = []
    for name in folder.variant_names:
        spec = folder.spec(name)
        if spec is None or spec.kind not in COMPONENTS:  # the original, bands, other labels
            continue
        entry = folder.variant(name)
        ci = paired_bootstrap_ci(base, folder.column(f"ap_{name}"), resamples=resamples, seed=seed)
        stats = {k: float(entry["stats"][k]) for k in STATS}
        points.append(CurvePoint(spec.kind, spec.radius, stats, _per_category(entry), ci))
    if not points:
        raise InputError(f"{folder.root}: no LFC/HFC variant to draw (run eval with --radius)")
    original = folder.variant(folder.baseline)
    names = {int(c): v["name"] for c, v in original["per_category_ap"].items()}
    return Curve(
        points=sorted(points, key=lambda p: (COMPONENTS.index(p.kind), p.radius)),
        original={k: float(original["stats"][k]) for k in STATS},
        original_per_category=_per_category(original),
        category_names=names,
        num_images_scored=int(folder.summary.get("num_images_scored", len(base))),
    )


def _number(value: float | None) -> str:
    return "" if value is None or value < 0 or math.isnan(value) else f"{value:.6f}"


def curve_csv(curve: Curve) -> str:
    """``curve.csv``: a row per (kind, radius); COCOeval's -1 (no ground truth of that size) is
    left empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "radius", *STATS, "delta_ap_mean", "delta_ap_ci_low",
                     "delta_ap_ci_high", "num_pairs"])  # fmt: skip
    for p in curve.points:
        d = p.delta
        stats = [_number(p.stats[k]) for k in STATS]
        writer.writerow([p.kind, f"{p.radius:g}", *stats, f"{d.mean:.6f}", f"{d.low:.6f}",
                         f"{d.high:.6f}", d.num_pairs])  # fmt: skip
    return buf.getvalue()


def per_category_csv(curve: Curve) -> str:
    """``curve_per_category.csv``: kind, radius (empty for the original), category_id,
    category, AP (empty where the category has no ground truth)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "radius", "category_id", "category", "AP"])
    rows = [("original", "", curve.original_per_category)]
    rows += [(p.kind, f"{p.radius:g}", p.per_category) for p in curve.points]
    for kind, radius, values in rows:
        for cid, ap in values.items():
            writer.writerow([kind, radius, cid, curve.category_names[cid], _number(ap)])
    return buf.getvalue()


def plot_curve(path: str | Path, curve: Curve, title: str) -> Path:
    """AP, AP50 and one panel per object size (APs, APm, APl) against radius (log axis) for LFC
    and HFC with the original as a horizontal line, and the mean per-image AP difference with
    its 95% CI."""
    from hfc_detect.utils.figures import pyplot, save_png

    plt = pyplot()
    fig, grid = plt.subplots(2, 3, figsize=(14, 8))
    axes = [grid[0, 0], grid[0, 1], grid[1, 0], grid[1, 1], grid[1, 2], grid[0, 2]]
    styles = {"lfc": ("tab:blue", "o-"), "hfc": ("tab:red", "s-")}
    sizes = ("all", "all, IoU 0.5", "small", "medium", "large")
    panels = zip(axes[:5], ("AP", "AP50", "APs", "APm", "APl"), sizes, strict=True)
    for ax, stat, size in panels:
        for kind, (color, style) in styles.items():
            pts = [p for p in curve.points if p.kind == kind and p.stats[stat] >= 0]
            ax.plot([p.radius for p in pts], [p.stats[stat] for p in pts], style, color=color,
                    label=kind.upper())  # fmt: skip
        if curve.original[stat] >= 0:
            ax.axhline(curve.original[stat], color="k", linestyle="--", label="original")
        ax.set_title(f"{stat} ({size})", fontsize=10)
        ax.set_ylabel(stat)
    ax = axes[5]
    for kind, (color, style) in styles.items():
        pts = [p for p in curve.points if p.kind == kind]
        r = [p.radius for p in pts]
        ax.plot(r, [p.delta.mean for p in pts], style, color=color, label=kind.upper())
        ax.fill_between(r, [p.delta.low for p in pts], [p.delta.high for p in pts], color=color,
                        alpha=0.2)  # fmt: skip
    ax.axhline(0, color="k", linestyle="--", label="original")
    ax.set_title("mean per-image AP difference, 95% CI", fontsize=10)
    ax.set_ylabel("AP(variant) - AP(original)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("radius r (frequency bins)")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title} ({curve.num_images_scored} images scored)", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def write_curve(directory: str | Path, curve: Curve, title: str | None = None) -> list[Path]:
    """Write ``curve.csv``, ``curve_per_category.csv`` and ``curve.png`` (titled ``title``, by
    default after the folder) into the eval folder ``directory``, each atomically; the paths."""
    from hfc_detect.utils.files import write_text_atomic

    directory = Path(directory)
    title = title or f"AP against radius: {directory.resolve().name}"
    return [
        write_text_atomic(directory / "curve.csv", curve_csv(curve)),
        write_text_atomic(directory / "curve_per_category.csv", per_category_csv(curve)),
        plot_curve(directory / "curve.png", curve, title),
    ]
