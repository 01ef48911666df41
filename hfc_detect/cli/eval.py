"""``hfc-detect eval``: run a detector on original, LFC and HFC images and compare per image."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hfc_detect.cli.app import app


def default_output() -> Path:
    """``runs/eval-<UTC timestamp>`` under the current folder."""
    return Path("runs") / time.strftime("eval-%Y%m%d-%H%M%S", time.gmtime())


@app.command(
    "eval", short_help="Run a detector on original, LFC and HFC images and score every image."
)
def eval_command(
    radius: list[float] = typer.Option(
        None,
        "--radius",
        "-r",
        help="Split radius in pixels of the centred spectrum (the paper: 128); repeat for more.",
    ),
    radius_sweep: int = typer.Option(
        None,
        "--radius-sweep",
        help="Instead of --radius: N radii geometric from 4 to the images' half-diagonal "
        "(for hfc-detect curve).",
        show_default=False,
    ),
    variants: str = typer.Option(
        "original,lfc,hfc", "--variants", help="Comma-separated variants to run."
    ),
    dataset: str = typer.Option(
        None,
        "--dataset",
        help="Builtin dataset: coco_2017_val (read from $DETECTRON2_DATASETS/coco, as Detectron2 "
        "does) or demo. [default: coco_2017_val if found there, else the bundled demo]",
    ),
    annotations: Path = typer.Option(
        None, "--annotations", help="COCO annotations JSON (with --images) instead of --dataset."
    ),
    images: Path = typer.Option(None, "--images", help="Folder of the annotations' images."),
    backend: str = typer.Option(
        None,
        "--backend",
        help="detectron2, torchvision, onnx-yolox, demo or package.module:Class. "
        "[default: detectron2; demo for the demo dataset]",
    ),
    config_file: str = typer.Option(
        None, "--config-file", help="Model config (Detectron2: a yaml or a model-zoo path)."
    ),
    weights: str = typer.Option(None, "--weights", help="Checkpoint file or URL."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Config override KEY=VALUE (e.g. INPUT.MIN_SIZE_TEST=320); repeatable."
    ),
    pixel_mode: str = typer.Option(
        "raw",
        "--pixel-mode",
        help="How LFC/HFC become model inputs: raw (as the FFT gives them, as the paper fed "
        "them), clip (to 0..255) or max (scaled by 255 / the image's maximum).",
    ),
    device: str = typer.Option(
        None, "--device", help="e.g. cpu, cuda, cuda:1 [default: backend's]."
    ),
    batch_size: int = typer.Option(1, "--batch-size", help="Images per detector call."),
    num_workers: int = typer.Option(2, "--num-workers", help="DataLoader workers decoding images."),
    limit: int = typer.Option(None, "--limit", help="Only the first N images (by image id)."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the run in --output (re-running with the same settings does too; this "
        "also fails if there is nothing to resume).",
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output folder. [default: runs/eval-<UTC time>]"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    threads: int = typer.Option(
        None,
        "--threads",
        min=1,
        help="torch CPU threads (torch.set_num_threads). On a CPU shared with other jobs, 1 can "
        "be many times faster. [default: torch's choice]",
    ),
) -> None:
    """Evaluate a detector on original, LFC and HFC images: writes DIR/predictions/<variant>.json,
    DIR/per_image.csv and DIR/summary.json. Launch under torchrun for several GPUs/nodes."""
    from rich.console import Console

    from hfc_detect.engine.evaluate import run_eval

    if resume and output is None:
        from hfc_detect.utils.errors import InputError

        raise InputError("--resume needs --output (the folder of the run to continue)")
    output = output if output is not None else default_output()
    from hfc_detect.analysis.radii import resolve_radii

    radius = resolve_radii(radius or [], radius_sweep, dataset, annotations, images)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    result = run_eval(
        radius,
        output,
        variants=variants,
        dataset=dataset,
        annotations=annotations,
        images=images,
        backend=backend,
        config_file=config_file,
        weights=weights,
        overrides=overrides,
        pixel_mode=pixel_mode,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        limit=limit,
        resume=resume,
        progress=progress,
    )
    if result.summary is None:  # not rank 0
        return
    console = Console()
    for v in result.summary["variants"]:
        ap = v["stats"]["AP"]
        wins = v.get("wins_over_baseline", 0)
        console.print(f"{v['name']:>12}  AP {ap:.4f}  wins over baseline {wins}")
    console.print(f"wrote {result.output}/summary.json, per_image.csv, predictions/")
