"""Per-epoch accuracy on the LFC and HFC of fixed subsets of the training and test images.

The component sets are computed once (and cached on disk), kept in memory (on the GPU when
they fit), and evaluated in eval mode with large batches, so tracking stays a small fraction of
an epoch: ``tools/bench_tracking.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet
from hfc_classify.data.frequency_sets import frequency_sets
from hfc_classify.engine.evaluation import accuracy

#: Component sets larger than this stay on the CPU and go to the GPU batch by batch.
_DEVICE_BYTES = 2 * 1024**3


def subset_indices(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` sorted indices of ``range(n)`` drawn with ``seed`` (all when size is 0 or >= n)."""
    if size <= 0 or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 7, n]).choice(n, size, replace=False))


def column(split: str, variant: str, radius: float) -> str:
    """Metric column name, e.g. ``train_lfc_r4``."""
    return f"{split}_{variant}_r{radius:g}"


class Tracker:
    """Accuracy on ``{train,test} x {lfc,hfc} x radii`` of seeded subsets."""

    def __init__(
        self,
        splits: dict[str, ImageSet],
        radii: Sequence[float],
        sizes: dict[str, int],
        *,
        seed: int = 0,
        mode: str = "max",
        inclusive: bool = False,
        device: torch.device = torch.device("cpu"),
        cache_dir: str | Path | None = None,
        batch_size: int = 1000,
    ) -> None:
        self.radii = [float(r) for r in radii]
        self.device, self.batch_size = device, batch_size
        self.sets: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for split, data in splits.items():
            part = data.subset(subset_indices(len(data), sizes.get(split, 0), seed))
            labels = torch.from_numpy(part.labels)
            comps = frequency_sets(
                part.images,
                self.radii,
                mode=mode,
                inclusive=inclusive,
                device=device,
                cache_dir=cache_dir,
            )
            for (variant, r), images in comps.items():
                self.sets[column(split, variant, r)] = (images, labels)
        total = sum(x.numel() * x.element_size() for x, _ in self.sets.values())
        if device.type != "cpu" and total <= _DEVICE_BYTES:
            self.sets = {k: (x.to(device), y.to(device)) for k, (x, y) in self.sets.items()}

    @property
    def columns(self) -> list[str]:
        return list(self.sets)

    def measure(self, model: nn.Module) -> dict[str, float]:
        """``{column: accuracy}`` for the model as it is now."""
        return {
            name: accuracy(model, x, y.cpu(), batch_size=self.batch_size, device=self.device)
            for name, (x, y) in self.sets.items()
        }
