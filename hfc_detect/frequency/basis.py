"""Real Fourier basis images, the perturbations of Fourier heat maps (Yin et al. 2019).

A frequency is given as signed cycles per image (``fy`` down the rows, ``fx`` across the
columns). Its real basis image is ``cos(2 pi (fy * y / H + fx * x / W))`` scaled to unit L2
norm. For integer frequencies this is, up to rounding, ``real(ifft2(ifftshift(D)))`` scaled to
unit norm, where ``D`` (centred layout) is 1 at the frequency and at its Hermitian partner: the
inverse DFT of the pair is ``2 cos(...) / (H W)``, or ``cos(...) / (H W)`` when the frequency is
its own partner (zero frequency, Nyquist rows/columns), and both have the cosine's shape. The
cosine form works for any image size, which the detector heat maps need (one frequency grid in
cycles per image, images of many sizes).

``(fy, fx)`` and ``(-fy, -fx)`` give the same basis image, so a heat map computes only one of
each pair: :func:`pair_representatives`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Frequency = tuple[int, int]


def fourier_basis(height: int, width: int, fy: float, fx: float) -> np.ndarray:
    """The unit-L2-norm (H, W) float64 image ``cos(2 pi (fy y / H + fx x / W))``."""
    y = np.arange(height, dtype=np.float64)[:, None] / height
    x = np.arange(width, dtype=np.float64)[None, :] / width
    basis = np.cos(2 * np.pi * (fy * y + fx * x))
    return basis / np.linalg.norm(basis)


def fourier_bases(height: int, width: int, frequencies: Sequence[Frequency]) -> np.ndarray:
    """:func:`fourier_basis` for each frequency, stacked: (K, H, W) float64."""
    out = np.empty((len(frequencies), height, width), dtype=np.float64)
    for k, (fy, fx) in enumerate(frequencies):
        out[k] = fourier_basis(height, width, fy, fx)
    return out


def pair_representatives(
    points: Sequence[Frequency], partner: Callable[[Frequency], Frequency]
) -> tuple[list[Frequency], np.ndarray]:
    """One point of each ``{p, partner(p)}`` pair among ``points``, and for every point the
    index of its pair's representative (the pair's first point in ``points`` order).

    A point whose partner is not in ``points`` represents itself."""
    index: dict[Frequency, int] = {}
    representatives: list[Frequency] = []
    mapping = np.empty(len(points), dtype=np.int64)
    for i, p in enumerate(points):
        rep = index.get(partner(p))
        if rep is None:
            rep = len(representatives)
            representatives.append(p)
            index[p] = rep
        mapping[i] = rep
    return representatives, mapping
