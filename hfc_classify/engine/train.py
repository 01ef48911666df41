"""The training loop: per-epoch metrics to CSV, an atomic checkpoint each epoch, exact resume.

A run lives in one folder: ``config.json``, ``metrics.csv`` (one row an epoch),
``checkpoint.pt`` (model, optimizer, metrics so far, label permutation), ``label_permutation.npy``
when labels are shuffled, and ``summary.json`` once all epochs are done. All randomness of epoch
``e`` (batch order, mixup draws, crops, dropout) comes from a generator seeded by
``(seed, e)``, so a run resumed from its last checkpoint gives the numbers an uninterrupted run
gives (on the CPU; GPU kernels may differ in the last bits).

On a GPU the whole training set (or its LFC/HFC), the test set and the tracked sets are computed
on and kept on the device when they fit (:mod:`hfc_classify.engine.device`); batches are indexed
there, augmented there (one gather for the crops and flips), and the epoch's loss and accuracy
are summed there, read back once an epoch. The numbers are those of the CPU-resident path
(tested on the CPU).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.data.datasets import ImageSet, load_split
from hfc_classify.data.frequency_sets import default_cache_dir, frequency_sets
from hfc_classify.engine.config import RESUMABLE, TrainConfig
from hfc_classify.engine.device import Runtime, eval_batch_size, fits_on_device, keep
from hfc_classify.engine.evaluation import accuracy, resolve_device
from hfc_classify.engine.optim import build_optimizer
from hfc_classify.engine.tracking import Tracker
from hfc_classify.models import build_model
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, write_json_atomic, write_text_atomic

CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
METRICS = "metrics.csv"
TIME_COLUMNS = ("train_time_s", "test_time_s", "track_time_s")


def is_finished(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a run whose epochs are all done."""
    return (Path(run_dir) / SUMMARY).is_file()


def saved_epochs(run_dir: str | Path) -> int:
    """The epochs in the run's checkpoint: where running the same command again resumes (0
    without a readable checkpoint)."""
    path = Path(run_dir) / CHECKPOINT
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # missing or unreadable: a resume starts from the beginning
        return 0
    return len(state.get("history", [])) if isinstance(state, dict) else 0


def build_classifier(config: TrainConfig, in_channels: int) -> nn.Module:
    """The configured architecture; options it does not take raise :class:`InputError`."""
    try:
        return build_model(
            config.arch,
            num_classes=config.num_classes,
            in_channels=in_channels,
            **config.model_options(),
        )
    except TypeError as exc:
        raise InputError(
            f"architecture {config.arch!r} does not take these options "
            f"({', '.join(config.model_options())}): {exc}"
        ) from None


def _check_pair(train: ImageSet, test: ImageSet, num_classes: int) -> None:
    if train.images.shape[1:] != test.images.shape[1:]:
        raise InputError(
            f"{test.source}: test images {test.images.shape[1:]} differ in shape from the "
            f"training images {train.images.shape[1:]}"
        )
    for data in (train, test):
        if data.labels.max() >= num_classes:
            raise InputError(
                f"{data.source}: label {data.labels.max()} out of range for {num_classes} classes"
            )


def label_permutation(n: int, seed: int) -> np.ndarray:
    """The one seeded permutation used to shuffle ``n`` training labels: new = labels[perm]."""
    return np.random.default_rng([seed, 1, n]).permutation(n)


def _crop_flip(x: torch.Tensor, rng: np.random.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by ``pad``, and a random horizontal flip, per image: one
    gather on ``x``'s device (a flip reverses the crop's columns)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.from_numpy(rng.integers(0, 2 * pad + 1, size=(n, 2))).to(x.device)
    flips = torch.from_numpy(rng.random(n) < 0.5).to(x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channels, rows[:, None, :, None], cols[:, None, None, :]]


def _metrics_csv(history: list[dict[str, float]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _same_run(saved: dict[str, Any], config: TrainConfig) -> list[str]:
    """Settings that differ; a setting older checkpoints lack counts as its default."""
    now, default = config.to_dict(), TrainConfig().to_dict()
    return sorted(
        k
        for k in set(saved) | set(now)
        if k not in RESUMABLE and saved.get(k, default.get(k)) != now.get(k)
    )


class Trainer:
    """One run: data, model, optimizer and tracker set up from a :class:`TrainConfig`.

    ``data`` (train, test) replaces loading ``config.train_data``/``test_data`` (which then
    only name the run's data in its config)."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path,
        *,
        log: Callable[[str], None] = print,
        data: tuple[ImageSet, ImageSet] | None = None,
    ):
        self.config = config.validate()
        self.run_dir = Path(run_dir)
        self.log = log
        c = self.config
        self.device = resolve_device(c.device)
        self.runtime = Runtime(self.device, c.precision, c.channels_last)
        self.eval_batch_size = eval_batch_size(self.device, c.eval_batch_size)
        self.cache_dir = Path(c.cache_dir) if c.cache_dir else default_cache_dir()
        if data is None:
            data = (
                load_split(c.train_data, "train", download=c.download),
                load_split(c.test_data, "test", download=c.download),
            )
        train, test = data
        _check_pair(train, test, c.num_classes)
        self.permutation = label_permutation(len(train), c.seed) if c.shuffle_labels else None
        if self.permutation is not None:
            train = train.with_labels(train.labels[self.permutation])
        torch.manual_seed(c.seed)
        self.model = self.runtime.prepare(build_classifier(c, train.channels))
        self.optimizer = build_optimizer(
            c.optimizer,
            self.model.parameters(),
            c.lr,
            momentum=c.momentum,
            weight_decay=c.weight_decay,
        )
        if c.train_on == "original":
            train_x = train.tensor()
        else:  # computed on the device, and kept there when the set fits
            on_device = fits_on_device(train.images.size * 4, self.device)
            train_x = frequency_sets(
                train.images,
                [c.train_radius],
                variants=[c.train_on],
                mode=c.normalize,
                inclusive=c.inclusive,
                device=self.device,
                cache_dir=self.cache_dir,
                out_device=self.device if on_device else "cpu",
            )[(c.train_on, c.train_radius)]
        self.train_x, self.train_y = keep([train_x, torch.from_numpy(train.labels)], self.device)
        self.test_x, self.test_y = keep([test.tensor(), torch.from_numpy(test.labels)], self.device)
        self.scaler = self.runtime.grad_scaler()
        self.tracker = Tracker(
            {"train": train, "test": test},
            c.track_radii,
            {"train": c.track_train, "test": c.track_test},
            seed=c.seed,
            mode=c.normalize,
            inclusive=c.inclusive,
            device=self.device,
            cache_dir=self.cache_dir,
            batch_size=self.eval_batch_size,
        )
        self.history: list[dict[str, float]] = []

    # -- checkpoints -------------------------------------------------------------------------
    def save(self) -> None:
        """Write metrics and checkpoint (with the label permutation), each atomically."""
        state = {
            "format": 1,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": len(self.history),
            "config": self.config.to_dict(),
            "history": self.history,
            "label_permutation": None
            if self.permutation is None
            else torch.from_numpy(self.permutation),
        }
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        # Metrics first: the checkpoint is the commit point, so a run killed between the two
        # writes redoes (identically) the epoch instead of finishing with a row missing.
        write_text_atomic(self.run_dir / METRICS, _metrics_csv(self.history))
        with atomic_path(self.run_dir / CHECKPOINT) as tmp:
            torch.save(state, tmp)

    def restore(self) -> bool:
        """Load the run's checkpoint if there is one; False for a fresh run."""
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return False
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as exc:
            raise InputError(f"{path}: unreadable checkpoint ({exc.__class__.__name__})") from None
        changed = _same_run(state.get("config", {}), self.config)
        if changed:
            raise InputError(
                f"{self.run_dir}: holds a run with other settings ({', '.join(changed)}); "
                "choose another output folder"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        return True

    # -- one epoch ---------------------------------------------------------------------------
    def _loss(
        self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's loss and its (mixup-weighted) count of correct predictions, on the
        device."""
        c = self.config
        if c.mixup_alpha > 0:
            lam = float(rng.beta(c.mixup_alpha, c.mixup_alpha))
            perm = torch.from_numpy(rng.permutation(len(x))).to(x.device)
            logits = self.model(lam * x + (1 - lam) * x[perm])
            pred = logits.argmax(1)
            loss = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
            correct = lam * (pred == y).sum() + (1 - lam) * (pred == y[perm]).sum()
            return loss, correct
        logits = self.model(x)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).sum()

    def train_epoch(
        self, epoch: int, on_batch: Callable[[], None] | None = None
    ) -> tuple[float, float]:
        """One pass over the training set; returns (mean loss, accuracy) of the batches seen."""
        c = self.config
        rng = np.random.default_rng([c.seed, 2, epoch])
        torch.manual_seed(int(rng.integers(2**62)))
        order = torch.from_numpy(rng.permutation(len(self.train_y))).to(self.train_y.device)
        self.model.train()
        # Sums of loss x batch size and of correct predictions, in float64 on the device, in
        # the order a Python float would add them: read back once, at the end of the epoch.
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for start in range(0, len(order), c.batch_size):
            idx = order[start : start + c.batch_size]
            x = self.train_x[idx].to(self.device, non_blocking=True)
            y = self.train_y[idx].to(self.device, non_blocking=True)
            if c.augment:
                x = _crop_flip(x, rng)
            x = self.runtime.layout(x)
            with self.runtime.autocast():
                if c.adversarial:
                    from hfc_classify.attacks import pgd

                    x = pgd(
                        self.model,
                        x,
                        y,
                        c.adv_eps,
                        c.step_size,
                        c.adv_steps,
                        random_start=c.adv_random_start,
                    )  # in eval mode; pgd restores the training mode
                loss, correct = self._loss(x, y, rng)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            totals += torch.stack([loss.detach().double() * len(idx), correct.double()])
            if on_batch:
                on_batch()
        n = len(order)
        total_loss, total_correct = totals.tolist()
        if not math.isfinite(total_loss):
            self.log(f"warning: epoch {epoch + 1}: training loss is not finite")
        return total_loss / n, total_correct / n

    def epoch_metrics(
        self, epoch: int, on_batch: Callable[[], None] | None = None
    ) -> dict[str, float]:
        """Train one epoch, then measure test accuracy and the tracked LFC/HFC accuracies."""
        t0 = time.perf_counter()
        loss, acc = self.train_epoch(epoch, on_batch)
        t1 = time.perf_counter()
        with self.runtime.autocast():
            test_acc = accuracy(
                self.model,
                self.test_x,
                self.test_y.cpu(),
                batch_size=self.eval_batch_size,
                device=self.device,
            )
            t2 = time.perf_counter()
            tracked = self.tracker.measure(self.model)
        t3 = time.perf_counter()
        return {
            "epoch": epoch + 1,
            "train_loss": loss,
            "train_acc": acc,
            "test_acc": test_acc,
            **tracked,
            "train_time_s": t1 - t0,
            "test_time_s": t2 - t1,
            "track_time_s": t3 - t2,
        }

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.train_y) / self.config.batch_size)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) the run in ``run_dir``; returns the summary written there.

    ``stop_after`` ends the call after that many new epochs without finishing the run (for a
    time-sliced job; the next call resumes)."""
    run_dir = Path(run_dir)
    trainer = Trainer(config, run_dir, log=log)
    resumed = trainer.restore()
    config = trainer.config
    if resumed and len(trainer.history) >= config.epochs and is_finished(run_dir):
        log(f"{run_dir}: already finished ({len(trainer.history)} epochs)")
        return json.loads((run_dir / SUMMARY).read_text())
    if resumed:
        log(f"{run_dir}: resuming after epoch {len(trainer.history)}")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SUMMARY).unlink(missing_ok=True)  # more epochs asked of a finished run
    write_json_atomic(run_dir / "config.json", config.to_dict())
    if trainer.permutation is not None:
        with atomic_path(run_dir / "label_permutation.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, trainer.permutation)
    start = time.perf_counter()
    done_now = 0
    board = _tensorboard(run_dir) if config.tensorboard else None
    try:
        with _progress(progress) as bar:
            task = bar.add_task("epochs", total=config.epochs, completed=len(trainer.history))
            batches = bar.add_task("batches", total=trainer.batches_per_epoch())
            for epoch in range(len(trainer.history), config.epochs):
                if stop_after is not None and done_now >= stop_after:
                    return {"finished": False, "epochs": len(trainer.history)}
                bar.reset(batches, total=trainer.batches_per_epoch())
                row = trainer.epoch_metrics(epoch, lambda: bar.advance(batches))
                trainer.history.append(row)
                trainer.save()
                if board is not None:
                    for key, value in row.items():
                        if key != "epoch":
                            board.add_scalar(key, value, epoch + 1)
                    board.flush()
                done_now += 1
                bar.update(
                    task,
                    description=f"epoch {epoch + 1}: test acc {row['test_acc']:.3f}",
                    advance=1,
                )
    finally:
        if board is not None:
            board.close()
    final = trainer.history[-1]
    summary = {
        "finished": True,
        "epochs": len(trainer.history),
        "final": {k: v for k, v in final.items() if k not in TIME_COLUMNS},
        "best_test_acc": max(r["test_acc"] for r in trainer.history),
        "seconds_this_call": time.perf_counter() - start,
        "mean_epoch_train_s": float(np.mean([r["train_time_s"] for r in trainer.history])),
        "mean_epoch_track_s": float(np.mean([r["track_time_s"] for r in trainer.history])),
    }
    write_json_atomic(run_dir / SUMMARY, summary)
    return summary


def _tensorboard(run_dir: Path):
    """A TensorBoard writer logging to ``run_dir/tensorboard`` (needs the tensorboard package)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError(
            "tensorboard logging needs the tensorboard package: pip install tensorboard"
        ) from None
    return SummaryWriter(str(run_dir / "tensorboard"))


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
