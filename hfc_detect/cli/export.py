"""``hfc-detect export``: the per-image table as CSV/JSON/Parquet, or an offline HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_detect.reports.defaults import (
    DEFAULT_RESAMPLES,
    DEFAULT_SCORE_THRESHOLD,
    DEFAULT_SEED,
    DEFAULT_VARIANT,
)


def export_command(
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="Comparison folder written by compare or eval."
    ),
    fmt: str = typer.Option(..., "--format", help="csv, json, parquet or html."),
    top: int = typer.Option(
        None,
        "--top",
        min=1,
        help="Tables: only the N images with the largest AP gain of --variant (default: all). "
        "html: gallery size (default: 12).",
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Output file, or folder for html (default: DIR/report.FORMAT, DIR/report for html).",
    ),
    images: Path = typer.Option(
        None,
        "--images",
        metavar="DIR",
        help="Folder of the images (default: images_dir in summary.json).",
    ),
    radius: float = typer.Option(
        None,
        "--radius",
        "-r",
        help="LFC/HFC radius of the gallery when summary.json records none (default: 128).",
    ),
    variant: str = typer.Option(
        None,
        "--variant",
        help=f"Variant ranked against the baseline. [default: {DEFAULT_VARIANT}]",
        show_default=False,
    ),
    score_threshold: float = typer.Option(
        None,
        "--score-threshold",
        help="html: draw detections with score >= this; they find objects at IoU >= 0.5. "
        f"[default: {DEFAULT_SCORE_THRESHOLD:g}, lowered where needed so that at least half of "
        "the baseline and --variant panels show their best detection; the report states it]",
        show_default=False,
    ),
    resamples: int = typer.Option(
        DEFAULT_RESAMPLES,
        "--resamples",
        min=1,
        help="html: paired bootstrap resamples of the mean gain.",
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="html: seed of the bootstrap."),
    iou_type: str = typer.Option(
        None,
        "--iou-type",
        help="bbox, segm or keypoints: the folder's iouType (read from summary.json; a folder "
        "holds one), checked when given.",
    ),
) -> None:
    """Export the per-image table of DIR as csv, json or parquet, or write an HTML report
    folder that opens offline: AP per variant, the 12 COCO numbers, wins, per-category AP, a
    histogram of per-image AP differences, a paired bootstrap 95% CI of the mean difference, a
    gallery original | LFC | HFC with ground truth, detections and gained/lost objects, and a
    Frequency response section where DIR holds curve.csv (hfc-detect curve) or a heat map in
    DIR/heatmap/ (hfc-detect heatmap -o DIR/heatmap)."""
    from rich.console import Console
    from rich.progress import Progress

    from hfc_detect.reports.export import export
    from hfc_detect.utils.cli import print_failed_images

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=fmt != "html") as progress:
        result = export(
            directory,
            fmt=fmt,
            output=output,
            top=top,
            variant=variant,
            images=images,
            radius=radius,
            score_threshold=score_threshold,
            resamples=resamples,
            seed=seed,
            progress=progress,
            iou_type=iou_type,
        )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    typer.echo(f"wrote {result.path}" + ("/index.html" if fmt == "html" else ""))
    print_failed_images(console, result.failed)  # last: where nobody misses it
