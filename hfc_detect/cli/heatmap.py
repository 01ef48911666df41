"""``hfc-detect heatmap``: a detector's Fourier heat map (AP under each Fourier basis image)."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_detect.cli.app import app


@app.command(
    "heatmap",
    short_help="Fourier heat map of a detector: AP when one Fourier basis image is added.",
    help="For each frequency (fy, fx) of a --grid x --grid grid, --step cycles per image "
    "apart (zero at the centre; 16 x 16: up to 128 cycles per image, the paper's radius), "
    "add the real Fourier basis image of that frequency (unit L2 norm per channel, "
    "scaled to --eps on the 0..255 scale, clipped to 0..255) to every image, run the detector "
    "and record the whole-set COCO AP and the mean per-image AP difference against the clean "
    "images. Only one of (fy, fx) and (-fy, -fx) is run (the same image). Cost: about --limit x "
    "grid^2 / 2 detector runs. Writes DIR/heatmap.npy ((2, G, G): AP, mean per-image AP "
    "difference; row fy, column fx), DIR/heatmap.csv, DIR/heatmap.png and DIR/heatmap.json; "
    "DIR/heatmap_progress.jsonl lets a killed run resume (run the same command again). Under "
    "torchrun the ranks share the work and rank 0 writes; a run resumes with any number of "
    "ranks. The plan's size is printed first; --dry-run prints it and exits.",
)
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
    annotations: Path = typer.Option(None, "--annotations", help="COCO annotations JSON."),
    images: Path = typer.Option(None, "--images", help="Folder of the annotations' images."),
    backend: str = typer.Option(
        None, "--backend", help="As for eval. [default: detectron2; demo for the demo]"
    ),
    config_file: str = typer.Option(None, "--config-file", help="Model config (Detectron2)."),
    weights: str = typer.Option(None, "--weights", help="Checkpoint file."),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE."),
    device: str = typer.Option(None, "--device", help="e.g. cpu, cuda [default: backend's]."),
    batch_size: int = typer.Option(8, "--batch-size", help="Perturbed copies per detector call."),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (cells, images, detector runs) and exit."
    ),
) -> None:
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy work (torch)
    from hfc_detect.analysis.heatmap import DetectorHeatmapConfig
    from hfc_detect.analysis.heatmap_job import HeatmapJob, run_heatmap_job

    job = HeatmapJob(output, DetectorHeatmapConfig(grid, step, eps, batch_size, limit), dataset,
                     annotations, images, backend, config_file, weights, tuple(overrides),
                     device, threads)  # fmt: skip
    run_heatmap_job(job, dry_run=dry_run, say=typer.echo)
