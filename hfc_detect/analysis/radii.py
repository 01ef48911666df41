"""Radius and band sweeps for AP-versus-radius curves: radii spaced geometrically from 4 to the
images' half-diagonal (the largest distance to the zero frequency that any image's spectrum has),
and octave bands whose outermost edge is that same half-diagonal."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from hfc_detect.utils.errors import InputError

SWEEP_START = 4.0


def sweep_radii(count: int, half_diagonal: float) -> list[float]:
    """``count`` radii geometric from 4 to ``half_diagonal``, both included, rounded to 0.1."""
    if count < 2:
        raise InputError(f"--radius-sweep needs at least 2 radii, got {count}")
    if not half_diagonal > SWEEP_START:
        raise InputError(f"images too small for a sweep: half-diagonal {half_diagonal:g} <= 4")
    radii = [round(float(r), 1) for r in np.geomspace(SWEEP_START, half_diagonal, count)]
    if len(set(radii)) < count:
        raise InputError(f"--radius-sweep {count}: too many radii between 4 and {half_diagonal:g}")
    return radii


def octave_bands(count: int, half_diagonal: float) -> list[tuple[float, float]]:
    """``count`` octave bands ``(R1, R2)``, lowest first, the last ending at ``half_diagonal``
    (as :func:`sweep_radii`'s largest radius): edges ``half_diagonal / 2**k`` for k = count..0,
    rounded to 0.1. Below the lowest edge (the disk ``d < half_diagonal / 2**count``) is no band."""
    if count < 1:
        raise InputError(f"--band-sweep needs at least 1 band, got {count}")
    edges = [round(half_diagonal / 2**k, 1) for k in range(count, -1, -1)]
    if edges[0] <= 0 or len(set(edges)) < len(edges):
        raise InputError(
            f"--band-sweep {count}: too many octaves below the half-diagonal {half_diagonal:g}"
        )
    return list(itertools.pairwise(edges))


def half_diagonal(data: dict, annotations: str | os.PathLike) -> float:
    """The largest ``hypot(width, height) / 2`` of the images listed in the parsed COCO
    annotations ``data`` (their ``width``/``height`` fields) of the file ``annotations``."""
    images = data.get("images") or []
    sizes = [(im.get("width"), im.get("height")) for im in images]
    if not sizes or any(not isinstance(v, int) or v < 1 for size in sizes for v in size):
        raise InputError(f"{annotations}: a sweep needs width and height of every image")
    return max(math.hypot(w, h) for w, h in sizes) / 2


def resolve_sweeps(
    radii: list[float],
    bands: list[str],
    sweeps: tuple[int | None, int | None],
    dataset: str | None,
    annotations: str | os.PathLike | None,
    images: str | os.PathLike | None,
) -> tuple[list[float], list[str] | list[tuple[float, float]]]:
    """``(radii, bands)`` as given, or with ``sweeps`` = (``--radius-sweep``, ``--band-sweep``)
    the radii and octave bands of the dataset ``eval`` will run on (a sweep or its option given,
    not both)."""
    radius_sweep, band_sweep = sweeps
    if radius_sweep is not None and radii:
        raise InputError("give either --radius or --radius-sweep, not both")
    if band_sweep is not None and bands:
        raise InputError("give either --band or --band-sweep, not both")
    if radius_sweep is None and band_sweep is None:
        return radii, bands
    from hfc_detect.pipeline.inputs import resolve_dataset

    ds, _ = resolve_dataset(dataset, annotations, images)
    extent = half_diagonal(ds.data, ds.annotations)
    if radius_sweep is not None:
        radii = sweep_radii(radius_sweep, extent)
    return radii, bands if band_sweep is None else octave_bands(band_sweep, extent)
