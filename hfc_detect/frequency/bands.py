"""Frequency bands: what lies between two disks of the spectrum, from one forward FFT.

The band ``(R1, R2)`` of an image keeps the coefficients at distance ``R1 <= d < R2`` from the
zero frequency (``R1 < d <= R2`` with ``inclusive=True``), i.e. ``LFC(R2) - LFC(R1)`` under
:func:`~hfc_detect.frequency.split`'s disk convention; it is made exactly so, from the LFCs of
one shared forward transform (:func:`split_radii` for numpy, :class:`HalfSpectrum` for torch),
so any number of bands costs one forward FFT and one inverse per distinct edge. The paper has
no bands (Sec. 3.1 splits at one radius).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hfc_detect.frequency.fourier import HalfSpectrum, _torch_if_tensor, split_radii
from hfc_detect.frequency.variant import BAND, Variant
from hfc_detect.utils.errors import InputError


def check_bands(bands: Sequence[Any]) -> list[tuple[float, float]]:
    """``bands`` as ``(R1, R2)`` float pairs; InputError unless each is a pair with
    0 < R1 < R2."""
    if isinstance(bands, (str, bytes)) or not isinstance(bands, Sequence):
        raise InputError(f"bands must be a sequence of (R1, R2) pairs, got {bands!r}")
    out = []
    for band in bands:
        if isinstance(band, (str, bytes)) or not isinstance(band, Sequence) or len(band) != 2:
            raise InputError(f"a band is an (R1, R2) pair, got {band!r}")
        variant = Variant(BAND, band[1], inner=band[0])
        out.append((variant.inner, variant.radius))
    return out


def split_bands(x: Any, bands: Sequence[Any], *, inclusive: bool = False) -> list[Any]:
    """``[LFC(R2) - LFC(R1) for (R1, R2) in bands]`` of ``x``, sharing one forward transform.

    Same layouts, dtypes and disk convention as :func:`~hfc_detect.frequency.split` (numpy
    channels-last to float64; torch channels-first in its float dtype, on its device,
    differentiable). Each band is a fresh array.
    """
    pairs = check_bands(bands)
    edges = list(dict.fromkeys(r for pair in pairs for r in pair))
    if not edges:
        return []
    if isinstance(x, np.ndarray):
        lows = {r: low for r, (low, _) in zip(edges, split_radii(x, edges, inclusive=inclusive),
                                               strict=True)}  # fmt: skip
        return [lows[outer] - lows[inner] for inner, outer in pairs]
    if _torch_if_tensor(x) is None:
        raise InputError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
    spectrum = HalfSpectrum(x, edges, inclusive)
    lows = {r: spectrum.low(r) for r in edges}
    return [lows[outer] - lows[inner] for inner, outer in pairs]


def split_band(x: Any, inner: float, radius: float, *, inclusive: bool = False) -> Any:
    """The band ``inner <= d < radius`` of ``x``: :func:`split_bands` with one band."""
    return split_bands(x, [(inner, radius)], inclusive=inclusive)[0]
