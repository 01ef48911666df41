"""LFC/HFC versions of whole image sets, computed once and cached on disk.

The split is :func:`hfc_detect.frequency.split` run on the device in batches; the components
are then scaled to pixels by :func:`hfc_detect.frequency.to_pixels` (``max``: each image divided
by its own maximum, as the authors' released code does; ``clip``; ``raw``). Results are float32
(N, C, H, W) tensors on the CPU, or kept on the device they were computed on (``out_device``).
A cache file is named by the images' content hash, the radius, the component, the scaling and
the disk convention, so a changed input never reuses a stale one. Frequency bands
(:func:`band_sets`, LFC(R2) - LFC(R1)) are computed the same way, from one forward FFT a batch
for all bands, and not cached.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from hfc_classify.data.datasets import images_fingerprint, pixels_to_tensor
from hfc_detect.frequency import PIXEL_MODES
from hfc_detect.frequency.variant import COMPONENTS, Variant
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path


def default_cache_dir() -> Path:
    """``$HFC_CACHE_DIR`` or ``~/.cache/hfc-toolkit``, plus ``frequency-sets``."""
    base = os.environ.get("HFC_CACHE_DIR") or Path.home() / ".cache" / "hfc-toolkit"
    return Path(base) / "frequency-sets"


def cache_name(fingerprint: str, radius: float, variant: str, mode: str, inclusive: bool) -> str:
    """The cache file name of one component set."""
    disk = "incl" if inclusive else "strict"
    return f"{fingerprint}_{Variant(variant, radius).tag}_{variant}_{mode}_{disk}.npy"


def _check(radii: Iterable[float], variants: Iterable[str], mode: str) -> None:
    for v in variants:
        if v not in COMPONENTS:
            raise InputError(f"component must be one of {', '.join(COMPONENTS)}, got {v!r}")
    if mode not in PIXEL_MODES:
        raise InputError(f"pixel scaling must be one of {', '.join(PIXEL_MODES)}, got {mode!r}")
    for r in radii:
        if not float(r) > 0:
            raise InputError(f"radius must be > 0, got {r!r}")


def compute_components(
    images: np.ndarray,
    radii: Iterable[float],
    *,
    mode: str = "max",
    inclusive: bool = False,
    device: str | torch.device = "cpu",
    batch_size: int = 1000,
    out_device: str | torch.device = "cpu",
) -> dict[tuple[str, float], torch.Tensor]:
    """``{(variant, radius): tensor}`` of uint8 (N, H, W, C) ``images``: split on 0..255 pixels
    (one forward FFT a batch for all radii) on ``device``, scaled by ``mode``, divided by 255
    (the released code's order); float32 (N, C, H, W) on ``out_device``. No caching."""
    from hfc_detect.frequency import split_radii, to_pixels

    radii = [float(r) for r in radii]
    _check(radii, COMPONENTS, mode)
    n, h, w, c = images.shape
    out = {(v, r): torch.empty((n, c, h, w), device=out_device) for r in radii for v in COMPONENTS}
    for start in range(0, n, batch_size):
        batch = pixels_to_tensor(images[start : start + batch_size]).to(device) * 255
        pairs = split_radii(batch, radii, inclusive=inclusive)
        for r, (low, high) in zip(radii, pairs, strict=True):
            for v, comp in (("lfc", low), ("hfc", high)):
                out[(v, r)][start : start + len(batch)] = to_pixels(comp, mode) / 255
    return out


def frequency_sets(
    images: np.ndarray,
    radii: Iterable[float],
    *,
    variants: Iterable[str] = COMPONENTS,
    mode: str = "max",
    inclusive: bool = False,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    batch_size: int = 1000,
    out_device: str | torch.device = "cpu",
) -> dict[tuple[str, float], torch.Tensor]:
    """``{(variant, radius): tensor}`` for uint8 (N, H, W, C) ``images``, read from the cache in
    ``cache_dir`` where present, else computed on ``device`` and written there atomically
    (``None``: no cache). Tensors are float32 (N, C, H, W) on ``out_device`` (the CPU by
    default; a GPU keeps whole sets there, computed there, for a run)."""
    radii, variants = [float(r) for r in radii], list(variants)
    _check(radii, variants, mode)
    key = images_fingerprint(images) if cache_dir is not None else ""

    def path(v: str, r: float) -> Path:
        return Path(cache_dir) / cache_name(key, r, v, mode, inclusive)

    out: dict[tuple[str, float], torch.Tensor] = {}
    if cache_dir is not None:
        for r in radii:
            for v in variants:
                if path(v, r).is_file():
                    out[(v, r)] = torch.from_numpy(np.load(path(v, r))).to(out_device)
    todo = [r for r in radii if any((v, r) not in out for v in variants)]
    if todo:
        comps = compute_components(
            images,
            todo,
            mode=mode,
            inclusive=inclusive,
            device=device,
            batch_size=batch_size,
            out_device=out_device,
        )
        for r in todo:
            for v in variants:
                out[(v, r)] = comps[(v, r)]
                if cache_dir is not None:
                    with atomic_path(path(v, r)) as tmp, open(tmp, "wb") as f:
                        np.save(f, comps[(v, r)].cpu().numpy())
    return {(v, r): out[(v, r)] for r in radii for v in variants}


def band_sets(
    images: np.ndarray,
    bands: Sequence[tuple[float, float]],
    *,
    mode: str = "max",
    inclusive: bool = False,
    device: str | torch.device = "cpu",
    batch_size: int = 1000,
) -> dict[tuple[float, float], torch.Tensor]:
    """``{(R1, R2): tensor}``: the band ``R1 <= d < R2`` (:func:`hfc_detect.frequency.split_bands`,
    one forward FFT a batch for all bands) of uint8 (N, H, W, C) ``images`` on 0..255 pixels on
    ``device``, scaled by ``mode`` as an HFC is, divided by 255; float32 (N, C, H, W) on the
    CPU. Not cached."""
    from hfc_detect.frequency import split_bands, to_pixels

    _check([], [], mode)
    n, h, w, c = images.shape
    bands = [(float(a), float(b)) for a, b in bands]
    out = {band: torch.empty((n, c, h, w)) for band in bands}
    for start in range(0, n, batch_size):
        batch = pixels_to_tensor(images[start : start + batch_size]).to(device) * 255
        for band, part in zip(bands, split_bands(batch, bands, inclusive=inclusive), strict=True):
            out[band][start : start + len(batch)] = to_pixels(part, mode).cpu() / 255
    return out
