"""Time ``hfc_detect.frequency.split`` against the straightforward per-channel numpy computation.

    python tools/bench_split.py [--repeats 15] [--radius 128] [--batch 256]

Part 1, one 480x640x3 uint8 image, radius 128: two references, per channel
``fftshift(fft2)``, disk mask, ``ifft2(ifftshift(.)).real`` for the LFC only, and the paper's
four equations literally (a second inverse for the HFC), against ``split`` (which returns both
parts), all on one thread, in shuffled order each round in the same process; prints medians
of wall time and of the calling thread's CPU time (steadier on a shared machine), their
ratios, and the largest difference from the references (it must be below 1e-6 on the 0..255
scale, else the script exits 1).

Part 2, CIFAR-sized batches (N, 32, 32, 3) uint8 at the paper's radii: ``split`` on the whole
batch with numpy, with torch on CPU (channels-first), and the reference image by image.

Part 3, bands against radii in eval's own path (``VariantMaker`` on one float32 (3, 480, 640)
image, every variant made once, one thread): the per-image cost of original + LFC/HFC at
r = 128, then with one band added (64-128), with one more radius added (64: LFC and HFC), and
eval's --radius-sweep/--band-sweep plans (6 radii, and 6 radii + 6 octave bands up to the
half-diagonal 400); wall-time medians and the count of forward FFTs (``torch.fft.rfft`` calls)
per image, which must stay 1 (else the script exits 1).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfc_detect.frequency import split


def reference_low(x: np.ndarray, radius: float) -> np.ndarray:
    """Straightforward per-channel computation of the paper's equations (low part)."""
    h, w = x.shape[:2]
    rows = np.arange(h)[:, None] - h // 2
    cols = np.arange(w)[None, :] - w // 2
    mask = np.sqrt(rows**2 + cols**2) < radius
    low = np.empty(x.shape, dtype=np.float64)
    for c in range(x.shape[2]):
        z = np.fft.fftshift(np.fft.fft2(x[:, :, c].astype(np.float64)))
        low[:, :, c] = np.fft.ifft2(np.fft.ifftshift(z * mask)).real
    return low


def reference_both(x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The paper's four equations literally: one forward, one inverse per part, per channel."""
    h, w = x.shape[:2]
    rows = np.arange(h)[:, None] - h // 2
    cols = np.arange(w)[None, :] - w // 2
    mask = np.sqrt(rows**2 + cols**2) < radius
    low = np.empty(x.shape, dtype=np.float64)
    high = np.empty(x.shape, dtype=np.float64)
    for c in range(x.shape[2]):
        z = np.fft.fftshift(np.fft.fft2(x[:, :, c].astype(np.float64)))
        low[:, :, c] = np.fft.ifft2(np.fft.ifftshift(z * mask)).real
        high[:, :, c] = np.fft.ifft2(np.fft.ifftshift(z * ~mask)).real
    return low, high


def time_alternating(
    funcs: dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float]
) -> dict[str, list]:
    """Run each function once per round in a shuffled order, ``repeats`` rounds (after one
    warm-up round), timing each call with ``clock``."""
    for f in funcs.values():
        f()
    times: dict[str, list] = {name: [] for name in funcs}
    order = list(funcs.items())
    shuffle = random.Random(0).shuffle
    for _ in range(repeats):
        shuffle(order)
        for name, f in order:
            start = clock()
            f()
            times[name].append(clock() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--radius", type=float, default=128.0)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    r = args.radius
    low, high = split(image, r)
    ref_low, ref_high = reference_both(image, r)
    worst = max(np.abs(low - reference_low(image, r)).max(), np.abs(high - ref_high).max())
    worst = max(worst, np.abs(low - ref_low).max())

    funcs = {
        "reference, LFC only": lambda: reference_low(image, r),
        "reference, LFC + HFC": lambda: reference_both(image, r),
        "split": lambda: split(image, r),
    }
    print(f"480x640x3 uint8, radius {r:g}, {args.repeats} rounds, {os.cpu_count()} CPUs")
    print(f"  max |split - reference| = {worst:.2e} (0..255 scale, LFC and HFC)")
    for clock_name, clock in (("wall", time.perf_counter), ("CPU of thread", time.thread_time)):
        times = time_alternating(funcs, args.repeats, clock)
        ref_low_med = statistics.median(times["reference, LFC only"])
        ref_both_med = statistics.median(times["reference, LFC + HFC"])
        print(f"  {clock_name} time, medians (ratios: reference LFC only / LFC + HFC)")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(
                f"    {name:<22} {med * 1e3:7.2f} ms (best {min(ts) * 1e3:6.2f})"
                f"  ratio {ref_low_med / med:5.2f}x / {ref_both_med / med:5.2f}x"
            )

    import torch

    torch.set_num_threads(1)
    batch = rng.integers(0, 256, size=(args.batch, 32, 32, 3), dtype=np.uint8)
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
    print(f"CIFAR batch {args.batch}x32x32x3 uint8, wall-time medians, 1 thread each")
    for radius in (4, 8, 12, 16):
        got = split(tensor.double(), radius)[0].permute(0, 2, 3, 1).numpy()
        ref = np.stack([reference_low(img, radius) for img in batch[:8]])
        assert np.abs(got[:8] - ref).max() < 1e-6
        ts = time_alternating(
            {
                "numpy": lambda radius=radius: split(batch, radius),
                "torch32": lambda radius=radius: split(tensor, radius),
                "torch64": lambda radius=radius: split(tensor.double(), radius),
                "reference": lambda radius=radius: [reference_low(img, radius) for img in batch],
            },
            max(3, args.repeats // 3),
            time.perf_counter,
        )
        meds = {name: statistics.median(t) * 1e3 for name, t in ts.items()}
        print(
            f"  r={radius:<3} numpy {meds['numpy']:6.1f} ms  torch float32 {meds['torch32']:6.1f}"
            f" ms  torch float64 {meds['torch64']:6.1f} ms  reference loop"
            f" {meds['reference']:7.1f} ms ({meds['reference'] / meds['numpy']:.1f}x numpy)"
        )
    forwards = bench_bands(rng, max(5, args.repeats))
    if worst >= 1e-6:
        print("FAIL: split differs from the reference by >= 1e-6", file=sys.stderr)
        return 1
    if forwards != {1}:
        print(f"FAIL: forward FFTs per image {sorted(forwards)}, not 1", file=sys.stderr)
        return 1
    return 0


def bench_bands(rng: np.random.Generator, repeats: int) -> set[int]:
    """Part 3 (see the module docstring); returns the forward FFT counts seen per image."""
    import torch

    from hfc_detect.analysis.radii import octave_bands, sweep_radii
    from hfc_detect.frequency.variant import name_variants, plan_variants
    from hfc_detect.pipeline.variants import VariantMaker

    image = torch.from_numpy(rng.integers(0, 256, (3, 480, 640)).astype(np.float32))
    plans = {
        "r=128": ([128.0], []),
        "r=128 + band 64-128": ([128.0], [(64.0, 128.0)]),
        "r=128 + r=64": ([128.0, 64.0], []),
        "sweep: 6 radii": (sweep_radii(6, 400.0), []),
        "sweep: 6 radii + 6 bands": (sweep_radii(6, 400.0), octave_bands(6, 400.0)),
    }
    calls = {"n": 0}
    rfft = torch.fft.rfft

    def counted(*a, **k):
        calls["n"] += 1
        return rfft(*a, **k)

    def make_all(maker: VariantMaker) -> None:
        for variants in maker([image]):
            for name in variants:
                variants[name]  # made on read, as eval reads them

    makers = {
        k: VariantMaker(name_variants(plan_variants(r, bands=b))) for k, (r, b) in plans.items()
    }
    forwards = set()
    torch.fft.rfft = counted
    try:
        for maker in makers.values():
            calls["n"] = 0
            make_all(maker)
            forwards.add(calls["n"])
    finally:
        torch.fft.rfft = rfft
    ts = time_alternating({k: lambda m=m: make_all(m) for k, m in makers.items()}, repeats,
                          time.perf_counter)  # fmt: skip
    meds = {k: statistics.median(t) * 1e3 for k, t in ts.items()}
    base = meds["r=128"]
    print(f"bands vs radii in eval's VariantMaker, 3x480x640 float32, 1 thread, {repeats} rounds")
    for name, med in meds.items():
        n = len(makers[name].variants)
        print(f"  {name:<26} {n:2d} variants  {med:7.2f} ms an image  (+{med - base:6.2f} ms)")
    print(f"  forward FFTs per image: {sorted(forwards)}")
    return forwards


if __name__ == "__main__":
    sys.exit(main())
