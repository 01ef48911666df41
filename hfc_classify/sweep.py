"""Grids of training runs from YAML: expand, skip finished runs, run them here or on Slurm.

A sweep file holds::

    name: table1                 # sub-folder of the output root
    base: {epochs: 100, ...}     # TrainConfig settings shared by every run
    runs:                        # optional: named variants, each merged over base
      - {name: vanilla}
      - {name: dropout, dropout: 0.5}
    grid:                        # optional: every combination, merged over each variant
      train_on: [lfc, hfc]
      train_radius: [4, 8, 12, 16]

Each run gets its own folder ``ROOT/NAME/RUN`` (a run's name joins its variant name and grid
values, e.g. ``train_on-lfc_train_radius-4``). A folder with ``summary.json`` is finished and
skipped; one with only a checkpoint is resumed.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfc_classify.engine.config import TrainConfig
from hfc_classify.engine.run import train
from hfc_classify.engine.run_folder import RunFolder, is_finished, read_request
from hfc_detect.utils.errors import InputError

LAUNCHERS = ("local", "gpus", "slurm")


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its folder and settings."""

    name: str
    run_dir: Path
    config: TrainConfig


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from the command line; the value is read as YAML (numbers, booleans...)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set: expected key=value, got {text!r}")
    return key.strip(), yaml.safe_load(value) if value.strip() else ""


def load_sweep(
    path: str | Path, root: str | Path, overrides: dict[str, Any] | None = None
) -> list[Run]:
    """The runs of the sweep file ``path`` under ``root``; ``overrides`` replace base settings."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: sweep file not found")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(spec, dict):
        raise InputError(f"{path}: expected a mapping with base/runs/grid")
    unknown = sorted(set(spec) - {"name", "base", "runs", "grid", "description"})
    if unknown:
        raise InputError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    base = dict(spec.get("base") or {})
    base.update(overrides or {})
    variants = spec.get("runs") or [{}]
    grid = spec.get("grid") or {}
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise InputError(f"{path}: 'runs' must be a list of mappings")
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise InputError(f"{path}: 'grid' must map settings to non-empty lists")
    out_dir = Path(root) / str(spec.get("name") or path.stem)
    runs, seen = [], set()
    for variant in variants:
        variant = dict(variant)
        label = str(variant.pop("name", ""))
        for combo in itertools.product(*grid.values()):
            values = dict(zip(grid, combo, strict=True))
            parts = [label] if label else []
            parts += [f"{k}-{_value_text(v)}" for k, v in values.items()]
            name = "_".join(parts) or "run"
            if name in seen:
                raise InputError(f"{path}: two runs are both named {name!r}")
            seen.add(name)
            settings = {**base, **variant, **values}
            runs.append(
                Run(name, out_dir / name, TrainConfig.from_dict(settings, f"{path}:{name}"))
            )
    return runs


def select_runs(runs: list[Run], names: list[str]) -> list[Run]:
    """The runs named in ``names``, in sweep order (all runs when ``names`` is empty); an
    unknown name raises :class:`InputError` listing the sweep's runs."""
    known = [r.name for r in runs]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"no run named {', '.join(unknown)} in this sweep (runs: {', '.join(known)})"
        )
    return [r for r in runs if not names or r.name in names]


def run_request(request: str | Path) -> None:
    """Train the run described by a request file (for subprocess and Slurm workers)."""
    config, run_dir = read_request(request)
    train(TrainConfig.from_dict(config), run_dir, progress=False)


def _write_request(run: Run, device: str | None = None) -> Path:
    config = run.config.to_dict()
    if device is not None:
        config["device"] = device
    return RunFolder(run.run_dir).write_request(config)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def run_sweep(
    runs: list[Run],
    *,
    launcher: str = "local",
    progress: bool = True,
    log: Callable[[str], None] = print,
    slurm: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Run every unfinished run; returns ``{name: 'skipped' | 'done' | 'submitted' | 'failed'}``.

    ``local``: one after another in this process. ``gpus``: one run per GPU at a time, each in
    its own process. ``slurm``: one Slurm array job through submitit (``slurm`` holds executor
    parameters such as ``slurm_partition``, ``timeout_min``, ``gpus_per_node``, and optionally
    ``cluster``: submitit's choice, None for Slurm where there is one, ``local`` for local
    processes submitted through the same code)."""
    if launcher not in LAUNCHERS:
        raise InputError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
    status = {r.name: "skipped" for r in runs if is_finished(r.run_dir)}
    todo = [r for r in runs if r.name not in status]
    for name in status:
        log(f"skip {name}: finished")
    if not todo:
        return status
    if launcher == "local":
        for i, run in enumerate(todo, 1):
            log(f"[{i}/{len(todo)}] {run.name}")
            train(run.config, run.run_dir, progress=progress, log=log)
            status[run.name] = "done"
    elif launcher == "gpus":
        status.update(_run_on_gpus(todo, log))
    else:
        status.update(_submit_slurm(todo, slurm or {}, log))
    return status


def _run_on_gpus(todo: list[Run], log: Callable[[str], None]) -> dict[str, str]:
    gpus = _gpu_count()
    if gpus == 0:
        raise InputError("launcher 'gpus': no CUDA GPU here; use the local launcher")
    status: dict[str, str] = {}
    queue = list(todo)
    active: dict[int, tuple[Run, subprocess.Popen]] = {}
    while queue or active:
        for gpu in range(gpus):
            if gpu not in active and queue:
                run = queue.pop(0)
                request = _write_request(run, device="cuda")
                env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu)}
                cmd = [sys.executable, "-m", "hfc_classify.sweep", str(request)]
                log(f"gpu {gpu}: {run.name}")
                active[gpu] = (run, subprocess.Popen(cmd, env=env))
        for gpu, (run, proc) in list(active.items()):
            if proc.poll() is not None:
                status[run.name] = "done" if proc.returncode == 0 else "failed"
                log(f"gpu {gpu}: {run.name} {status[run.name]}")
                del active[gpu]
        time.sleep(1.0)
    return status


def _submit_slurm(
    todo: list[Run], params: dict[str, Any], log: Callable[[str], None]
) -> dict[str, str]:
    try:
        import submitit
    except ImportError:
        raise InputError(
            "launcher 'slurm' needs submitit: pip install submitit (or hfc-toolkit[slurm])"
        ) from None
    folder = todo[0].run_dir.parent / "slurm"
    params = dict(params)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=params.pop("cluster", None))
    executor.update_parameters(**{"gpus_per_node": 1, "timeout_min": 24 * 60, **params})
    requests = [str(_write_request(run)) for run in todo]
    jobs = executor.map_array(run_request, requests)
    for run, job in zip(todo, jobs, strict=True):
        log(f"submitted {run.name}: job {job.job_id}")
    return {run.name: "submitted" for run in todo}


if __name__ == "__main__":
    run_request(sys.argv[1])
