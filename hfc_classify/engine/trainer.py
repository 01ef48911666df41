"""One run's training loop over parts built elsewhere, and what it saves to resume.

:class:`Trainer` receives its data, model, optimizer and tracker ready-made
(:func:`~hfc_classify.engine.assembly.build_trainer` builds them from a :class:`TrainConfig`).
All randomness of epoch ``e`` (batch order, mixup draws, crops, dropout) comes from a generator
seeded by ``(seed, e)``, so a run resumed from its last checkpoint gives the numbers an
uninterrupted run gives (on the CPU; GPU kernels may differ in the last bits).

On a GPU the training set (or its LFC/HFC), the test set and the tracked sets are kept on the
device when they fit (:mod:`hfc_classify.engine.device`); batches are indexed there, augmented
there (one gather for the crops and flips), and the epoch's loss and accuracy are summed there,
read back once an epoch. The numbers are those of the CPU-resident path (tested on the CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfc_classify.engine.config import TrainConfig
from hfc_classify.engine.device import Runtime
from hfc_classify.engine.evaluation import accuracy

TIME_COLUMNS = ("train_time_s", "test_time_s", "track_time_s")


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


@dataclass(frozen=True)
class RunData:
    """What a run trains and tests on, as tensors where the run keeps them (on the device, or
    on the CPU to go there batch by batch). ``label_permutation``: the permutation already
    applied to ``train_y`` (None: the labels as given); it is saved with the run."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    label_permutation: np.ndarray | None = None


class Measures(Protocol):
    """What the trainer needs of a tracker (:class:`~hfc_classify.engine.tracking.Tracker`)."""

    def measure(self, model: nn.Module) -> dict[str, float]: ...


class Trainer:
    """One run's loop over parts built elsewhere (:func:`build_trainer` builds them from
    ``config``): ``model`` and ``optimizer``, the ``data``, a ``tracker`` whose accuracies join
    each epoch's metrics, and the ``runtime`` (device, precision, layout, eval batch).
    ``config`` gives the recipe (batch size, seed, mixup, crops, adversarial training) and is
    saved in every checkpoint; ``history`` holds the metrics of the epochs done."""

    def __init__(
        self,
        config: TrainConfig,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        data: RunData,
        tracker: Measures,
        runtime: Runtime,
        *,
        log: Callable[[str], None] = print,
    ):
        self.config, self.model, self.optimizer = config, model, optimizer
        self.data, self.tracker, self.runtime, self.log = data, tracker, runtime, log
        self.device = runtime.device
        self.scaler = runtime.grad_scaler()
        self.history: list[dict[str, float]] = []

    # -- checkpoints -------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The state a run resumes from: weights, optimizer, metrics, settings, permutation."""
        permutation = self.data.label_permutation
        state = {
            "format": 1,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": len(self.history),
            "config": self.config.to_dict(),
            "history": self.history,
            "label_permutation": None if permutation is None else torch.from_numpy(permutation),
        }
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint` of the same run."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])

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

    def _attack(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch's PGD adversarial images (made in eval mode; pgd restores the mode)."""
        from hfc_classify.attacks import pgd

        c = self.config
        return pgd(
            self.model, x, y, c.adv_eps, c.step_size, c.adv_steps, random_start=c.adv_random_start
        )

    def _step(self, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss`` (through the loss scaler, a pass-through but fp16)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def train_epoch(
        self, epoch: int, on_batch: Callable[[], None] | None = None
    ) -> tuple[float, float]:
        """One pass over the training set; returns (mean loss, accuracy) of the batches seen."""
        c = self.config
        rng = np.random.default_rng([c.seed, 2, epoch])
        torch.manual_seed(int(rng.integers(2**62)))
        labels = self.data.train_y
        order = torch.from_numpy(rng.permutation(len(labels))).to(labels.device)
        self.model.train()
        # Sums of loss x batch size and of correct predictions, in float64 on the device, in
        # the order a Python float would add them: read back once, at the end of the epoch.
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for start in range(0, len(order), c.batch_size):
            idx = order[start : start + c.batch_size]
            x = self.data.train_x[idx].to(self.device, non_blocking=True)
            y = self.data.train_y[idx].to(self.device, non_blocking=True)
            if c.augment:
                x = _crop_flip(x, rng)
            x = self.runtime.layout(x)
            with self.runtime.autocast():
                if c.adversarial:
                    x = self._attack(x, y)
                loss, correct = self._loss(x, y, rng)
            self._step(loss)
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
                self.data.test_x,
                self.data.test_y.cpu(),
                batch_size=self.runtime.eval_batch,
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
        return math.ceil(len(self.data.train_y) / self.config.batch_size)
