"""The Fourier heat map of a classifier (Yin et al. 2019, "A Fourier perspective on model
robustness"), defined exactly so that others can check it.

For H x W images and each frequency index (u, v) of the centred layout (zero frequency at
(H//2, W//2)), ``D`` is zero except 1 at (u, v) and at its Hermitian partner
((H - u) mod H, (W - v) mod W) for even H and W (CIFAR); the basis
``U = real(ifft2(ifftshift(D)))`` is scaled to unit L2 norm (computed as the equal cosine,
:mod:`hfc_detect.frequency.basis`). The perturbed input is ``clip(x + eps * s * U, 0, 1)`` on
images in [0, 1], ``U`` added to every channel; ``s`` is +1 (``sign="positive"``) or a seeded
+-1 per image and channel (``sign="random"``, as Yin et al.). The map holds, at (u, v), the
error rate (1 - accuracy) on the perturbed images.

For odd sizes that formula does not give the Hermitian partner in the centred layout (it pairs
frequency -1 with +2, and D's inverse transform is then not real); the partner used here is the
frequency's negation, ((2 (H//2) - u) mod H, (2 (W//2) - v) mod W), which is the formula above
for even sizes and makes U a single real cosine for every size.

Where this differs from Yin et al.'s TensorFlow code: the signs ``s`` are drawn once per image
and channel (``numpy.random.default_rng(seed)``) and reused for every frequency, so that two maps
differ only by the perturbation's frequency, and anyone can recompute a cell.

Cost: a basis and its partner are equal, so only (H W + k) / 2 bases are run (k = 4 self-paired
indices for even H and W), each on every image: N (H W + k) / 2 forward passes, batched
``batch_size`` perturbed images per pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from hfc_detect.frequency.basis import Frequency, fourier_bases, pair_representatives
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.torch_tools import eval_mode

SIGNS = ("positive", "random")
#: A forward pass holds at least this many bases (of fewer images) when the batch allows.
BASES_PER_PASS = 8


@dataclass(frozen=True)
class HeatmapConfig:
    """How a Fourier heat map is measured.

    ``eps``: L2 norm of the perturbation per channel, images on [0, 1] (Yin et al.: 4 on
    CIFAR-10); ``sign``/``seed``: see the module docstring; ``batch_size``: perturbed images per
    forward pass, at least 8 bases of batch_size / 8 images (on a CPU small batches that stay
    in cache run fastest, 256 here; on a GPU take thousands)."""

    eps: float = 4.0
    sign: Literal["positive", "random"] = "random"
    seed: int = 0
    batch_size: int = 256

    def __post_init__(self) -> None:
        if not np.isfinite(self.eps) or self.eps < 0:
            raise InputError(f"eps must be a finite number >= 0, got {self.eps:g}")
        if self.sign not in SIGNS:
            raise InputError(f"sign must be one of {', '.join(SIGNS)}, got {self.sign!r}")
        if self.batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {self.batch_size}")


def hermitian_partner(height: int, width: int, u: int, v: int) -> Frequency:
    """The centred index of frequency -(u - H//2, v - W//2): ((H - u) mod H, (W - v) mod W)
    for even sizes, (H - 1 - u, ...) for odd ones."""
    return (2 * (height // 2) - u) % height, (2 * (width // 2) - v) % width


def centred_frequencies(height: int, width: int) -> tuple[list[Frequency], np.ndarray]:
    """The basis indices to compute, as signed frequencies (u - H//2, v - W//2), one per
    Hermitian pair, and the (H, W) map from each centred index (u, v) to its pair's basis."""
    points = [(u, v) for u in range(height) for v in range(width)]
    reps, mapping = pair_representatives(points, lambda p: hermitian_partner(height, width, *p))
    signed = [(u - height // 2, v - width // 2) for u, v in reps]
    return signed, mapping.reshape(height, width)


def perturbation_signs(n: int, channels: int, sign: str, seed: int) -> np.ndarray:
    """The (N, C) signs ``s``: all +1, or seeded +-1 (``default_rng(seed).integers(0, 2)``)."""
    if sign == "positive":
        return np.ones((n, channels))
    return np.where(np.random.default_rng(seed).integers(0, 2, size=(n, channels)) == 1, 1.0, -1.0)


def _images_per_pass(n: int, config: HeatmapConfig) -> int:
    return min(n, max(1, config.batch_size // BASES_PER_PASS))


def images_on_this_rank(n: int, config: HeatmapConfig) -> int:
    """How many of the ``n`` images this rank runs (all of them in one process)."""
    per_pass = _images_per_pass(n, config)
    return sum(min(per_pass, n - start) for start in dist.shard(range(0, n, per_pass)))


def describe_heatmap(height: int, width: int, n: int, config: HeatmapConfig) -> str:
    """The size of a map on one line: cells, bases run, images, forward passes (per rank)."""
    bases = len(centred_frequencies(height, width)[0])
    line = (f"heat map: {height} x {width} cells = {bases} bases (one per Hermitian pair) x "
            f"{n:,} images = {bases * n:,} forward passes")  # fmt: skip
    if dist.world_size() > 1:
        most = bases * images_on_this_rank(n, config)  # rank 0 has the largest share
        line += f", at most {most:,} on one of {dist.world_size()} ranks"
    return line


@torch.no_grad()
def fourier_heatmap(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: HeatmapConfig = HeatmapConfig(),
    *,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The (H, W) error-rate heat map of ``model`` on float (N, C, H, W) ``images`` in [0, 1]
    with their ``labels``, on the model's device. ``progress(k)`` gets the number of perturbed
    images of each forward pass (N times the number of bases in all, shared by the ranks).

    Under torch.distributed the ranks share the passes (groups of images, as one process
    groups them) and sum their error counts: every rank returns the one-process map."""
    if images.ndim != 4 or labels.shape != (images.shape[0],) or images.shape[0] == 0:
        raise InputError(
            f"need images (N, C, H, W) and labels (N,) with N > 0, got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}"
        )
    n, channels, height, width = images.shape
    device = next(iter(model.parameters())).device
    frequencies, mapping = centred_frequencies(height, width)
    bases = torch.from_numpy(fourier_bases(height, width, frequencies)).to(device, images.dtype)
    signs = torch.from_numpy(perturbation_signs(n, channels, config.sign, config.seed))
    signs = signs.to(device, images.dtype)[:, :, None, None]
    errors = torch.zeros(len(frequencies), dtype=torch.int64, device=device)
    per_pass = _images_per_pass(n, config)
    bases_per_pass = max(1, config.batch_size // per_pass)
    with eval_mode(model):
        for start in dist.shard(range(0, n, per_pass)):
            x = images[start : start + per_pass].to(device)
            y = labels[start : start + per_pass].to(device)
            step = config.eps * signs[start : start + per_pass]
            for k in range(0, len(frequencies), bases_per_pass):
                u = bases[k : k + bases_per_pass, None, None]  # (K, 1, 1, H, W)
                perturbed = (x[None] + step[None] * u).clamp_(0, 1)
                pred = model(perturbed.flatten(0, 1)).argmax(1).view(len(u), len(x))
                errors[k : k + len(u)] += (pred != y).sum(1)
                if progress is not None:
                    progress(pred.numel())
    return (dist.sum_over_ranks(errors.cpu().numpy()) / n)[mapping]
