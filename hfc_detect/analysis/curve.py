"""AP against radius: how a detector's AP falls as the cut between LFC and HFC moves, and which
frequency band carries it.

Reads an ``eval`` folder run with several radii (``--radius`` repeated or ``--radius-sweep``)
and/or bands (``--band``, ``--band-sweep``): its ``summary.json`` (the 12 COCOeval numbers and
the AP per category of every variant, and which kind and radius each variant is) and
``per_image.csv`` (per-image AP). For each LFC/HFC and band variant it reports AP, AP50, AP75,
APs, APm, APl and the paired-bootstrap 95% confidence interval of the mean per-image AP
difference against the original (:func:`hfc_detect.reports.bootstrap.paired_bootstrap_ci`:
10,000 resamples, seed 0). Bands come after the LFC/HFC rows and carry their inner radius;
a folder without bands gives the files it gave before bands existed.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from hfc_detect.frequency.variant import BAND, COMPONENTS, ORIGINAL, Variant
from hfc_detect.reports.bootstrap import BootstrapCI, paired_bootstrap_ci
from hfc_detect.results import load_comparison
from hfc_detect.utils.errors import InputError

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
_KINDS = (*COMPONENTS, BAND)  # the order of the points


@dataclass(frozen=True)
class CurvePoint:
    """One LFC, HFC or band variant: its radius (a band's outer one), COCOeval numbers, AP per
    category id, the bootstrap CI of its mean per-image AP difference against the original,
    and a band's inner radius (None for LFC/HFC)."""

    kind: str
    radius: float
    stats: dict[str, float]
    per_category: dict[int, float | None]
    delta: BootstrapCI
    inner: float | None = None


@dataclass(frozen=True)
class Curve:
    """The points sorted by kind (LFC, HFC, band) then radius, the original's numbers and the
    category names."""

    points: list[CurvePoint]
    original: dict[str, float]
    original_per_category: dict[int, float | None]
    category_names: dict[int, str]
    num_images_scored: int

    @property
    def has_bands(self) -> bool:
        """Whether any point is a band."""
        return any(p.kind == BAND for p in self.points)


def _per_category(entry: dict) -> dict[int, float | None]:
    return {int(cid): value["ap"] for cid, value in entry["per_category_ap"].items()}


def load_curve(directory: str | Path, *, resamples: int = 10_000, seed: int = 0) -> Curve:
    """The curve of the ``eval`` folder ``directory``; :class:`InputError` if it has no
    original variant or no LFC/HFC or band variant."""
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
        if spec is None or spec.kind not in _KINDS:  # the original, other labels
            continue
        entry = folder.variant(name)
        ci = paired_bootstrap_ci(base, folder.column(f"ap_{name}"), resamples=resamples, seed=seed)
        stats = {k: float(entry["stats"][k]) for k in STATS}
        point = CurvePoint(spec.kind, spec.radius, stats, _per_category(entry), ci, spec.inner)
        points.append(point)
    if not points:
        raise InputError(
            f"{folder.root}: no LFC/HFC or band variant to draw (run eval with --radius or --band)"
        )
    original = folder.variant(folder.baseline)
    names = {int(c): v["name"] for c, v in original["per_category_ap"].items()}
    return Curve(
        points=sorted(points, key=lambda p: (_KINDS.index(p.kind), p.radius)),
        original={k: float(original["stats"][k]) for k in STATS},
        original_per_category=_per_category(original),
        category_names=names,
        num_images_scored=int(folder.summary.get("num_images_scored", len(base))),
    )


def _number(value: float | None) -> str:
    return "" if value is None or value < 0 or math.isnan(value) else f"{value:.6f}"


def _inner(curve: Curve, value: float | None) -> list[str]:
    """The trailing ``inner`` cell of a row: only in a curve with bands (so the files of a
    folder without bands stay as they were), empty for the original, LFC and HFC."""
    if not curve.has_bands:
        return []
    return ["" if value is None else f"{value:g}"]


def _inner_header(curve: Curve) -> list[str]:
    return ["inner"] if curve.has_bands else []


def curve_csv(curve: Curve) -> str:
    """``curve.csv``: a row per (kind, radius), bands after LFC/HFC with their inner radius in
    a last ``inner`` column (present only when the folder has bands); COCOeval's -1 (no ground
    truth of that size) is left empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "radius", *STATS, "delta_ap_mean", "delta_ap_ci_low",
                     "delta_ap_ci_high", "num_pairs", *_inner_header(curve)])  # fmt: skip
    for p in curve.points:
        d = p.delta
        stats = [_number(p.stats[k]) for k in STATS]
        writer.writerow([p.kind, f"{p.radius:g}", *stats, f"{d.mean:.6f}", f"{d.low:.6f}",
                         f"{d.high:.6f}", d.num_pairs, *_inner(curve, p.inner)])  # fmt: skip
    return buf.getvalue()


def per_category_csv(curve: Curve) -> str:
    """``curve_per_category.csv``: kind, radius (empty for the original), category_id,
    category, AP (empty where the category has no ground truth), and with bands ``inner``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "radius", "category_id", "category", "AP",
                     *_inner_header(curve)])  # fmt: skip
    rows = [("original", "", curve.original_per_category, None)]
    rows += [(p.kind, f"{p.radius:g}", p.per_category, p.inner) for p in curve.points]
    for kind, radius, values, inner in rows:
        for cid, ap in values.items():
            writer.writerow([kind, radius, cid, curve.category_names[cid], _number(ap),
                             *_inner(curve, inner)])  # fmt: skip
    return buf.getvalue()


def plot_curve(path: str | Path, curve: Curve, title: str) -> Path:
    """AP, AP50 and one panel per object size (APs, APm, APl) against radius (log axis) for LFC
    and HFC with the original as a horizontal line, and the mean per-image AP difference with
    its 95% CI. A band is drawn in the same panels as a horizontal segment over its radii
    (R1 to R2) with a marker at their geometric mean, its CI as an error bar there."""
    from hfc_detect.utils.figures import pyplot, save_png

    plt = pyplot()
    fig, grid = plt.subplots(2, 3, figsize=(14, 8))
    axes = [grid[0, 0], grid[0, 1], grid[1, 0], grid[1, 1], grid[1, 2], grid[0, 2]]
    styles = {"lfc": ("tab:blue", "o-"), "hfc": ("tab:red", "s-")}
    bands = [p for p in curve.points if p.kind == BAND]
    sizes = ("all", "all, IoU 0.5", "small", "medium", "large")
    panels = zip(axes[:5], ("AP", "AP50", "APs", "APm", "APl"), sizes, strict=True)
    for ax, stat, size in panels:
        for kind, (color, style) in styles.items():
            pts = [p for p in curve.points if p.kind == kind and p.stats[stat] >= 0]
            ax.plot([p.radius for p in pts], [p.stats[stat] for p in pts], style, color=color,
                    label=kind.upper())  # fmt: skip
        shown = [p for p in bands if p.stats[stat] >= 0]
        _plot_bands(ax, shown, [p.stats[stat] for p in shown])
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
    _plot_bands(ax, bands, [p.delta.mean for p in bands], ci=True)
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


def _plot_bands(ax, bands: list[CurvePoint], y: list[float], *, ci: bool = False) -> None:
    """Each band as a segment from R1 to R2 at its ``y``, a marker at sqrt(R1 R2), and with
    ``ci`` its 95% CI as a vertical error bar there."""
    if not bands:
        return
    ax.hlines(y, [p.inner for p in bands], [p.radius for p in bands], color="tab:green", lw=2)
    centres = [math.sqrt(p.inner * p.radius) for p in bands]
    errors = None
    if ci:
        errors = [[v - p.delta.low for v, p in zip(y, bands, strict=True)],
                  [p.delta.high - v for v, p in zip(y, bands, strict=True)]]  # fmt: skip
    ax.errorbar(centres, y, yerr=errors, fmt="D", color="tab:green", capsize=3, label="band")


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
