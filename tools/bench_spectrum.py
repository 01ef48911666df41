"""Benchmark: the variant spectrum of an eval folder (what ``hfc-detect spectrum`` and the end
of ``eval`` compute), per image.

    python tools/bench_spectrum.py DIR [--sample 50] [--repeat 3]

Times :func:`hfc_detect.analysis.spectrum.variant_spectrum` on ``--sample`` images of the eval
folder ``DIR`` (decoding, eval's variant maker, one real FFT per image and variant), best of
``--repeat`` runs, and apart from it one :func:`radial_energy` of a (3, H, W) image of the
folder's first sampled size. Wall and CPU seconds per image are printed; run with
``OMP_NUM_THREADS=1`` for one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="an hfc-detect eval folder")
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from hfc_detect.analysis.spectrum import radial_energy, variant_spectrum

    runs = []
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = variant_spectrum(args.folder, sample=args.sample)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = min(runs)
    n = len(result.image_ids)
    variants = ", ".join(result.shares)
    print(f"{n} images, variants {variants}: best of {args.repeat} {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU = {wall / n * 1000:.0f} ms wall, {cpu / n * 1000:.0f} ms CPU "
          "per image")  # fmt: skip
    image = np.random.default_rng(0).random((3, 480, 640)) * 255
    start = time.perf_counter()
    for _ in range(20):
        radial_energy(image)
    seconds = (time.perf_counter() - start) / 20
    print(f"radial_energy of a 3 x 480 x 640 image: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
