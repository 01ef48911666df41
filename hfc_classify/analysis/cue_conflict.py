"""Cue conflict: when an image's low frequencies and another image's high frequencies disagree,
which does the classifier follow?

For image k (data order), its partner B is the first image after k, cyclically, whose label
differs from k's. The hybrid is ``clip(LFC_r(k) + HFC_r(B), 0, 255) / 255``, both parts split
per channel on 0..255 pixels with the default ``< r`` disk (:func:`hfc_detect.frequency.split`).
A prediction equal to k's label follows the low frequencies, one equal to B's label the high
frequencies, anything else neither; the three are reported as fractions of all images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hfc_classify.data import pixels_to_tensor
from hfc_detect.frequency import check_radius, split_radii
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.torch_tools import eval_mode


@dataclass(frozen=True)
class CueConflictRow:
    """Fractions of hybrids at one radius whose prediction is k's label, B's label, or neither."""

    radius: float
    follows_low: float
    follows_high: float
    neither: float


def conflict_partners(labels: np.ndarray) -> np.ndarray:
    """For each k, the index of the first image after k (cyclically) with another label."""
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0 or np.all(labels == labels[0]):
        raise InputError("cue conflict needs images of at least two different labels")
    doubled = np.concatenate([labels, labels])
    # nxt[i]: the first j > i with doubled[j] != doubled[i] (the end of i's run of equal labels).
    nxt = np.empty(2 * n, dtype=np.int64)
    nxt[-1] = 2 * n  # never read for i < n: every run starting before n ends before 2n
    for i in range(2 * n - 2, -1, -1):
        nxt[i] = i + 1 if doubled[i + 1] != doubled[i] else nxt[i + 1]
    return nxt[:n] % n


@torch.no_grad()
def cue_conflict(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    radii: Sequence[float],
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> list[CueConflictRow]:
    """One :class:`CueConflictRow` per radius for uint8 (N, H, W, C) ``images``, run on the
    model's device (one forward FFT a batch serves every radius). ``progress(k)`` gets the number
    of images of each batch. Under torch.distributed the ranks share the batches and sum their
    counts: every rank returns the one-process rows."""
    radii = [check_radius(r) for r in radii]
    if not radii:
        raise InputError("give at least one --radius")
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    labels = np.asarray(labels, dtype=np.int64)
    partner = conflict_partners(labels)
    device = next(iter(model.parameters())).device
    counts = np.zeros((len(radii), 2), dtype=np.int64)  # follows low, follows high
    with eval_mode(model):
        for start in dist.shard(range(0, len(labels), batch_size)):
            idx = np.arange(start, min(start + batch_size, len(labels)))
            both = np.concatenate([images[idx], images[partner[idx]]])
            pixels = pixels_to_tensor(both).to(device) * 255
            own, other = torch.from_numpy(labels[idx]), torch.from_numpy(labels[partner[idx]])
            for i, (low, high) in enumerate(split_radii(pixels, radii)):
                hybrid = (low[: len(idx)] + high[len(idx) :]).clamp(0, 255) / 255
                pred = model(hybrid).argmax(1).cpu()
                counts[i] += [int((pred == own).sum()), int((pred == other).sum())]
            if progress is not None:
                progress(len(idx))
    shares = dist.sum_over_ranks(counts) / len(labels)
    return [
        CueConflictRow(r, lo, hi, 1 - lo - hi) for r, (lo, hi) in zip(radii, shares, strict=True)
    ]


def rows_to_csv(rows: Sequence[CueConflictRow]) -> str:
    """``radius,follows_low,follows_high,neither`` lines."""
    lines = ["radius,follows_low,follows_high,neither"]
    lines += [
        f"{r.radius:g},{r.follows_low:.6f},{r.follows_high:.6f},{r.neither:.6f}" for r in rows
    ]
    return "\n".join(lines) + "\n"


def plot_cue_conflict(path: str | Path, rows: Sequence[CueConflictRow], title: str) -> Path:
    """The three fractions against radius."""
    from hfc_detect.utils.figures import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    radii = [r.radius for r in rows]
    for field, style, label in (("follows_low", "o-", "follows low (image k's label)"),
                                ("follows_high", "s-", "follows high (image B's label)"),
                                ("neither", "^:", "neither")):  # fmt: skip
        ax.plot(radii, [getattr(r, field) for r in rows], style, label=label)
    ax.set_xlabel("radius r (LFC of k below r + HFC of B from r)")
    ax.set_ylabel("fraction of hybrid images")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return save_png(fig, path)
