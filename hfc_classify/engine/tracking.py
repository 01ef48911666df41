"""Per-epoch accuracy on the LFC and HFC of fixed subsets of the training and test images.

The component sets are computed once (and cached on disk), on the device, and kept there for the
run when they fit (:func:`hfc_classify.engine.device.fits_on_device`; else on the CPU, pinned,
copied batch by batch); they are evaluated in eval mode in large batches
(:func:`hfc_classify.engine.device.eval_batch_size`). ``tools/bench_train.py`` measures the
share of an epoch this takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet
from hfc_classify.data.frequency_sets import frequency_sets
from hfc_classify.engine.device import fits_on_device, pinned
from hfc_classify.engine.evaluation import accuracy
from hfc_detect.frequency.variant import Variant


def subset_indices(n: int, size: int, seed: int) -> np.ndarray:
    """``size`` sorted indices of ``range(n)`` drawn with ``seed`` (all when size is 0 or >= n)."""
    if size <= 0 or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 7, n]).choice(n, size, replace=False))


def column(split: str, kind: str, radius: float) -> str:
    """Metric column name: the split and the variant's name, e.g. ``train_lfc_r4``
    (:meth:`hfc_detect.frequency.variant.Variant.name`)."""
    return f"{split}_{Variant(kind, radius).name()}"


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
        parts = {
            split: data.subset(subset_indices(len(data), sizes.get(split, 0), seed))
            for split, data in splits.items()
        }
        images = sum(p.images.size for p in parts.values())
        on_device = fits_on_device(images * 4 * 2 * len(self.radii), device)  # float32, lfc+hfc
        self.sets: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for split, part in parts.items():
            labels = torch.from_numpy(part.labels)
            comps = frequency_sets(
                part.images,
                self.radii,
                mode=mode,
                inclusive=inclusive,
                device=device,
                cache_dir=cache_dir,
                out_device=device if on_device else "cpu",
            )
            for (variant, r), x in comps.items():
                self.sets[column(split, variant, r)] = (
                    x if on_device else pinned(x, device),
                    labels,
                )

    @property
    def columns(self) -> list[str]:
        return list(self.sets)

    def measure(self, model: nn.Module) -> dict[str, float]:
        """``{column: accuracy}`` for the model as it is now."""
        return {
            name: accuracy(model, x, y, batch_size=self.batch_size, device=self.device)
            for name, (x, y) in self.sets.items()
        }
