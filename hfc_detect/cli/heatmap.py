"""``hfc-detect heatmap``: a detector's Fourier heat map (AP under each Fourier basis image)."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def heatmap_command(
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write."),
    grid: int = typer.Option(16, "--grid", help="Frequencies per axis."),
    step: int = typer.Option(
        16, "--step", help="Cycles per image between grid frequencies (16 x 16: up to 128)."
    ),
    eps: float = typer.Option(
        2000.0, "--eps", help="L2 norm of the basis image per channel, 0..255 scale."
    ),
    limit: int = typer.Option(
        None, "--limit", help="First N images (by id). [default: all]", show_default=False
    ),
    dataset: str = typer.Option(
        None, "--dataset", help="coco_2017_val or demo [default: as eval chooses]."
    ),
    annotations: Path = typer.Option(
        None, "--annotations", "-a", metavar="FILE", help="COCO annotations JSON."
    ),
    images: Path = typer.Option(
        None, "--images", metavar="DIR", help="Folder of the annotations' images."
    ),
    backend: str = typer.Option(
        None, "--backend", help="As for eval. [default: detectron2; demo for the demo]"
    ),
    config_file: str = typer.Option(None, "--config-file", help="Model config (Detectron2)."),
    weights: str = typer.Option(None, "--weights", help="Checkpoint file."),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE."),
    device: str = typer.Option(None, "--device", help="e.g. cpu, cuda [default: backend's]."),
    batch_size: int = typer.Option(8, "--batch-size", help="Perturbed copies per detector call."),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
) -> None:
    """For each frequency (fy, fx) of a --grid x --grid grid, --step cycles per image apart
    (zero at the centre; 16 x 16: up to 128 cycles per image, the paper's radius), add the real
    Fourier basis image of that frequency (unit L2 norm per channel, scaled to --eps on the
    0..255 scale, clipped to 0..255) to every image, run the detector and record the whole-set
    COCO AP and the mean per-image AP difference against the clean images. Only one of (fy, fx)
    and (-fy, -fx) is run (the same image). Cost: about --limit x grid^2 / 2 detector runs.
    Writes DIR/heatmap.npy ((2, G, G): AP, mean per-image AP difference; row fy, column fx),
    DIR/heatmap.csv, DIR/heatmap.png and DIR/heatmap.json; DIR/heatmap_progress.jsonl lets a
    killed run resume (run the same command again)."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy work
    from hfc_detect.analysis.heatmap import (
        DetectorHeatmapConfig,
        detector_heatmap,
        grid_frequencies,
        heatmap_cost,
        logged_frequencies,
        write_heatmap,
    )
    from hfc_detect.engine.dataset import resolve_dataset
    from hfc_detect.modeling import build_detector
    from hfc_detect.utils.cli import interruptible
    from hfc_detect.utils.progress import progress_bar

    config = DetectorHeatmapConfig(grid, step, eps, batch_size, limit)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    ds, _ = resolve_dataset(dataset, annotations, images)
    backend = backend or ("demo" if ds.name == "demo" else "detectron2")
    options = {"config_file": config_file, "weights": weights, "device": device}
    options = {k: v for k, v in options.items() if v is not None}
    if overrides:
        options["overrides"] = overrides
    detector = build_detector(backend, categories=ds.gt.category_names_by_id(), **options)
    settings = {"annotations": str(ds.annotations), "images_dir": str(ds.images_dir),
                "backend": backend, "weights": weights, "config_file": config_file,
                "overrides": overrides}  # fmt: skip
    n = min(limit or len(ds.images), len(ds.images))
    start = time.perf_counter()
    frequencies = len(grid_frequencies(grid)[0])
    with (
        interruptible(
            lambda: (
                f"{logged_frequencies(output)} of {frequencies} frequencies are saved in "
                f"{output}; run the same command again to continue"
            )
        ),
        progress_bar(f"heat map, grid {grid}", heatmap_cost(grid, n)) as advance,
    ):
        result = detector_heatmap(
            detector,
            ds,
            config,
            output,
            settings=settings,
            progress=advance,
            on_resume=lambda done, total: typer.echo(
                f"resuming {output}: {done} of {total} frequencies done", err=True
            ),
        )
    seconds = time.perf_counter() - start
    write_heatmap(output, result, config, settings, seconds=seconds)
    typer.echo(
        f"clean AP {result.clean_ap:.4f}; AP under perturbation {result.ap.min():.4f} to "
        f"{result.ap.max():.4f}; wrote {output}/heatmap.npy, heatmap.csv, heatmap.png "
        f"({seconds:.0f} s)"
    )
