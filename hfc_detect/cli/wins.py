"""``hfc-detect wins``: images where a variant beats the baseline, and the objects behind it."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_detect.reports.defaults import DEFAULT_SCORE_THRESHOLD, DEFAULT_VARIANT

_SHOWN_BY_DEFAULT = 25


def _objects_text(objs: list[dict] | None, names: dict[int, str]) -> str:
    if objs is None:
        return "-"
    return ", ".join(names.get(o["category_id"], str(o["category_id"])) for o in objs)


def _errors_text(change: dict[str, int] | None) -> str:
    from hfc_detect.analysis.errors import change_text

    return "-" if change is None else change_text(change)


def wins_command(
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="Comparison folder written by compare or eval."
    ),
    variant: str = typer.Option(
        None,
        "--variant",
        help=f"Variant to compare with the baseline. [default: {DEFAULT_VARIANT}]",
        show_default=False,
    ),
    min_delta: float = typer.Option(
        0.0, "--min-delta", help="Keep images where AP(variant) - AP(baseline) > this margin."
    ),
    top: int = typer.Option(
        None, "--top", min=1, help="Keep only the N largest gains (default: all)."
    ),
    score_threshold: float = typer.Option(
        DEFAULT_SCORE_THRESHOLD,
        "--score-threshold",
        help="Detections with score >= this can find an object (IoU >= 0.5, same category).",
    ),
    objects: bool = typer.Option(
        True,
        "--objects/--no-objects",
        help="Match objects (reads the annotations and predictions named in summary.json).",
    ),
    iou_type: str = typer.Option(
        None,
        "--iou-type",
        help="bbox, segm or keypoints: the folder's iouType (read from summary.json; a folder "
        "holds one), checked when given.",
    ),
) -> None:
    """List the images where the variant's per-image AP beats the baseline's by more than
    --min-delta, sorted by gain, with the ground-truth objects gained and lost (matched at IoU
    >= 0.5 by detections with score >= --score-threshold) and, where hfc-detect errors has
    written DIR/errors_per_image.csv, how TIDE's error counts changed; writes
    DIR/wins_<variant>.csv and .json. Images without non-crowd ground truth (undefined AP) are
    left out."""
    from rich.console import Console
    from rich.table import Table

    from hfc_detect.evaluation.params import OVERLAP_NAMES
    from hfc_detect.reports.wins import find_wins, write_wins
    from hfc_detect.results import check_comparison_folder, failed_image_text
    from hfc_detect.utils.cli import print_failed_images
    from hfc_detect.utils.files import check_output

    check_output(check_comparison_folder(directory))  # wins_<variant>.csv/.json go into DIR

    result = find_wins(
        directory,
        variant=variant,
        min_delta=min_delta,
        top=top,
        score_threshold=score_threshold,
        objects=objects,
        iou_type=iou_type,
    )
    csv_path, json_path = write_wins(result)
    console = Console()
    shown = result.wins if top is not None else result.wins[:_SHOWN_BY_DEFAULT]
    table = Table(
        title=(
            f"{result.variant} beats {result.baseline} on {result.count} of "
            f"{result.num_scored} images (AP gain > {result.min_delta:g})"
        )
    )
    table.add_column("image_id", justify="right")
    table.add_column("file_name", overflow="fold")
    for col in (f"AP {result.baseline}", f"AP {result.variant}", "gain"):
        table.add_column(col, justify="right")
    table.add_column("gained")
    table.add_column("lost")
    with_errors = any(w.error_change is not None for w in shown)
    if with_errors:
        table.add_column(f"TIDE errors, {result.variant} vs {result.baseline}")
    table.caption = (
        f"gained/lost: ground-truth objects found ({OVERLAP_NAMES[result.iou_type]} >= "
        f"{result.iou_threshold:g}, score >= "
        f"{result.score_threshold:g}) only by {result.variant} / only by {result.baseline}"
    )
    if with_errors:
        table.caption += (
            "; TIDE errors: change in the count of each error type (errors_per_image.csv, all "
            "detections, IoU 0.5 / background 0.1)"
        )
    for w in shown:
        table.add_row(
            str(w.image_id),
            w.file_name,
            f"{w.ap_baseline:.3f}",
            f"{w.ap_variant:.3f}",
            f"{w.delta:+.3f}",
            _objects_text(w.gained, result.category_names),
            _objects_text(w.lost, result.category_names),
            *([_errors_text(w.error_change)] if with_errors else []),
        )
    console.print(table)
    if len(shown) < len(result.wins):
        console.print(f"... {len(result.wins) - len(shown)} more in {csv_path}", soft_wrap=True)
    console.print(f"wrote {csv_path} and {json_path}", soft_wrap=True)
    print_failed_images(Console(stderr=True), [failed_image_text(f) for f in result.failed_images])
