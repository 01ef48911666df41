"""Run the classifier analyses on a tiny seeded model and random images; save rank 0's results
to ``argv[1]`` (an ``.npz``). Run as one process, or by ``torchrun`` on gloo ranks."""

from __future__ import annotations

import sys

import numpy as np
import torch

from hfc_classify.analysis.cue_conflict import cue_conflict
from hfc_classify.analysis.heatmap import HeatmapConfig, fourier_heatmap
from hfc_classify.robustness import RobustnessConfig, evaluate_robustness
from hfc_detect.utils import distributed as dist
from tests.classify.reference import tiny_model


def results() -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    model = tiny_model()
    x = torch.rand(21, 3, 8, 8, generator=torch.Generator().manual_seed(3))  # 21: uneven
    y = torch.from_numpy(np.arange(21) % 10)
    heat = fourier_heatmap(model, x, y, HeatmapConfig(eps=2.0, batch_size=32))  # passes of 4
    pixels = (x.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    cue = cue_conflict(model, pixels, y.numpy(), [2, 3], batch_size=5)
    table = evaluate_robustness(
        model, x, y, RobustnessConfig(rhos=(0, 0.5), epsilons=(0.03,), batch_size=6)
    )
    return {
        "heatmap": heat,
        "cue": np.array([[r.follows_low, r.follows_high] for r in cue]),
        "robust": np.array([[r.clean, *r.attacked.values()] for r in table.rows]),
        **{f"spectrum_{k}": v for k, v in sorted(table.spectra.items(), key=str)},
    }


def main(path: str) -> None:
    created = dist.init_from_env()
    try:
        out = results()
        if dist.rank() == 0:
            np.savez(path, world_size=dist.world_size(), **out)
    finally:
        dist.shutdown(created)


if __name__ == "__main__":
    main(sys.argv[1])
