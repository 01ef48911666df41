"""``hfc-detect heatmap`` as one call: say its size, share it across ranks, rank 0 writes.

Under ``torchrun`` (or Detectron2's ``launch``, which creates the process group itself) every
rank calls :func:`run_heatmap_job`; ranks share the detector runs
(:func:`hfc_detect.analysis.heatmap.detector_heatmap`), and only rank 0 prints, draws the
progress bar and writes the folder. A run killed with any number of ranks resumes with any
other number, from ``heatmap_progress.jsonl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hfc_detect.analysis.heatmap import (
    LOG_NAME,
    DetectorHeatmap,
    DetectorHeatmapConfig,
    detector_heatmap,
    frequency_chunks,
    grid_frequencies,
    heatmap_cost,
    read_log,
    write_heatmap,
)
from hfc_detect.frequency.basis import Frequency
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.files import check_output


@dataclass(frozen=True)
class HeatmapJob:
    """What ``hfc-detect heatmap`` was asked: the map's ``config``, the data (as for
    ``eval``: ``dataset`` or ``annotations`` + ``images``), the detector and the folder."""

    output: Path
    config: DetectorHeatmapConfig = field(default_factory=DetectorHeatmapConfig)
    dataset: str | None = None
    annotations: Path | None = None
    images: Path | None = None
    backend: str | None = None
    config_file: str | None = None
    weights: str | None = None
    overrides: tuple[str, ...] = ()
    device: str | None = None
    threads: int | None = None


@dataclass(frozen=True)
class HeatmapPlan:
    """The size of a heat map run: ``frequencies`` run (one per +-f pair of the grid) on
    ``images`` images, ``done`` of them logged by an earlier run, shared by ``world_size``
    ranks. A detector run is one perturbed (or clean) image."""

    grid: int
    frequencies: int
    images: int
    done: int
    runs_per_rank: tuple[int, ...]

    @property
    def runs(self) -> int:
        """Detector runs of the whole map: the clean pass and every frequency, on every image."""
        return heatmap_cost(self.grid, self.images)

    @property
    def runs_now(self) -> int:
        return sum(self.runs_per_rank)

    def describe(self) -> str:
        """The plan on one line."""
        ranks = len(self.runs_per_rank)
        most = max(self.runs_per_rank)
        share = f", at most {most:,} on one of {ranks} ranks" if ranks > 1 else ""
        left = (f"; {self.done} frequencies logged already, {self.runs_now:,} runs left"
                if self.done else "")  # fmt: skip
        return (
            f"heat map: {self.grid} x {self.grid} cells = {self.frequencies} frequencies "
            f"(one per +-f pair) + clean, x {self.images:,} images = {self.runs:,} detector "
            f"runs{left}{share}"
        )


def plan_heatmap(
    config: DetectorHeatmapConfig,
    images: int,
    done: Collection[Frequency] = (),
    world_size: int = 1,
) -> HeatmapPlan:
    """The runs each rank makes: its images of the clean pass (every ``world_size``-th) and,
    for each of its chunks of frequencies (chunk k of each round of ``world_size``), every
    image."""
    reps, _ = grid_frequencies(config.grid, config.step)
    todo = [c for c in frequency_chunks(reps, config.batch_size, set(done)) if c]
    per_rank = tuple(
        len(range(r, images, world_size)) + images * sum(len(c) for c in todo[r::world_size])
        for r in range(world_size)
    )
    return HeatmapPlan(config.grid, len(reps), images, len(reps) - sum(map(len, todo)), per_rank)


def run_heatmap_job(
    job: HeatmapJob,
    *,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    note: Callable[[str], None] | None = None,
) -> DetectorHeatmap | None:
    """Plan the map, ``say`` its size in one line (on rank 0), and unless ``dry_run`` compute
    it (progress bar with ETA on a terminal) and write ``output``: ``heatmap.npy``,
    ``heatmap.csv``, ``heatmap.png``, ``heatmap.json``
    (:func:`hfc_detect.analysis.heatmap.write_heatmap`). ``note`` (default ``say``) hears, on
    rank 0, that a run resumes and how far. Returns the map (None for a dry run)."""
    note = note or say
    from hfc_detect.modeling.settings import DetectorSettings
    from hfc_detect.pipeline.inputs import resolve_dataset
    from hfc_detect.utils.progress import progress_bar

    check_output(job.output)  # before any heavy work
    created = dist.init_from_env()
    try:
        if job.threads is not None:
            import torch

            torch.set_num_threads(job.threads)
        ds, _ = resolve_dataset(job.dataset, job.annotations, job.images)
        backend = job.backend or ("demo" if ds.name == "demo" else "detectron2")
        settings = {"annotations": str(ds.annotations), "images_dir": str(ds.images_dir),
                    "backend": backend, "weights": job.weights, "config_file": job.config_file,
                    "overrides": list(job.overrides)}  # fmt: skip
        n = min(job.config.limit or len(ds.images), len(ds.images))
        is_main = dist.rank() == 0
        done = _logged(job, settings) if is_main else {}
        plan = plan_heatmap(job.config, n, dist.broadcast(set(done)), dist.world_size())
        if is_main:
            say(plan.describe())
        if dry_run:
            return None
        device = job.device or dist.default_device()
        built_from = DetectorSettings(backend, job.config_file, job.weights, job.overrides, device)
        detector = built_from.build(ds.gt.category_names_by_id())
        start = time.perf_counter()
        bar = progress_bar(f"heat map, grid {job.config.grid}", plan.runs_now)
        with bar if is_main else nullcontext(None) as advance:
            result = detector_heatmap(
                detector,
                ds,
                job.config,
                job.output,
                settings=settings,
                progress=advance,
                on_resume=lambda done, total: note(
                    f"resuming {job.output}: {done} of {total} frequencies done"
                ),
            )
        seconds = time.perf_counter() - start
        if is_main:
            write_heatmap(job.output, result, job.config, settings, seconds=seconds)
            say(
                f"clean AP {result.clean_ap:.4f}; AP under perturbation {result.ap.min():.4f} to "
                f"{result.ap.max():.4f}; wrote {job.output}/heatmap.npy, heatmap.csv, "
                f"heatmap.png ({seconds:.0f} s)"
            )
        return result
    finally:
        dist.shutdown(created)


def _logged(job: HeatmapJob, settings: dict[str, Any]) -> dict:
    """Frequencies an earlier run logged (read only: a dry run changes nothing)."""
    full = {**settings, **asdict(job.config)}
    return read_log(Path(job.output) / LOG_NAME, full, repair=False)
