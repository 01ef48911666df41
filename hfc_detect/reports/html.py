"""The HTML report's page: renders a :class:`~hfc_detect.reports.plan.ReportPlan` and what was
drawn for it into ``index.html``, a page that opens offline (no network references).

``index.html`` holds the images the run could not score (first, in red), the summary (AP per
variant, the COCOeval numbers of its iouType, wins, per-category AP, paired bootstrap intervals),
``histogram.png`` (:mod:`~hfc_detect.reports.figures`) the per-image AP differences, and the
gallery's panels (:mod:`~hfc_detect.reports.gallery`): original | LFC | HFC of the images the
variant gains most on, each captioned with its variant's AP and objects. Where the folder holds
``curve.csv`` or ``heatmap/`` a "Frequency response" section shows them
(:mod:`~hfc_detect.reports.sections`), and just before it, where the plan holds the variant
spectrum, "Where each variant sits in the spectrum" (``spectrum.png``, drawn from
``variant_spectrum.csv``, and its shares by octave). Nothing is computed here: the plan
decided, the gallery and figures drew.
"""

from __future__ import annotations

import shlex
from importlib import resources
from pathlib import Path
from string import Template

from hfc_detect import __version__
from hfc_detect.analysis.spectrum import SPECTRUM_CSV, VariantSpectrum, octave_shares
from hfc_detect.evaluation.params import OVERLAP_NAMES, params_for
from hfc_detect.reports.bootstrap import BootstrapCI
from hfc_detect.reports.draw import PANEL_MAX_HEIGHT, PANEL_MAX_WIDTH, STYLES
from hfc_detect.reports.gallery import GalleryEntry
from hfc_detect.reports.markup import escape, number_cell, table_row
from hfc_detect.reports.plan import ReportPlan
from hfc_detect.results import ComparisonFolder, failed_image_text

HISTOGRAM = "histogram.png"
SPECTRUM = "spectrum.png"


def _summary_rows(comparison: ComparisonFolder, cis: dict[str, BootstrapCI]) -> str:
    head = ["variant", "AP", "AP50", "AP75", "detections", "wins over baseline"]
    head += ["mean per-image &Delta;AP", "95% CI"]
    rows = [table_row(head, header=True)]
    for v in comparison.summary["variants"]:
        stats = v.get("stats") or {}
        ci = cis.get(v["name"])
        rows.append(
            table_row(
                [
                    escape(v["name"]) + (" (baseline)" if v["name"] == comparison.baseline else ""),
                    number_cell(stats.get("AP")),
                    number_cell(stats.get("AP50")),
                    number_cell(stats.get("AP75")),
                    escape(v.get("num_detections", "")),
                    "&ndash;"
                    if v["name"] == comparison.baseline
                    else escape(v.get("wins_over_baseline", "")),
                    "&ndash;" if ci is None else f"{ci.mean:+.4f}",
                    "&ndash;" if ci is None else f"[{ci.low:+.4f}, {ci.high:+.4f}]",
                ]
            )
        )
    return "\n".join(rows)


def _stats_rows(comparison: ComparisonFolder) -> str:
    names = params_for(comparison.summary["iou_type"]).stat_names
    rows = [table_row(["variant", *names], header=True)]
    for v in comparison.summary["variants"]:
        stats = v.get("stats") or {}
        rows.append(table_row([escape(v["name"]), *(number_cell(stats.get(s)) for s in names)]))
    return "\n".join(rows)


def _category_rows(comparison: ComparisonFolder) -> str:
    variants = comparison.summary["variants"]
    ids: dict[str, str] = {}
    for v in variants:
        for cid, entry in (v.get("per_category_ap") or {}).items():
            ids.setdefault(str(cid), str(entry.get("name", cid)))
    rows = [
        table_row(
            ["id", "category", *(escape(v["name"]) for v in variants)], header=True, text_cols=2
        )
    ]
    for cid in sorted(ids, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c)):
        cells = [escape(cid), escape(ids[cid])]
        for v in variants:
            entry = (v.get("per_category_ap") or {}).get(cid) or {}
            cells.append(number_cell(entry.get("ap")))
        rows.append(table_row(cells, text_cols=2))
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
    return "\n".join(
        f'<tr><th class="text">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in items
    )


def _gallery_html(entries: list[GalleryEntry], baseline: str, variant: str) -> str:
    blocks = []
    for rank, entry in enumerate(entries, 1):
        w = entry.win
        caption = (
            f"#{rank} image {w.image_id} <code>{escape(w.file_name)}</code>: AP {escape(baseline)} "
            f"{w.ap_baseline:.3f} &rarr; {escape(variant)} {w.ap_variant:.3f} "
            f"(<b>{w.delta:+.3f}</b>)"
        )
        if entry.missing:
            caption += ' <span class="warning">(image missing or unreadable: placeholder)</span>'
        panels = "".join(
            f'<div><img src="{escape(p.path)}" alt="{escape(p.title)}">'
            f'<p class="panel-caption"><b>{escape(p.title)}</b>: {p.caption}</p></div>'
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
        "(zero is mid-grey, edges lighter or darker; as hfc-detect decompose writes it), a "
        "frequency band, where the run has one, as the HFC: 128 + band, and the ranked variant, "
        "where it is a corruption or a transform, made again from the image with the run's seed"
    )


def _spectrum_html(spectrum: VariantSpectrum | None) -> str:
    """The variant spectrum: its figure and each variant's mean share per octave of radius."""
    if spectrum is None:
        return ""
    ranges, means = octave_shares(spectrum)
    head = ["variant", *(f"{lo}&ndash;{hi}" for lo, hi in ranges)]
    rows = [table_row(head, header=True)]
    rows += [table_row([escape(name), *("&ndash;" if v is None else f"{v:.3g}" for v in values)])
             for name, values in means.items()]  # fmt: skip
    images = int(spectrum.images.max()) if spectrum.num_bins else 0
    seed = f", seed {spectrum.seed}" if spectrum.image_ids else ""
    return (
        '<h2 id="variant-spectrum">Where each variant sits in the spectrum</h2>\n'
        f'<img id="spectrum" src="{SPECTRUM}" alt="share of the original\'s energy per radius" '
        'style="max-width: 100%; display: block">\n'
        f'<div class="scroll"><table id="spectrum-table">{"".join(rows)}</table></div>\n'
        f'<p class="note">From {SPECTRUM_CSV} (hfc-detect spectrum; eval writes it): for each '
        "variant, its share of the original image's spectral energy in each radial bin [k, k+1) "
        "of the distance the radius measures (the disk LFC keeps is d &lt; r), averaged over "
        f"{images} images (a seeded sample of the scored images{seed}) at their original "
        "resolution, as the detector was fed them. The table: the mean of the bins' shares in "
        "each range of radii (3 significant digits). Read a variant against the "
        "AP-against-radius curve: a share near 0 beyond some r is what an LFC at that r "
        "removes.</p>"
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
    items = "".join(f"<li>{escape(failed_image_text(f))}</li>" for f in failed)
    folder = shlex.quote(str(comparison.root))
    return (
        f'<div class="failed" id="failed"><h2>{len(failed)} image(s) failed and are not '
        "scored</h2><p>This run is partial: these images are in none of the numbers below."
        f"</p><ul>{items}</ul><p>Running the same eval command again retries them. This page "
        f"shows the run of {escape(comparison.summary.get('created', '?'))}; if the command has "
        "run since, the page is out of date: write it again with <code>hfc-detect export "
        f"{escape(folder)} --format html</code>.</p></div>"
    )


def write_html_report(
    plan: ReportPlan,
    out_dir: Path,
    *,
    gallery: list[GalleryEntry],
    sections: str = "",
    warnings: list[str] = (),
) -> None:
    """Write ``index.html`` into ``out_dir`` (which holds the gallery's images and
    ``histogram.png``): the plan, the ``gallery`` drawn for it, the analyses' ``sections``
    (HTML) and the ``warnings`` to show."""
    comparison, cis = plan.comparison, plan.cis
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
    iou_type = comparison.summary["iou_type"]
    page = template.substitute(
        version=escape(__version__),
        title=escape(f"HFC comparison report: {comparison.root.resolve().name}"),
        meta=_meta_rows(comparison, plan.radius, plan.radius_source),
        summary=_summary_rows(comparison, cis),
        num_pairs=escape(any_ci.num_pairs if any_ci else 0),
        ci_text=ci_text,
        stats=_stats_rows(comparison),
        num_stats=len(params_for(iou_type).stat_names),
        iou_type=escape(iou_type),
        overlap=escape(OVERLAP_NAMES[iou_type]),
        histogram=HISTOGRAM,
        categories=_category_rows(comparison),
        analyses=sections,
        spectrum=_spectrum_html(plan.spectrum),
        gallery_count=len(gallery),
        variant=escape(plan.variant),
        baseline=escape(comparison.baseline),
        legend=_legend_html(plan.score_threshold),
        radius=f"{plan.radius:g}",
        pixel_note=escape(_pixel_note(plan.pixel_mode)),
        panel_width=PANEL_MAX_WIDTH,
        panel_height=PANEL_MAX_HEIGHT,
        score_threshold=f"{plan.score_threshold:g}",
        threshold_note=escape(plan.threshold_note),
        failed=_failed_html(comparison),
        demo=_demo_html(comparison),
        warnings="".join(f'<p class="warning">warning: {escape(w)}</p>' for w in warnings),
        gallery=_gallery_html(gallery, comparison.baseline, plan.variant),
    )
    (out_dir / "index.html").write_text(page, encoding="utf-8")
