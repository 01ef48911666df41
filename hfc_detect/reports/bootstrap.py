"""Paired bootstrap confidence interval of the mean per-image AP difference (variant - baseline).

Images are resampled with replacement as pairs (both APs of an image travel together), the mean
difference is taken for each resample, and the interval is the percentile interval of those
means: ``scipy.stats.bootstrap(method="percentile")`` on the per-image differences, vectorised,
in batches of bounded memory. (It draws the same indices from the same seeded generator as the
hand-written loop it replaced, and gives the same intervals to 1e-17.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from hfc_detect.reports.defaults import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED
from hfc_detect.utils.errors import InputError

_MAX_CELLS = 4_000_000  # indices drawn at once: ~32 MB of int64


@dataclass(frozen=True)
class BootstrapCI:
    """Mean paired difference, its percentile interval, and how it was obtained."""

    mean: float
    low: float
    high: float
    num_pairs: int
    resamples: int
    confidence: float
    seed: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def paired_bootstrap_ci(
    baseline: np.ndarray,
    variant: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> BootstrapCI:
    """Percentile bootstrap CI of ``mean(variant - baseline)``; pairs with a NaN are dropped."""
    base = np.asarray(baseline, dtype=np.float64).ravel()
    var = np.asarray(variant, dtype=np.float64).ravel()
    if base.shape != var.shape:
        raise InputError(f"paired samples differ in length: {base.size} vs {var.size}")
    if resamples < 1:
        raise InputError(f"resamples must be >= 1, got {resamples}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    diff = var - base
    diff = diff[np.isfinite(diff)]
    n = diff.size
    if n == 0:
        raise InputError("no image has a defined AP in both variants; nothing to bootstrap")
    low = high = float(diff[0])  # one pair: every resample is that pair
    if n > 1:
        from scipy.stats import bootstrap  # here: importing this module stays cheap (~1 s less)

        interval = bootstrap(
            (diff,),
            np.mean,
            n_resamples=resamples,
            batch=max(1, _MAX_CELLS // n),
            vectorized=True,
            confidence_level=confidence,
            method="percentile",
            random_state=np.random.default_rng(seed),  # scipy >= 1.15 also calls it rng
        ).confidence_interval
        low, high = interval.low, interval.high
    return BootstrapCI(
        mean=float(diff.mean()),
        low=float(low),
        high=float(high),
        num_pairs=int(n),
        resamples=int(resamples),
        confidence=float(confidence),
        seed=int(seed),
    )
