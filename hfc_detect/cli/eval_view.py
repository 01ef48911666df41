"""The terminal side of ``hfc-detect eval``: the demo notice, the progress bar, warnings, the
end of the run (results, failed images, next commands) and the line after an interruption."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path


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
        elif event.kind == "finished":
            self._notices(event)
        elif event.kind == "images":
            self._advance(event)

    def _notices(self, event) -> None:
        """What every run on this folder says first, finished or not: the demo notice."""
        self.output, self.done, self.total = event.output, event.done, event.total
        if event.demo_fallback:
            self.err.print(demo_notice(), soft_wrap=False)  # wrap inside the panel, never crop

    def _start(self, event) -> None:
        self._notices(event)
        self.started, self.start_time = event.done, time.perf_counter()
        if event.done:
            self.err.print(f"resuming {event.output}: {event.done} of {event.total} images done")
        self.progress = _progress_bar(self.err, self.show_progress)
        self.task = self.progress.add_task("eval", total=event.total, completed=event.done,
                                           rate="-")  # fmt: skip
        self.progress.start()

    def _advance(self, event) -> None:
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
        """How to continue, with the images saved counted as a resume will count them (from
        the progress log on disk, not from the events seen so far)."""
        if self.output is None:
            return "before any image was run; run the same command again to start"
        from hfc_detect.pipeline.predictions import RunFolder

        saved = len(RunFolder(self.output).finished_ids())
        return (
            f"{saved} of {self.total} images are saved in {self.output}; "
            "run the same command again to continue"
        )

    def report(self, result) -> None:
        """The results table, the failed images (loudly), and the next commands."""
        from rich.console import Console

        out = Console(soft_wrap=True)
        summary = result.summary
        if result.reused:
            out.print(f"{result.output} already holds this finished run; nothing was computed "
                      "or written:")  # fmt: skip
        baseline = summary["baseline"]
        width = max(12, *(len(v["name"]) for v in summary["variants"]))  # band names are long
        for v in summary["variants"]:
            wins = (
                "" if v["name"] == baseline else f"  wins over {baseline} {v['wins_over_baseline']}"
            )
            out.print(f"{v['name']:>{width}}  AP {v['stats']['AP']:.4f}{wins}", highlight=False)
        if not result.reused:
            spectrum = f", {result.spectrum.name}" if result.spectrum is not None else ""
            out.print(f"wrote {result.output}/summary.json, per_image.csv, predictions/{spectrum}")
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
    return shlex.quote(str(path))


def demo_notice():
    """The panel that says loudly that this is the demo, not COCO, and how to get COCO."""
    from rich.panel import Panel

    from hfc_detect.pipeline.inputs import builtin_paths, detectron2_datasets_root

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
    from rich.progress import Progress, TextColumn

    from hfc_detect.utils.progress import progress_columns

    rate = TextColumn("{task.fields[rate]} img/s")
    return Progress(*progress_columns("eval", rate), console=console, disable=not enabled)
