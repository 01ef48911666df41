"""The HTML report of a comparison folder: a folder that opens offline (no network references).

``index.html`` holds the images the run could not score (first, in red), the summary (AP per
variant, the COCOeval numbers of its iouType, wins, per-category AP, paired bootstrap intervals),
``histogram.png`` the per-image AP differences, and ``images/`` the gallery panels (PNG):
original | LFC | HFC of the images the variant gains most on, with ground truth, detections and
gained/lost objects drawn, each panel captioned with its variant's AP and objects. Where the
folder holds ``curve.csv`` or ``heatmap/`` a "Frequency response" section shows them
(:mod:`hfc_detect.reports.analyses`).

Display: the original and the LFC as the detector saw them (``pixel_mode``), rounded and clipped
to 0..255; the HFC, which is mostly negative, as 128 + HFC clipped (zero is mid-grey), as
``hfc-detect decompose`` writes it. Detections are drawn at one score threshold for the whole
report (:func:`drawing_threshold`), stated on the page.
"""

from __future__ import annotations

import html
import math
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from hfc_detect import __version__
from hfc_detect.data.images import encode_png, to_0_255
from hfc_detect.decompose import display_hfc, display_lfc
from hfc_detect.evaluation.params import OVERLAP_NAMES, params_for
from hfc_detect.frequency import check_radius
from hfc_detect.frequency.variant import COMPONENTS, KINDS
from hfc_detect.reports.bootstrap import BootstrapCI, paired_bootstrap_ci
from hfc_detect.reports.defaults import PAPER_RADIUS
from hfc_detect.reports.draw import (
    PANEL_MAX_HEIGHT,
    PANEL_MAX_WIDTH,
    STYLES,
    draw_objects,
    placeholder,
)
from hfc_detect.reports.objects import DEFAULT_SCORE_THRESHOLD
from hfc_detect.reports.sources import ObjectSources
from hfc_detect.reports.wins import Win
from hfc_detect.results import ComparisonFolder, failed_image_text
from hfc_detect.utils.errors import InputError


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return f"{value:.{digits}f}"


def _row(cells: list[str], *, header: bool = False, text_cols: int = 1) -> str:
    tag = "th" if header else "td"
    out = [
        f'<{tag} class="text">{c}</{tag}>' if i < text_cols else f"<{tag}>{c}</{tag}>"
        for i, c in enumerate(cells)
    ]
    return "<tr>" + "".join(out) + "</tr>"


def resolve_radius(
    comparison: ComparisonFolder, variant: str, requested: float | None
) -> tuple[float, str]:
    """The radius of the gallery's LFC/HFC panels and where it came from.

    The run's own radii (its variants' records in summary.json) win; ``requested`` may pick
    one of several radii and must agree with a single one; without either, ``requested`` or 128.
    Of several radii, the default is the variant's own, else the one nearest the paper's 128
    (a sweep's first radius, 4, would show an LFC that never wins).
    """
    if requested is not None:
        requested = check_radius(requested)
    radii = comparison.radii
    if not radii:
        if requested is not None:
            return float(requested), "--radius"
        return float(PAPER_RADIUS), "default"
    known = ", ".join(f"{r:g}" for r in radii)
    if requested is not None:
        if float(requested) not in radii:
            word = "radius" if len(radii) == 1 else "radii"
            raise InputError(f"--radius {requested:g}: this run used {word} {known}")
        return float(requested), "summary.json"
    own = comparison.spec(variant)
    nearest = min(radii, key=lambda r: abs(r - PAPER_RADIUS))
    return (own.radius if own is not None and own.radius in radii else nearest), "summary.json"


def panel_variants(comparison: ComparisonFolder, radius: float) -> dict[str, str | None]:
    """Which variant's detections go on each gallery panel (None: no detections for it): the
    LFC and HFC variants at ``radius`` (a name ``lfc``/``hfc`` whose radius the folder does not
    record serves as well)."""
    out: dict[str, str | None] = {"original": comparison.baseline}
    specs = {name: comparison.spec(name) for name in comparison.variant_names}
    for kind in COMPONENTS:
        at_radius = [n for n, s in specs.items() if s and s.kind == kind and s.radius == radius]
        unrecorded = [n for n, s in specs.items() if n == kind and s is None]
        out[kind] = (at_radius or unrecorded or [None])[0]
    return out


def _summary_rows(comparison: ComparisonFolder, cis: dict[str, BootstrapCI]) -> str:
    head = ["variant", "AP", "AP50", "AP75", "detections", "wins over baseline"]
    head += ["mean per-image &Delta;AP", "95% CI"]
    rows = [_row(head, header=True)]
    for v in comparison.summary["variants"]:
        stats = v.get("stats") or {}
        ci = cis.get(v["name"])
        rows.append(
            _row(
                [
                    _e(v["name"]) + (" (baseline)" if v["name"] == comparison.baseline else ""),
                    _fmt(stats.get("AP")),
                    _fmt(stats.get("AP50")),
                    _fmt(stats.get("AP75")),
                    _e(v.get("num_detections", "")),
                    "&ndash;"
                    if v["name"] == comparison.baseline
                    else _e(v.get("wins_over_baseline", "")),
                    "&ndash;" if ci is None else f"{ci.mean:+.4f}",
                    "&ndash;" if ci is None else f"[{ci.low:+.4f}, {ci.high:+.4f}]",
                ]
            )
        )
    return "\n".join(rows)


def _stats_rows(comparison: ComparisonFolder) -> str:
    names = params_for(comparison.summary["iou_type"]).stat_names
    rows = [_row(["variant", *names], header=True)]
    for v in comparison.summary["variants"]:
        stats = v.get("stats") or {}
        rows.append(_row([_e(v["name"]), *(_fmt(stats.get(s)) for s in names)]))
    return "\n".join(rows)


def _category_rows(comparison: ComparisonFolder) -> str:
    variants = comparison.summary["variants"]
    ids: dict[str, str] = {}
    for v in variants:
        for cid, entry in (v.get("per_category_ap") or {}).items():
            ids.setdefault(str(cid), str(entry.get("name", cid)))
    rows = [_row(["id", "category", *(_e(v["name"]) for v in variants)], header=True, text_cols=2)]
    for cid in sorted(ids, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c)):
        cells = [_e(cid), _e(ids[cid])]
        for v in variants:
            entry = (v.get("per_category_ap") or {}).get(cid) or {}
            cells.append(_fmt(entry.get("ap")))
        rows.append(_row(cells, text_cols=2))
    return "\n".join(rows)


def _meta_rows(comparison: ComparisonFolder, radius: float, radius_source: str) -> str:
    s = comparison.summary
    items = [
        ("comparison", comparison.root.resolve()),
        ("created", s.get("created", "")),
        ("written by", f"hfc-toolkit {s.get('hfc_version', '?')}; report by {__version__}"),
        ("annotations", s.get("annotations", "")),
        (
            "images",
            f"{s.get('num_images', len(comparison.rows))} "
            f"({s.get('num_images_scored', '?')} with a defined AP)",
        ),
        ("baseline", comparison.baseline),
        ("radius", f"{radius:g} (from {radius_source})"),
    ]
    items += [(k, s[k]) for k in ("backend", "pixel_mode", "weights") if s.get(k) is not None]
    return "\n".join(f'<tr><th class="text">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in items)


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
        colour = "tab:red" if name.startswith("hfc") else "tab:blue"
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


def bootstrap_all(
    comparison: ComparisonFolder, *, resamples: int, seed: int
) -> dict[str, BootstrapCI]:
    """Paired bootstrap CI of the mean per-image AP difference for every non-baseline variant."""
    base = comparison.column(f"ap_{comparison.baseline}")
    out = {}
    for name in comparison.variant_names:
        if name == comparison.baseline:
            continue
        var = comparison.column(f"ap_{name}")
        if np.isfinite(var - base).any():
            out[name] = paired_bootstrap_ci(base, var, resamples=resamples, seed=seed)
    return out


def _display(x: np.ndarray, pixel_mode: str | None) -> np.ndarray:
    """A split component (0..255 scale) as uint8 RGB for display: first mapped as the detector
    saw it (``pixel_mode`` via :func:`~hfc_detect.frequency.to_pixels`; none or ``raw``: as is),
    then rounded and clipped to 0..255 (only for display)."""
    from hfc_detect.frequency import to_pixels

    if pixel_mode not in (None, "raw"):
        x = to_pixels(x, pixel_mode)
    return display_lfc(x, np.dtype(np.uint8))


def drawing_threshold(
    sources: ObjectSources,
    variants: list[str],
    image_ids: list[int],
    requested: float | None = None,
    ceiling: float = DEFAULT_SCORE_THRESHOLD,
) -> tuple[float, str]:
    """The gallery's score threshold and how it was chosen: ``requested`` where given, else
    ``ceiling`` (0.5), lowered where needed so that at least half of the panels of ``variants``
    (the baseline and the ranked variant) that have detections show their best one: the lower
    median of the panels' best scores, rounded down to 0.01. A run whose detector scores below
    0.5 (the bundled demo's does) so still shows boxes, and one weak panel does not flood the
    others with boxes."""
    if requested is not None:
        return requested, "--score-threshold"
    best = [
        float(sources.preds[name].scores[rows].max())
        for name in variants
        for image_id in image_ids
        if (rows := sources.det_rows(name, image_id)).size
    ]
    middle = float(np.quantile(best, 0.5, method="lower")) if best else ceiling
    if middle >= ceiling:
        return ceiling, "the default; --score-threshold sets it"
    return math.floor(middle * 100) / 100, (
        f"lowered from the default {ceiling:g} so that at least half of the "
        f"{' and '.join(variants)} panels show their best detection; --score-threshold sets it"
    )


@dataclass(frozen=True)
class Panel:
    """One gallery picture: its title, its file (relative path) and its caption (HTML)."""

    title: str
    path: str
    caption: str


@dataclass(frozen=True)
class GalleryEntry:
    """One gallery row: the win, its panels and a missing flag."""

    win: Win
    panels: list[Panel]
    missing: bool


def _objects_list(objs: list[dict[str, Any]], names: dict[int, str]) -> str:
    if not objs:
        return "none"
    return ", ".join(_e(names.get(o["category_id"], o["category_id"])) for o in objs)


@dataclass(frozen=True)
class DetectionCount:
    """A panel's detections: all of them (its per-image AP scores them all, at any score) and
    those drawn (score >= ``threshold``)."""

    total: int
    shown: int
    threshold: float


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _panel_caption(
    name: str | None,
    row: dict[str, Any],
    baseline: str,
    count: DetectionCount,
    diff: Any,
    names: dict[int, str],
) -> str:
    """``AP 0.534 (+0.058) from all 9 detections; 3 drawn (score >= 0.5); gained: cat; lost:
    none`` for a panel's variant: the AP counts detections below the drawing threshold too."""
    if name is None:
        return "no detections (no variant of this kind in the run)"
    ap, base = row.get(f"ap_{name}"), row.get(f"ap_{baseline}")
    parts = [f"boxes of <b>{_e(name)}</b>: AP {_fmt(ap)}"]
    if name != baseline and ap is not None and base is not None:
        parts[0] += f" ({ap - base:+.3f})"
    if count.total:
        parts[0] += f" from all {_plural(count.total, 'detection')}"
        parts.append(f"{count.shown} drawn (score &ge; {count.threshold:g})")
    else:
        parts[0] += " (no detection at all)"
    if diff is not None:
        parts.append(f"gained: {_objects_list(diff.gained, names)}")
        parts.append(f"lost: {_objects_list(diff.lost, names)}")
    return "; ".join(parts)


def render_gallery_entry(
    win: Win,
    image: np.ndarray | None,
    *,
    sources: ObjectSources,
    panels: dict[str, str | None],
    row: dict[str, Any],
    radius: float,
    score_threshold: float,
    out_dir: Path,
    pixel_mode: str | None = None,
) -> GalleryEntry:
    """Compute the LFC/HFC split of ``image`` (decoded pixels), draw boxes, write the PNGs
    into ``out_dir/images``; ``row`` is the image's per-image table row (for the captions)."""
    from hfc_detect.frequency import split

    gts = sources.image_gts(win.image_id)
    baseline = panels["original"]
    if image is None:
        pictures = {k: placeholder(text=f"{win.file_name}: not available") for k in panels}
    else:
        pixels = to_0_255(image)  # what the detector saw: 16-bit images rescaled first
        low, high = split(pixels, radius)
        pictures = {
            "original": _display(pixels, None),
            "lfc": _display(low, pixel_mode),
            "hfc": display_hfc(high, np.dtype(np.uint8)),
        }
    out = []
    for kind in KINDS:
        name = panels[kind]
        dets = sources.image_dets(name, win.image_id) if name else []
        diff = (
            sources.object_diff(win.image_id, baseline, name, score_threshold=score_threshold)
            if name and baseline and kind != "original"
            else None
        )
        drawn = pictures[kind]
        if image is not None:
            drawn = draw_objects(
                drawn,
                gts=gts,
                dets=dets,
                gained=diff.gained if diff else (),
                lost=diff.lost if diff else (),
                score_threshold=score_threshold,
                category_names=sources.category_names,
            )
        rel = f"images/{win.image_id}_{kind}.png"
        (out_dir / rel).write_bytes(encode_png(drawn, compression=6))
        title = "original" if kind == "original" else f"{kind.upper()} r={radius:g}"
        shown = sum(d["score"] >= score_threshold for d in dets)
        count = DetectionCount(len(dets), shown, score_threshold)
        caption = _panel_caption(name, row, baseline, count, diff, sources.category_names)
        out.append(Panel(title, rel, caption))
    return GalleryEntry(win=win, panels=out, missing=image is None)


def _gallery_html(entries: list[GalleryEntry], baseline: str, variant: str) -> str:
    blocks = []
    for rank, entry in enumerate(entries, 1):
        w = entry.win
        caption = (
            f"#{rank} image {w.image_id} <code>{_e(w.file_name)}</code>: AP {_e(baseline)} "
            f"{w.ap_baseline:.3f} &rarr; {_e(variant)} {w.ap_variant:.3f} "
            f"(<b>{w.delta:+.3f}</b>)"
        )
        if entry.missing:
            caption += ' <span class="warning">(image missing or unreadable: placeholder)</span>'
        panels = "".join(
            f'<div><img src="{_e(p.path)}" alt="{_e(p.title)}">'
            f'<p class="panel-caption"><b>{_e(p.title)}</b>: {p.caption}</p></div>'
            for p in entry.panels
        )
        blocks.append(
            f'<figure class="win"><figcaption>{caption}</figcaption>'
            f'<div class="panels">{panels}</div></figure>'
        )
    return "\n".join(blocks) if blocks else "<p>No image where the variant gains.</p>"


def _legend_html(score_threshold: float) -> str:
    parts = []
    for kind, (rgb, thickness, text) in STYLES.items():
        if kind == "det":
            text = f"detection (score &ge; {score_threshold:g}) with its score"
        colour = "#" + "".join(f"{c:02x}" for c in rgb)
        parts.append(
            f'<span class="swatch" style="border: {max(thickness, 2)}px solid {colour}"></span>'
            f"{text}"
        )
    return "".join(parts)


def _pixel_note(pixel_mode: str | None) -> str:
    lfc = (
        f"the LFC in pixel mode {pixel_mode}, as the detector saw it"
        if pixel_mode not in (None, "raw")
        else "the LFC as the detector saw it"
    )
    return (
        f"{lfc}, rounded and clipped to 0..255; the HFC shown as 128 + HFC, clipped to 0..255 "
        "(zero is mid-grey, edges lighter or darker; as hfc-detect decompose writes it)"
    )


def _demo_html(comparison: ComparisonFolder) -> str:
    """A box saying that a run on the bundled demo data is synthetic, not COCO."""
    if comparison.summary.get("dataset") != "demo":
        return ""
    return (
        '<div class="demo" id="demo"><b>Demo data, not COCO.</b> These results come from the '
        "bundled synthetic dataset (generated shapes and textures) and the bundled demo "
        "detector that hfc-detect eval uses when COCO is not found. They show how the toolkit "
        "works; they are not the paper's numbers.</div>"
    )


def _failed_html(comparison: ComparisonFolder) -> str:
    """A red box naming every image the run could not score, with its file and reason."""
    failed = comparison.failed_images
    if not failed:
        return ""
    items = "".join(f"<li>{_e(failed_image_text(f))}</li>" for f in failed)
    folder = shlex.quote(str(comparison.root))
    return (
        f'<div class="failed" id="failed"><h2>{len(failed)} image(s) failed and are not '
        "scored</h2><p>This run is partial: these images are in none of the numbers below."
        f"</p><ul>{items}</ul><p>Running the same eval command again retries them. This page "
        f"shows the run of {_e(comparison.summary.get('created', '?'))}; if the command has run "
        "since, the page is out of date: write it again with <code>hfc-detect export "
        f"{_e(folder)} --format html</code>.</p></div>"
    )


def write_html_report(
    comparison: ComparisonFolder,
    out_dir: Path,
    *,
    variant: str,
    wins: list[Win],
    sources: ObjectSources,
    images_dir: Path | None,
    radius: float,
    radius_source: str,
    score_threshold: float,
    threshold_note: str,
    resamples: int,
    seed: int,
    progress: Any = None,
) -> list[str]:
    """Write ``index.html``, ``histogram.png`` and ``images/`` into the (empty) ``out_dir``.

    ``wins`` are the gallery's images, best first, with gained/lost objects at
    ``score_threshold`` (``threshold_note`` says how it was chosen). ``progress`` is an
    optional ``rich.progress.Progress``. Returns the warnings (missing image files)."""
    from hfc_detect.data.images import read_image
    from hfc_detect.reports.analyses import analysis_sections

    warnings: list[str] = []
    pixel_mode = comparison.summary.get("pixel_mode")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    histogram_png(comparison, out_dir / "histogram.png")
    analyses = analysis_sections(comparison, out_dir)
    warnings += analyses.warnings
    cis = bootstrap_all(comparison, resamples=resamples, seed=seed)
    panels = panel_variants(comparison, radius)
    rows = {r["image_id"]: r for r in comparison.rows}
    entries = []
    task = progress.add_task("gallery", total=len(wins)) if progress is not None else None
    for win in wins:
        image = None
        path = images_dir / win.file_name if images_dir is not None else None
        if path is None or not path.is_file():
            warnings.append(f"image {win.image_id}: {path or win.file_name} not found; placeholder")
        else:
            try:
                image = read_image(path)
            except InputError as exc:
                warnings.append(f"image {win.image_id}: {exc}; placeholder")
        entries.append(
            render_gallery_entry(
                win,
                image,
                sources=sources,
                panels=panels,
                row=rows[win.image_id],
                radius=radius,
                score_threshold=score_threshold,
                out_dir=out_dir,
                pixel_mode=pixel_mode,
            )
        )
        if progress is not None:
            progress.advance(task)
    ci_text = ", ".join(
        f"{name}: {ci.mean:+.4f} [{ci.low:+.4f}, {ci.high:+.4f}]" for name, ci in cis.items()
    )
    any_ci = next(iter(cis.values()), None)
    if any_ci is not None:
        ci_text = (
            f"95% CI by paired percentile bootstrap over images ({any_ci.resamples} resamples, "
            f"seed {any_ci.seed}): {ci_text}."
        )
    template = Template(
        resources.files("hfc_detect.reports").joinpath("report_template.html").read_text("utf-8")
    )
    page = template.substitute(
        version=_e(__version__),
        title=_e(f"HFC comparison report: {comparison.root.resolve().name}"),
        meta=_meta_rows(comparison, radius, radius_source),
        summary=_summary_rows(comparison, cis),
        num_pairs=_e(any_ci.num_pairs if any_ci else 0),
        ci_text=ci_text,
        stats=_stats_rows(comparison),
        num_stats=len(params_for(comparison.summary["iou_type"]).stat_names),
        iou_type=_e(comparison.summary["iou_type"]),
        overlap=_e(OVERLAP_NAMES[comparison.summary["iou_type"]]),
        histogram="histogram.png",
        categories=_category_rows(comparison),
        analyses=analyses.html,
        gallery_count=len(entries),
        variant=_e(variant),
        baseline=_e(comparison.baseline),
        legend=_legend_html(score_threshold),
        radius=f"{radius:g}",
        pixel_note=_e(_pixel_note(pixel_mode)),
        panel_width=PANEL_MAX_WIDTH,
        panel_height=PANEL_MAX_HEIGHT,
        score_threshold=f"{score_threshold:g}",
        threshold_note=_e(threshold_note),
        failed=_failed_html(comparison),
        demo=_demo_html(comparison),
        warnings="".join(f'<p class="warning">warning: {_e(w)}</p>' for w in warnings),
        gallery=_gallery_html(entries, comparison.baseline, variant),
    )
    (out_dir / "index.html").write_text(page, encoding="utf-8")
    return warnings
