"""A training run's folder: the one module that names, writes and reads its files.

``config.json`` (:meth:`TrainConfig.to_dict`), ``metrics.csv`` (one row an epoch),
``checkpoint.pt`` (model, optimizer, metrics so far, label permutation), ``label_permutation.npy``
when labels are shuffled, ``summary.json`` once all epochs are done, ``tensorboard/`` when asked
for, and ``request.json`` when a sweep hands the run to another process. Every file is written
atomically; after each epoch the metrics go first and the checkpoint last, so the checkpoint is
the commit point.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, write_json_atomic, write_text_atomic

CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
PERMUTATION = "label_permutation.npy"
SUMMARY = "summary.json"
TENSORBOARD = "tensorboard"
REQUEST = "request.json"


def is_finished(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a run whose epochs are all done."""
    return RunFolder(run_dir).finished


def read_request(request: str | Path) -> tuple[dict[str, Any], Path]:
    """The settings and run folder of a request file (:meth:`RunFolder.write_request`)."""
    values = json.loads(Path(request).read_text())
    return values["config"], Path(values["run_dir"])


def _metrics_csv(history: list[dict[str, float]]) -> str:
    """``metrics.csv``: one row an epoch, floats to 6 significant digits."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


class RunFolder:
    """The files of the run in ``path`` (which need not exist yet)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).is_file()

    @property
    def has_metrics(self) -> bool:
        return (self.path / METRICS).is_file()

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    def state(self) -> str:
        """``finished``, ``partial`` (a checkpoint, no summary) or ``to do``."""
        if self.finished:
            return "finished"
        return "partial" if (self.path / CHECKPOINT).is_file() else "to do"

    # -- training writes ---------------------------------------------------------------------
    def start(self, config: dict[str, Any], permutation: np.ndarray | None) -> None:
        """Open the folder for (more) epochs: no summary, the settings and the permutation."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / SUMMARY).unlink(missing_ok=True)  # more epochs asked of a finished run
        write_json_atomic(self.path / CONFIG, config)
        if permutation is not None:
            with atomic_path(self.path / PERMUTATION) as tmp, open(tmp, "wb") as f:
                np.save(f, permutation)

    def save_epoch(self, history: list[dict[str, float]], checkpoint: dict[str, Any]) -> None:
        """Write the metrics so far, then the checkpoint, each atomically."""
        import torch

        # Metrics first: the checkpoint is the commit point, so a run killed between the two
        # writes redoes (identically) the epoch instead of finishing with a row missing.
        write_text_atomic(self.path / METRICS, _metrics_csv(history))
        with atomic_path(self.path / CHECKPOINT) as tmp:
            torch.save(checkpoint, tmp)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.path / SUMMARY, summary)

    def write_request(self, config: dict[str, Any]) -> Path:
        """A request file for a worker process to train this run with ``config``."""
        return write_json_atomic(self.path / REQUEST, {"config": config, "run_dir": str(self.path)})

    # -- reads -------------------------------------------------------------------------------
    def read_checkpoint(self, device: Any = "cpu") -> dict[str, Any] | None:
        """The checkpoint's contents on ``device``; None when there is none yet."""
        import torch

        path = self.path / CHECKPOINT
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:
            raise InputError(f"{path}: unreadable checkpoint ({exc.__class__.__name__})") from None

    def saved_epochs(self) -> int:
        """The epochs in the checkpoint: where running the same command again resumes (0
        without a readable checkpoint)."""
        try:
            state = self.read_checkpoint()
        except InputError:  # unreadable: a resume starts from the beginning
            return 0
        return len(state.get("history", [])) if isinstance(state, dict) else 0

    def read_summary(self) -> dict[str, Any]:
        return json.loads((self.path / SUMMARY).read_text())

    def read_config(self) -> dict[str, Any]:
        """The saved settings ({} when the folder has none)."""
        path = self.path / CONFIG
        return json.loads(path.read_text()) if path.is_file() else {}

    def read_metrics(self) -> list[dict[str, float]]:
        """``metrics.csv`` as rows of floats; :class:`InputError` when there is no epoch."""
        path = self.path / METRICS
        if not path.is_file():
            raise InputError(f"{self.path}: not a run folder (no {METRICS})")
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        if not rows:
            raise InputError(f"{path}: no epochs yet")
        return rows
