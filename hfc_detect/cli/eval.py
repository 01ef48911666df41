"""``hfc-detect eval``: run a detector on original, LFC and HFC images and compare per image."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import typer

from hfc_detect.cli.app import app

EXIT_PARTIAL = 1  # some images failed: everything is written, the failures are listed
EXIT_INTERRUPTED = 130


@app.command(
    "eval", short_help="Run a detector on original, LFC and HFC images and score every image."
)
def eval_command(
    radius: list[float] = typer.Option(
        ...,
        "--radius",
        "-r",
        help="Split radius in pixels of the centred spectrum (the paper: 128); repeat for more.",
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
    """Evaluate a detector on original, LFC and HFC images: writes DIR/predictions/<variant>.json,
    DIR/per_image.csv and DIR/summary.json. Launch under torchrun for several GPUs/nodes. Exit
    code 1 when some images could not be used (all else is written; they are listed)."""
    from hfc_detect.engine.evaluate import EvalConfig, run_eval

    config = EvalConfig(
        radii=tuple(radius),
        variants=variants,
        dataset=dataset,
        annotations=annotations,
        images=images,
        backend=backend,
        config_file=config_file,
        weights=weights,
        overrides=tuple(overrides),
        pixel_mode=pixel_mode,
        limit=limit,
        output=output,
        resume=resume,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        threads=threads,
    )
    view = EvalView(progress)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run_eval(config, on_progress=view)
    except KeyboardInterrupt:
        view.close()
        typer.echo(view.interrupted_line(), err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        view.close()
        signal.signal(signal.SIGTERM, previous)
    if result.summary is None:  # not rank 0
        return
    view.report(result)
    if result.failed_images:
        raise typer.Exit(EXIT_PARTIAL)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class EvalView:
    """The terminal side of ``eval``: the demo notice, the progress bar, warnings, the end."""

    def __init__(self, show_progress: bool):
        from rich.console import Console

        self.err = Console(stderr=True, soft_wrap=True)
        self.show_progress = show_progress
        self.progress = None
        self.task = None
        self.output: Path | None = None
        self.done = self.total = self.started = 0
        self.start_time = 0.0

    def __call__(self, event) -> None:
        if event.kind == "warning":
            self.err.print(f"[yellow]warning[/yellow]: {event.message}", highlight=False)
        elif event.kind == "start":
            self._start(event)
        elif event.kind == "images":
            self._advance(event)

    def _start(self, event) -> None:
        import time

        self.output, self.done, self.total = event.output, event.done, event.total
        self.started, self.start_time = event.done, time.perf_counter()
        if event.demo_fallback:
            self.err.print(demo_notice())
        if event.done:
            self.err.print(f"resuming {event.output}: {event.done} of {event.total} images done")
        self.progress = _progress_bar(self.err, self.show_progress)
        self.task = self.progress.add_task("eval", total=event.total, completed=event.done,
                                           rate="-")  # fmt: skip
        self.progress.start()

    def _advance(self, event) -> None:
        import time

        for f in event.failed:
            self.err.print(
                f"[yellow]warning[/yellow]: image {f['image_id']} ({f['file_name']}) "
                f"skipped: {f['error']}",
                highlight=False,
            )
        new = event.done - self.done
        self.done = event.done
        rate = (self.done - self.started) / max(time.perf_counter() - self.start_time, 1e-9)
        self.progress.update(self.task, advance=new, rate=f"{rate:.2f}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def interrupted_line(self) -> str:
        if self.output is None:
            return "interrupted before any image was run; nothing to continue"
        return (
            f"interrupted: {self.done} of {self.total} images are saved in {self.output}; "
            "run the same command again to continue"
        )

    def report(self, result) -> None:
        """The results table, the failed images (loudly), and the next commands."""
        from rich.console import Console

        out = Console(soft_wrap=True)
        summary = result.summary
        if result.reused:
            out.print(f"{result.output} already holds this finished run; not recomputed:")
        baseline = summary["baseline"]
        for v in summary["variants"]:
            wins = (
                "" if v["name"] == baseline else f"  wins over {baseline} {v['wins_over_baseline']}"
            )
            out.print(f"{v['name']:>12}  AP {v['stats']['AP']:.4f}{wins}", highlight=False)
        out.print(f"wrote {result.output}/summary.json, per_image.csv, predictions/")
        failed = result.failed_images
        if failed:
            self.err.print(
                f"[bold red]{len(failed)} of {summary['num_images'] + len(failed)} images "
                "could not be used and are not scored[/bold red] (listed in summary.json, "
                "failed_images):",
                highlight=False,
            )
            for f in failed:
                self.err.print(f"  {f['file_name']}: {f['error']}", highlight=False)
        quoted = _quote(result.output)
        out.print(f"next: hfc-detect wins {quoted}\n      hfc-detect export {quoted} --format html",
                  highlight=False)  # fmt: skip


def _quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


def demo_notice():
    """The panel that says loudly that this is the demo, not COCO, and how to get COCO."""
    from rich.panel import Panel

    from hfc_detect.engine.dataset import builtin_paths, detectron2_datasets_root

    ann, img = builtin_paths("coco_2017_val")
    root = detectron2_datasets_root()
    where = (
        f"DETECTRON2_DATASETS={os.environ['DETECTRON2_DATASETS']}"
        if "DETECTRON2_DATASETS" in os.environ
        else f"DETECTRON2_DATASETS is not set, so Detectron2 looks in ./datasets = {root.resolve()}"
    )
    return Panel(
        "COCO val2017 was not found where Detectron2 looks for it:\n"
        f"  {ann}\n  {img}\n({where}),\n"
        "so this run uses the BUNDLED DEMO dataset and detector (synthetic shapes), "
        "not COCO. Its numbers are NOT the paper's.\n\n"
        "To evaluate on COCO: put val2017 under $DETECTRON2_DATASETS/coco and run again, or "
        "pass --dataset coco_2017_val, or --annotations GT.json --images DIR.",
        title="[bold]DEMO RUN, NOT COCO[/bold]",
        border_style="bold yellow",
    )


def _progress_bar(console, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]eval[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} img/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
