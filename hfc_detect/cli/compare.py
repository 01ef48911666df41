"""``hfc-detect compare``: per-image and whole-set COCO AP of several prediction files."""

from __future__ import annotations

from pathlib import Path

import typer


def compare_command(
    annotations: Path = typer.Option(
        ...,
        "--annotations",
        "-a",
        metavar="FILE",
        help="COCO ground-truth JSON (instances_*.json).",
    ),
    predictions: list[str] = typer.Option(
        ...,
        "--predictions",
        "-p",
        help="NAME=PATH of a COCO results JSON; repeat for each variant (e.g. original=o.json "
        "lfc=l.json hfc=h.json). The first is the baseline.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="DIR", help="Folder to write the results to."
    ),
    images: Path = typer.Option(
        None,
        "--images",
        metavar="DIR",
        help="Image folder, recorded in summary.json for reports (optional).",
    ),
    iou_type: str = typer.Option(
        "bbox", "--iou-type", help="COCOeval iouType: bbox, segm (masks) or keypoints (OKS)."
    ),
    kpt_oks_sigmas: str = typer.Option(
        None,
        "--kpt-oks-sigmas",
        help="keypoints: comma-separated OKS sigmas, one per keypoint, for every category "
        "(default: the category's 'kpt_oks_sigmas' field, else COCO's 17 person sigmas).",
    ),
) -> None:
    """Score COCO results files against COCO annotations, per image and for the whole set,
    exactly as pycocotools' COCOeval (bbox, segm or keypoints) does; the first --predictions is
    the baseline. Writes DIR/per_image.csv (+ .jsonl, + .parquet with pyarrow) and
    DIR/summary.json."""
    from rich.console import Console

    from hfc_detect.evaluation.params import check_iou_type
    from hfc_detect.results import compare
    from hfc_detect.utils.cli import parse_number_list
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import check_output

    check_output(output)

    check_iou_type(iou_type)
    sigmas = parse_number_list([kpt_oks_sigmas], "--kpt-oks-sigmas") if kpt_oks_sigmas else None

    variants: dict[str, Path] = {}
    for spec in predictions:
        name, path = parse_predictions_option(spec)
        if name in variants:
            raise InputError(f"variant name {name!r} is given twice in --predictions")
        variants[name] = path

    console = Console()
    with console.status("scoring predictions..."):
        summary = compare(annotations, variants, output, images_dir=images, iou_type=iou_type,
                          kpt_oks_sigmas=sigmas)  # fmt: skip
    console.print(summary_table(summary))
    files = sorted(p.name for p in output.iterdir() if p.name.startswith(("per_image", "summary")))
    console.print(
        f"{summary['num_images_scored']} of {summary['num_images']} images scored (images "
        f"without non-crowd ground truth have no AP). Wrote {output}: {', '.join(files)}"
    )


def parse_predictions_option(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` (as given to ``--predictions``) -> (name, path)."""
    from hfc_detect.results import check_variant_name
    from hfc_detect.utils.errors import InputError

    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise InputError(
            f"--predictions expects NAME=PATH (e.g. original=preds.json), got {spec!r}"
        )
    return check_variant_name(name), Path(path)


def summary_table(summary: dict):
    """Rich table: the COCO numbers per variant and the images where each beats the baseline."""
    from rich.table import Table

    baseline = summary["baseline"]
    variants = summary["variants"]
    iou_type = summary.get("iou_type", "bbox")
    table = Table(title=f"COCO {iou_type} evaluation, {summary['num_images']} images")
    table.add_column("metric", style="bold")
    for v in variants:
        table.add_column(v["name"], justify="right")
    for name in variants[0]["stats"]:
        table.add_row(name, *(f"{v['stats'][name]:.3f}" for v in variants))
    scored = summary["num_images_scored"]
    wins = [
        "-" if v["name"] == baseline else f"{v['wins_over_baseline']} / {scored}" for v in variants
    ]
    table.add_row(f"images AP > {baseline}", *wins, end_section=True)
    return table
