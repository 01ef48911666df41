"""Radii that leave nothing to split: legal, but worth one line of warning where the image
sizes are known (an eval's planning, a classifier's data set), not in the radius check."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def radius_warnings(
    radii: Iterable[float],
    sizes: Sequence[tuple[int, int] | None],
    bands: Iterable[tuple[float, float]] = (),
) -> list[str]:
    """One line for each radius that makes the split trivial on the images of ``sizes``
    ((width, height); None where unknown): 0 < r < 1 keeps only the zero frequency, and r at or
    beyond every image's half-diagonal keeps the whole spectrum (checked only when every size
    is known); and for each band ``(R1, R2)`` whose inner edge is at or beyond it (the band is
    empty: zero). Not errors: such radii are legal, merely uninformative."""
    known = [size for size in sizes if size is not None]
    largest = (
        max(math.hypot(w, h) / 2 for w, h in known) if known and len(known) == len(sizes) else None
    )
    lines = []
    for r in radii:
        if 0 < r < 1:
            lines.append(
                f"radius {r:g} is below 1: the disk holds only the zero frequency, so each LFC "
                "is a flat image (every channel's mean) and each HFC is the image minus that mean"
            )
        elif largest is not None and r >= largest:
            lines.append(
                f"radius {r:g} is at or beyond the half-diagonal of every image (the largest is "
                f"{largest:.1f}): the disk holds the whole spectrum (but the corner frequency "
                "when r equals it exactly), so each LFC is the image itself and each HFC zero"
            )
    for inner, outer in bands:
        if largest is not None and inner >= largest:
            lines.append(
                f"band {inner:g}-{outer:g} starts at or beyond the half-diagonal of every image "
                f"(the largest is {largest:.1f}): it holds no frequency, so each band image is zero"
            )
    return lines
