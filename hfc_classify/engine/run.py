"""A run in its folder: resume from the folder's checkpoint, save every epoch, summarise.

:func:`train` assembles the run a :class:`TrainConfig` describes
(:func:`~hfc_classify.engine.assembly.build_trainer`) and hands it to :func:`fit`, which trains
an assembled :class:`~hfc_classify.engine.trainer.Trainer` in a run folder
(:mod:`hfc_classify.engine.run_folder` owns its files): it resumes after the last saved epoch,
refuses a folder holding a run with other settings, saves metrics and checkpoint after every
epoch, optionally logs to TensorBoard, and writes ``summary.json`` once all epochs are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hfc_classify.engine.assembly import build_trainer
from hfc_classify.engine.config import TrainConfig
from hfc_classify.engine.run_folder import RunFolder
from hfc_classify.engine.trainer import TIME_COLUMNS, Trainer
from hfc_detect.utils.errors import InputError


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) the run ``config`` describes in ``run_dir``; see :func:`fit`."""
    trainer = build_trainer(config, log=log)
    return fit(trainer, run_dir, progress=progress, stop_after=stop_after)


def fit(
    trainer: Trainer,
    run_dir: str | Path,
    *,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train ``trainer`` (or resume it from the checkpoint in ``run_dir``) up to its config's
    epochs; returns the summary written there.

    ``stop_after`` ends the call after that many new epochs without finishing the run (for a
    time-sliced job; the next call resumes) and returns ``{"finished": False, "epochs": n}``."""
    folder, log = RunFolder(run_dir), trainer.log
    resumed = _resume(trainer, folder)
    if resumed and len(trainer.history) >= trainer.config.epochs and folder.finished:
        log(f"{folder.path}: already finished ({len(trainer.history)} epochs)")
        return folder.read_summary()
    if resumed:
        log(f"{folder.path}: resuming after epoch {len(trainer.history)}")
    folder.start(trainer.config.to_dict(), trainer.data.label_permutation)
    start = time.perf_counter()
    if not _train_epochs(trainer, folder, progress=progress, stop_after=stop_after):
        return {"finished": False, "epochs": len(trainer.history)}
    summary = _summary(trainer.history, start)
    folder.write_summary(summary)
    return summary


def _resume(trainer: Trainer, folder: RunFolder) -> bool:
    """Restore ``trainer`` from the folder's checkpoint; False when there is none."""
    state = folder.read_checkpoint(trainer.device)
    if state is None:
        return False
    changed = trainer.config.changed_settings(state.get("config", {}))
    if changed:
        raise InputError(
            f"{folder.path}: holds a run with other settings ({', '.join(changed)}); "
            "choose another output folder"
        )
    trainer.restore(state)
    return True


def _train_epochs(
    trainer: Trainer, folder: RunFolder, *, progress: bool, stop_after: int | None
) -> bool:
    """Train and save the remaining epochs; False when ``stop_after`` ended the call first."""
    config = trainer.config
    board = _tensorboard(folder.tensorboard_dir) if config.tensorboard else None
    try:
        with _progress(progress) as bar:
            task = bar.add_task("epochs", total=config.epochs, completed=len(trainer.history))
            batches = bar.add_task("batches", total=trainer.batches_per_epoch())
            for done_now, epoch in enumerate(range(len(trainer.history), config.epochs)):
                if stop_after is not None and done_now >= stop_after:
                    return False
                bar.reset(batches, total=trainer.batches_per_epoch())
                row = trainer.epoch_metrics(epoch, lambda: bar.advance(batches))
                trainer.history.append(row)
                folder.save_epoch(trainer.history, trainer.checkpoint())
                if board is not None:
                    for key, value in row.items():
                        if key != "epoch":
                            board.add_scalar(key, value, epoch + 1)
                    board.flush()
                description = f"epoch {epoch + 1}: test acc {row['test_acc']:.3f}"
                bar.update(task, description=description, advance=1)
    finally:
        if board is not None:
            board.close()
    return True


def _summary(history: list[dict[str, float]], start: float) -> dict[str, Any]:
    """``summary.json`` of a finished run; ``start``: when this call began to train."""
    return {
        "finished": True,
        "epochs": len(history),
        "final": {k: v for k, v in history[-1].items() if k not in TIME_COLUMNS},
        "best_test_acc": max(r["test_acc"] for r in history),
        "seconds_this_call": time.perf_counter() - start,
        "mean_epoch_train_s": float(np.mean([r["train_time_s"] for r in history])),
        "mean_epoch_track_s": float(np.mean([r["track_time_s"] for r in history])),
    }


def _tensorboard(log_dir: Path):
    """A TensorBoard writer logging to ``log_dir`` (needs the tensorboard package)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError(
            "tensorboard logging needs the tensorboard package: pip install tensorboard"
        ) from None
    return SummaryWriter(str(log_dir))


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )
