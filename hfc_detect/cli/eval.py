"""``hfc-detect eval``: run a detector on original, LFC and HFC images and compare per image."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_detect.modeling import list_backends

EXIT_PARTIAL = 1  # some images failed: everything is written, the failures are listed


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
    band: list[str] = typer.Option(
        None,
        "--band",
        metavar="TEXT",
        help="R1:R2: also run the frequency band R1 <= d < R2 (LFC(R2) - LFC(R1), same FFT) as "
        "the variant band_r<R1>-<R2>; repeat for more.",
    ),
    band_sweep: int = typer.Option(
        None,
        "--band-sweep",
        help="Instead of --band: N octave bands, the last ending at the images' half-diagonal "
        "(for hfc-detect curve).",
        show_default=False,
    ),
    corruption: list[str] = typer.Option(
        None,
        "--corruption",
        metavar="TEXT",
        help="NAME:SEVERITY: also run one of ImageNet-C's 15 corruptions (e.g. gaussian_noise:3; "
        "severity 1-5) as the variant <name>_s<severity>, seeded per image; needs "
        "hfc-toolkit[corruptions]; repeat for more.",
    ),
    transform: list[str] = typer.Option(
        None,
        "--transform",
        metavar="TEXT",
        help="NAME=package.module:function: also run the images through function as the variant "
        "NAME; it takes and returns one (H, W, 3) float32 RGB array on 0..255 at the image's "
        "resolution; repeat for more.",
    ),
    dataset: str = typer.Option(
        None,
        "--dataset",
        help="Builtin dataset: coco_2017_val, coco_2017_val_100 or coco_2014_minival (read from "
        "$DETECTRON2_DATASETS/coco, as Detectron2 does), or demo (the bundled synthetic set). "
        "[default: coco_2017_val if found there, else the bundled demo]",
    ),
    annotations: Path = typer.Option(
        None,
        "--annotations",
        "-a",
        metavar="FILE",
        help="COCO annotations JSON (with --images) instead of --dataset.",
    ),
    images: Path = typer.Option(
        None, "--images", metavar="DIR", help="Folder of the annotations' images."
    ),
    backend: str = typer.Option(
        None,
        "--backend",
        help=f"{', '.join(list_backends())} (docs/backends.md) or package.module:Class. "
        "[default: detectron2; demo for the demo dataset]",
    ),
    config_file: str = typer.Option(
        None,
        "--config-file",
        help="Model config (Detectron2: a yaml or LazyConfig .py file, or a model-zoo path such "
        "as COCO-Detection/retinanet_R_50_FPN_1x.py).",
    ),
    weights: str = typer.Option(
        None, "--weights", help="Checkpoint file or URL (transformers: a folder or Hub id)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Config override KEY=VALUE (e.g. INPUT.MIN_SIZE_TEST=320); repeatable."
    ),
    pixel_mode: str = typer.Option(
        "raw",
        "--pixel-mode",
        help="How LFC/HFC become model inputs: raw (as the FFT gives them, as the paper fed "
        "them), clip (to 0..255) or max (scaled by 255 / the image's maximum).",
    ),
    iou_type: str = typer.Option(
        "bbox",
        "--iou-type",
        help="What is scored: bbox, segm (the detector's masks) or keypoints (its keypoints); "
        "one per run.",
    ),
    device: str = typer.Option(
        None, "--device", help="e.g. cpu, cuda, cuda:1 [default: backend's]."
    ),
    batch_size: int = typer.Option(1, "--batch-size", help="Images per detector call."),
    num_workers: int = typer.Option(
        None,
        "--num-workers",
        help="DataLoader workers decoding images. [default: min(2, CPUs - 1)]",
    ),
    limit: int = typer.Option(None, "--limit", help="Only the first N images (by image id)."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the run in --output (re-running with the same settings does too; this "
        "also fails if there is nothing to resume).",
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        metavar="DIR",
        help="Output folder. [default: runs/eval-<data>-<backend>-r<radii>-<hash of the "
        "settings>, so the same command resumes]",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    threads: int = typer.Option(
        None,
        "--threads",
        min=1,
        help="torch and onnxruntime CPU threads. [default: on CPU, CPUs - decoding workers, at "
        "least 1, so the cores are not oversubscribed; on GPU torch's choice]",
    ),
) -> None:
    """Evaluate a detector on original, LFC and HFC images: writes
    DIR/predictions/<variant>.json, DIR/per_image.csv and DIR/summary.json. Launch under
    torchrun for several GPUs/nodes. Exit code 1 when some images could not be used (all else
    is written; they are listed)."""
    from hfc_detect.utils.files import check_output

    check_output(output if output is not None else Path("runs"))  # before any heavy work
    from hfc_detect.analysis.radii import resolve_sweeps
    from hfc_detect.cli.eval_view import EvalView
    from hfc_detect.pipeline.run import EvalConfig, run_eval
    from hfc_detect.utils.cli import interruptible

    sweeps = (radius_sweep, band_sweep)
    radius, band = resolve_sweeps(radius or [], band or [], sweeps, dataset, annotations, images)
    config = EvalConfig(
        radii=tuple(radius),
        output=output,
        variants=variants,
        bands=tuple(band),
        corruptions=tuple(corruption or ()),
        transforms=tuple(transform or ()),
        dataset=dataset,
        annotations=annotations,
        images=images,
        backend=backend,
        config_file=config_file,
        weights=weights,
        overrides=tuple(overrides),
        pixel_mode=pixel_mode,
        iou_type=iou_type,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        limit=limit,
        resume=resume,
        threads=threads,
    )
    view = EvalView(progress)
    with interruptible(view.interrupted_line):
        try:
            result = run_eval(config, on_progress=view)
        finally:
            view.close()
    if result.summary is None:  # not rank 0
        return
    view.report(result)
    if result.failed_images:
        raise typer.Exit(EXIT_PARTIAL)
