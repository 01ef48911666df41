"""Radius sweeps for AP-versus-radius curves: radii spaced geometrically from 4 to the images'
half-diagonal (the largest distance to the zero frequency that any image's spectrum has)."""

from __future__ import annotations

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


def half_diagonal(data: dict, annotations: str | os.PathLike) -> float:
    """The largest ``hypot(width, height) / 2`` of the images listed in the parsed COCO
    annotations ``data`` (their ``width``/``height`` fields) of the file ``annotations``."""
    images = data.get("images") or []
    sizes = [(im.get("width"), im.get("height")) for im in images]
    if not sizes or any(not isinstance(v, int) or v < 1 for size in sizes for v in size):
        raise InputError(f"{annotations}: --radius-sweep needs width and height of every image")
    return max(math.hypot(w, h) for w, h in sizes) / 2


def resolve_radii(
    radii: list[float],
    sweep: int | None,
    dataset: str | None,
    annotations: str | os.PathLike | None,
    images: str | os.PathLike | None,
) -> list[float]:
    """``radii`` as given, or with ``sweep`` the sweep over the dataset ``eval`` will run on
    (not both)."""
    if sweep is None:
        return radii
    if radii:
        raise InputError("give either --radius or --radius-sweep, not both")
    from hfc_detect.pipeline.inputs import resolve_dataset

    ds, _ = resolve_dataset(dataset, annotations, images)
    return sweep_radii(sweep, half_diagonal(ds.data, ds.annotations))
