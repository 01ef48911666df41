"""Time a full Fourier heat map (32 x 32 for CIFAR) of a classifier, and check it.

Runs :func:`hfc_classify.analysis.heatmap.fourier_heatmap` (Yin et al.'s definition, half the
plane, --batch-size perturbed images per forward pass) on the first --images test images, and
prints the wall and CPU time, the forward passes per CPU second, and what the map costs per
1,000 images (the cost is linear in the images; on a CPU shared with other jobs the CPU time
is the better estimate of an idle machine's wall time at --threads 1). Then checks --check
random cells of a 20-image map against a naive computation: the basis built literally as
real(ifft2(ifftshift(D))), one image at a time.
With --save the map is written as .npy.

    python tools/bench_heatmap.py [--images 1000] [--threads 1] [--save map.npy]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from hfc_classify.analysis.heatmap import (
    HeatmapConfig,
    centred_frequencies,
    fourier_heatmap,
    perturbation_signs,
)
from hfc_classify.data import load_npz
from hfc_classify.engine.loading import build_from_checkpoint


def naive_cell(model, x, y, u, v, config: HeatmapConfig) -> float:
    n, c, h, w = x.shape
    d = np.zeros((h, w))
    d[u, v] = d[(h - u) % h, (w - v) % w] = 1
    basis = np.fft.ifft2(np.fft.ifftshift(d)).real
    basis = torch.from_numpy(basis / np.linalg.norm(basis)).float()
    signs = perturbation_signs(n, c, config.sign, config.seed)
    wrong = 0
    with torch.no_grad():
        for i in range(n):
            s = torch.from_numpy(signs[i]).float()[:, None, None]
            pred = model((x[i] + config.eps * s * basis).clamp(0, 1)[None]).argmax(1)
            wrong += int(pred.item() != int(y[i]))
    return wrong / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--checkpoint", default="models/cifar10_resnet20-12fca82f.th")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--eps", type=float, default=4.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check", type=int, default=3)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_npz(args.shared / "data/cifar10/test_first1000.npz")
    x = data.tensor()[: args.images]
    y = torch.from_numpy(data.labels[: args.images])
    model = build_from_checkpoint(args.arch, args.shared / args.checkpoint)
    config = HeatmapConfig(eps=args.eps, batch_size=args.batch_size)
    bases = len(centred_frequencies(*x.shape[-2:])[0])
    start, cpu_start = time.perf_counter(), time.process_time()
    errors = fourier_heatmap(model, x, y, config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    passes = bases * len(y)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}")
    print(f"{args.arch}, {len(y)} images, {x.shape[-2]}x{x.shape[-1]} map, {bases} bases, "
          f"batch {args.batch_size}: wall {seconds:.1f} s, CPU {cpu:.1f} s; "
          f"{passes / cpu:.0f} forward passes per CPU second")  # fmt: skip
    print(
        f"per 1,000 images (linear in images): wall {seconds * 1000 / len(y):.0f} s, "
        f"CPU {cpu * 1000 / len(y):.0f} s"
    )
    rng = np.random.default_rng(1)
    small = errors if len(y) <= 20 else fourier_heatmap(model, x[:20], y[:20], config)
    for _ in range(args.check):
        u, v = (int(i) for i in rng.integers(0, x.shape[-1], 2))
        ref = naive_cell(model, x[:20], y[:20], u, v, config)
        print(f"check ({u}, {v}) on 20 images: batched {small[u, v]:.4f}, naive {ref:.4f}")
        assert abs(small[u, v] - ref) < 1e-9
    if args.save:
        np.save(args.save, errors)
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
