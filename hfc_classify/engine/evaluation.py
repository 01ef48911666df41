"""Accuracy of a classifier on images and on their LFC/HFC versions, in large eval batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet
from hfc_classify.data.frequency_sets import band_sets, frequency_sets
from hfc_detect.utils.torch_tools import eval_mode, resolve_device


@torch.no_grad()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 1000,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Softmax probabilities (N, classes) on the CPU, the model in eval mode meanwhile."""
    device = device or next(model.parameters()).device
    with eval_mode(model):
        out = [
            torch.softmax(model(images[i : i + batch_size].to(device)).float(), 1).cpu()
            for i in range(0, len(images), batch_size)
        ]
    return torch.cat(out)


def accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    *,
    batch_size: int = 1000,
    device: torch.device | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on float (N, C, H, W) ``images``."""
    labels = torch.as_tensor(labels)
    pred = predict(model, images, batch_size=batch_size, device=device).argmax(1)
    return float((pred == labels).float().mean())


@dataclass(frozen=True)
class AccuracyRow:
    """One line of ``accuracy.csv``: ``variant`` original/lfc/hfc/band, ``radius`` None for
    original (a band's outer radius), ``inner`` a band's inner radius."""

    variant: str
    radius: float | None
    accuracy: float
    images: int
    inner: float | None = None

    @property
    def radius_text(self) -> str:
        """``""`` (original), ``"8"``, or ``"16-64"`` for a band, as the table shows it."""
        if self.radius is None:
            return ""
        return f"{self.radius:g}" if self.inner is None else f"{self.inner:g}-{self.radius:g}"


def evaluate_variants(
    model: nn.Module,
    data: ImageSet,
    radii: Sequence[float],
    *,
    bands: Sequence[tuple[float, float]] = (),
    mode: str = "max",
    inclusive: bool = False,
    device: torch.device | str = "cpu",
    batch_size: int = 1000,
    cache_dir: str | Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[AccuracyRow]:
    """Accuracy on the original images, on their LFC and HFC at each radius, then on each of
    ``bands`` ((R1, R2): LFC(R2) - LFC(R1), scaled by ``mode`` as an HFC; not cached)."""
    device = resolve_device(device)
    model = model.to(device)
    labels = torch.from_numpy(data.labels)
    step = on_step or (lambda _: None)
    rows = [
        AccuracyRow(
            "original",
            None,
            accuracy(model, data.tensor(), labels, batch_size=batch_size, device=device),
            len(data),
        )
    ]
    step("original")
    for r in radii:
        sets = frequency_sets(
            data.images, [r], mode=mode, inclusive=inclusive, device=device, cache_dir=cache_dir
        )
        for variant in ("lfc", "hfc"):
            acc = accuracy(
                model, sets[(variant, float(r))], labels, batch_size=batch_size, device=device
            )
            rows.append(AccuracyRow(variant, float(r), acc, len(data)))
        step(f"r={r:g}")
    if bands:
        sets = band_sets(
            data.images, bands, mode=mode, inclusive=inclusive, device=device, batch_size=batch_size
        )
        for (inner, outer), images in sets.items():
            acc = accuracy(model, images, labels, batch_size=batch_size, device=device)
            rows.append(AccuracyRow("band", outer, acc, len(data), inner))
            step(f"band {inner:g}-{outer:g}")
    return rows


@dataclass(frozen=True)
class Example:
    """A Fig. 2 example: the image index, its label, and per version the predicted class and
    its confidence (softmax probability)."""

    index: int
    label: int
    predictions: dict[str, tuple[int, float]]


def hfc_examples(
    model: nn.Module,
    data: ImageSet,
    radius: float,
    *,
    mode: str = "max",
    inclusive: bool = False,
    device: torch.device | str = "cpu",
    batch_size: int = 1000,
    cache_dir: str | Path | None = None,
) -> tuple[list[Example], dict[str, torch.Tensor]]:
    """Images the model gets right on the original and on the HFC but wrong on the LFC (the
    paper's Fig. 2), in data order, with the three image versions as tensors."""
    device = resolve_device(device)
    model = model.to(device)
    sets = frequency_sets(
        data.images, [radius], mode=mode, inclusive=inclusive, device=device, cache_dir=cache_dir
    )
    versions = {
        "original": data.tensor(),
        "lfc": sets[("lfc", float(radius))],
        "hfc": sets[("hfc", float(radius))],
    }
    probs = {
        k: predict(model, v, batch_size=batch_size, device=device) for k, v in versions.items()
    }
    conf = {k: p.max(1) for k, p in probs.items()}
    labels = torch.from_numpy(data.labels)
    right = {k: c.indices == labels for k, c in conf.items()}
    chosen = torch.nonzero(right["original"] & right["hfc"] & ~right["lfc"]).flatten().tolist()
    examples = [
        Example(
            i, int(labels[i]), {k: (int(c.indices[i]), float(c.values[i])) for k, c in conf.items()}
        )
        for i in chosen
    ]
    return examples, versions


def rows_to_csv(rows: Iterable[AccuracyRow]) -> str:
    """``variant,radius,accuracy`` lines (radius empty for the original images); with bands a
    last column ``inner`` (a band's inner radius, empty on other rows), so the file of a run
    without bands is as it was."""
    rows = list(rows)
    bands = any(row.inner is not None for row in rows)
    lines = ["variant,radius,accuracy" + (",inner" if bands else "")]
    for row in rows:
        radius = "" if row.radius is None else f"{row.radius:g}"
        inner = "" if row.inner is None else f"{row.inner:g}"
        lines.append(f"{row.variant},{radius},{row.accuracy:.6f}" + (f",{inner}" if bands else ""))
    return "\n".join(lines) + "\n"
