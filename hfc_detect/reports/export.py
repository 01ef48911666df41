"""Export a comparison folder's per-image table (CSV, JSON, Parquet) or an HTML report folder.

Everything is validated before anything is written; files are written atomically and the HTML
folder is built in a temporary folder beside the target, then renamed into place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfc_detect.reports.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from hfc_detect.reports.wins import rows_by_gain
from hfc_detect.results import (
    ComparisonFolder,
    failed_image_text,
    load_comparison,
    write_table_csv,
    write_table_parquet,
)
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_dir, check_output, write_text_atomic

FORMATS = ("csv", "json", "parquet", "html")
_REPORT_MARK = '<meta name="generator" content="hfc-toolkit'


@dataclass(frozen=True)
class ExportResult:
    """Where the export went, warnings (e.g. image files not found for the gallery), and the
    images the run could not score (one line each: file, image id, reason)."""

    path: Path
    warnings: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def table_rows(
    comparison: ComparisonFolder, *, variant: str, top: int | None = None
) -> list[dict[str, Any]]:
    """The per-image rows: all, in image-id order; or with ``top`` the N images with the largest
    AP gain of ``variant`` over the baseline (images with undefined AP left out)."""
    if top is None:
        return list(comparison.rows)
    return rows_by_gain(comparison, variant)[:top]


def write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    write_table_csv(path, columns, ([r[c] for c in columns] for r in rows))


def write_json(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    """A JSON array of row objects (``null`` for an undefined AP)."""
    text = json.dumps([{c: r[c] for c in columns} for r in rows], indent=1)
    write_text_atomic(path, text + "\n")


def write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    write_table_parquet(path, {c: [r[c] for r in rows] for c in columns})


_WRITERS = {"csv": write_csv, "json": write_json, "parquet": write_parquet}


def _check_html_target(target: Path) -> None:
    if not target.exists():
        return
    index = target / "index.html"
    is_report = (
        target.is_dir()
        and index.is_file()
        and _REPORT_MARK in index.read_text(encoding="utf-8", errors="replace")[:2000]
    )
    if not is_report:
        raise InputError(f"{target}: exists and is not an HTML report; choose another --output")


def export(
    directory: str | Path,
    *,
    fmt: str,
    output: str | Path | None = None,
    top: int | None = None,
    variant: str | None = None,
    images: str | Path | None = None,
    radius: float | None = None,
    score_threshold: float | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    progress: Any = None,
    iou_type: str | None = None,
) -> ExportResult:
    """Export the comparison folder ``directory`` as ``fmt`` (csv, json, parquet or html).

    Default output: ``DIR/report.<fmt>``, or the folder ``DIR/report`` for html. ``top`` keeps the
    N images with the largest AP gain of ``variant`` (default: ``lfc``); for html it is the
    gallery size (default 12). Images for the gallery come from ``images`` or the summary's
    ``images_dir``; a missing image gets a placeholder and a warning. ``score_threshold``
    (html): detections drawn and matched; None picks :func:`~.plan.drawing_threshold`.
    ``iou_type``: checked against the folder's (one iouType per folder).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if top is not None and top < 1:
        raise InputError(f"top must be >= 1, got {top}")
    default_name = "report" if fmt == "html" else f"report.{fmt}"
    target = Path(output) if output is not None else Path(directory) / default_name
    check_output(target, folder=fmt == "html")
    comparison = load_comparison(directory, iou_type)
    name = comparison.resolve_variant(variant)
    failed = [failed_image_text(f) for f in comparison.failed_images]
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError("format parquet needs pyarrow: pip install pyarrow") from None
    if fmt != "html":
        _WRITERS[fmt](table_rows(comparison, variant=name, top=top), comparison.columns, target)
        return ExportResult(path=target, failed=failed)
    from hfc_detect.analysis.spectrum import spectrum_kinds
    from hfc_detect.reports.figures import histogram_png, spectrum_png
    from hfc_detect.reports.gallery import render_gallery
    from hfc_detect.reports.html import HISTOGRAM, SPECTRUM, write_html_report
    from hfc_detect.reports.plan import plan_report
    from hfc_detect.reports.sections import analysis_sections

    plan = plan_report(comparison, variant=name, images=images, radius=radius,
                       score_threshold=score_threshold, top=top, resamples=resamples,
                       seed=seed)  # fmt: skip
    _check_html_target(target)
    with atomic_dir(target, replace=True) as built:
        histogram_png(comparison, built / HISTOGRAM)
        if plan.spectrum is not None:
            kinds = spectrum_kinds(comparison, plan.spectrum)
            spectrum_png(plan.spectrum, kinds, built / SPECTRUM, "Variant spectra")
        sections = analysis_sections(comparison, built)
        gallery, warnings = render_gallery(plan, built, progress)
        warnings = sections.warnings + warnings
        if plan.spectrum_warning is not None:
            warnings.insert(0, plan.spectrum_warning)
        write_html_report(plan, built, gallery=gallery, sections=sections.html, warnings=warnings)
    return ExportResult(path=target, warnings=warnings, failed=failed)
