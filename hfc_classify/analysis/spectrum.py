"""Perturbation spectra: where adversarial perturbations put their energy (the paper's Sec. 6
seen through Sec. 3's split).

The power spectrum of perturbations ``delta = x_adv - x`` is ``|fftshift(fft2(delta))|^2`` per
channel, summed over channels and images: an (H, W) array in the centred layout (zero frequency
at (H//2, W//2)). The share of the energy outside radius r is the sum over the bins at distance
``>= r`` from the zero frequency (outside the default ``< r`` disk of the split, i.e. the energy
the HFC at r keeps) divided by the total, for every integer r from 0 to past the corners.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from hfc_detect.frequency import disk_mask

#: A spectrum's key: (rho, attack, eps).
SpectrumKey = tuple[float, str, float]


def power_spectrum(delta: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) perturbations -> (H, W) float64 summed power spectrum, centred layout, on
    the perturbations' device."""
    spectrum = torch.fft.fft2(delta.to(torch.float64))
    power = (spectrum.real**2 + spectrum.imag**2).sum(dim=(0, 1))
    return torch.fft.fftshift(power)


def spectrum_radii(height: int, width: int) -> np.ndarray:
    """0, 1, ..., the first integer beyond the farthest bin (where the share outside is 0)."""
    farthest = math.hypot(height // 2, width // 2)  # the corner (0, 0) of the centred layout
    return np.arange(math.floor(farthest) + 2, dtype=np.float64)


def share_outside(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(radii, share of the total energy at distance >= r) of a centred (H, W) spectrum; all 0
    for an all-zero spectrum."""
    height, width = power.shape
    radii = spectrum_radii(height, width)
    total = float(power.sum())
    shares = [float(power[~disk_mask(height, width, r)].sum()) for r in radii]
    return radii, np.array(shares) / total if total > 0 else np.zeros(len(radii))


def radial_profile(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(r, mean power of the bins at distance in [r, r + 1)) for the rings that hold bins."""
    height, width = power.shape
    rows = np.arange(height)[:, None] - height // 2
    cols = np.arange(width)[None, :] - width // 2
    ring = np.floor(np.sqrt(rows**2 + cols**2)).astype(np.int64).ravel()
    counts = np.bincount(ring)
    sums = np.bincount(ring, weights=power.ravel())
    held = counts > 0
    return np.flatnonzero(held).astype(np.float64), sums[held] / counts[held]


def spectra_csv(spectra: Mapping[SpectrumKey, np.ndarray]) -> str:
    """``rho,attack,eps,radius,share_outside`` rows: per spectrum, one row per radius."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["rho", "attack", "eps", "radius", "share_outside"])
    for (rho, attack, eps), power in spectra.items():
        for r, share in zip(*share_outside(power), strict=True):
            writer.writerow([f"{rho:g}", attack, f"{eps:g}", f"{r:g}", f"{share:.6f}"])
    return buf.getvalue()


def plot_spectra(path: str | Path, spectra: Mapping[SpectrumKey, np.ndarray], title: str) -> Path:
    """Two panels: the radial power profile (log scale, normalised to total 1) and the share of
    energy outside r; colour per (attack, eps), line style per rho."""
    from hfc_detect.utils.figures import pyplot, save_png

    plt = pyplot()
    fig, (profile_ax, share_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = list(dict.fromkeys((a, e) for _, a, e in spectra))
    rhos = list(dict.fromkeys(rho for rho, _, _ in spectra))
    colors = plt.get_cmap("tab10")
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
    for (rho, attack, eps), power in spectra.items():
        color = colors(series.index((attack, eps)) % 10)
        style = styles[rhos.index(rho) % len(styles)]
        label = f"{attack.upper()} eps={eps:g}" + (f", rho={rho:g}" if len(rhos) > 1 else "")
        r, mean = radial_profile(power)
        profile_ax.plot(r, mean / max(power.sum(), 1e-300), linestyle=style, color=color,
                        label=label)  # fmt: skip
        share_ax.plot(*share_outside(power), linestyle=style, color=color, label=label)
    flat = np.ones(next(iter(spectra.values())).shape)  # white noise: equal power everywhere
    share_ax.plot(*share_outside(flat), color="0.6", linewidth=3, alpha=0.5, label="white noise")
    profile_ax.set_yscale("log")
    profile_ax.set_xlabel("radius r (distance to the zero frequency)")
    profile_ax.set_ylabel("mean power per bin at r (share of total)")
    share_ax.set_xlabel("radius r")
    share_ax.set_ylabel("share of energy outside r (kept by the HFC at r)")
    share_ax.set_ylim(0, 1.02)
    for ax in (profile_ax, share_ax):
        ax.grid(alpha=0.3)
    share_ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)
