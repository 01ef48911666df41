"""One colour per variant, the same in the spectrum, errors and histogram figures of a folder
(give :func:`variant_styles` all its variants, the baseline too): LFCs in blues, HFCs in reds,
bands in greens (one shade per radius, darkest first), the original dark grey, and every other
kind (corruptions, transforms, variants a folder does not describe) in colours of its own.
``curve.png`` draws each family as one line of the same hue (blue, red, green)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hfc_detect.frequency.variant import Variant

FAMILIES = {"lfc": "Blues", "hfc": "Reds", "band": "Greens"}
ORIGINAL_COLOUR = "0.35"
# matplotlib's tab10 without the blue, red and green of the families, nor the cyan and brown,
# whose hues lie near the blue's and the red's
OTHER_COLOURS = ("tab:orange", "tab:purple", "tab:pink", "tab:olive", "tab:gray")


def variant_styles(kinds: Mapping[str, Variant | None]) -> dict[str, tuple[Any, str]]:
    """Variant name -> (matplotlib colour, line style) for the variants of ``kinds`` (name ->
    spec, None where unknown), in its order. Variants of other kinds cycle through
    :data:`OTHER_COLOURS`, solid the first time round and dash-dotted after."""
    from matplotlib import colormaps

    by_kind: dict[str | None, list[str]] = {}
    for name, spec in kinds.items():
        by_kind.setdefault(spec.kind if spec is not None else None, []).append(name)
    styles: dict[str, tuple[Any, str]] = {}
    others = 0
    for kind, names in by_kind.items():
        for i, name in enumerate(names):
            if kind == "original":
                styles[name] = (ORIGINAL_COLOUR, "-")
            elif kind in FAMILIES:
                shade = 0.85 - 0.5 * i / max(1, len(names) - 1)
                styles[name] = (colormaps[FAMILIES[kind]](shade), "-")
            else:
                colour = OTHER_COLOURS[others % len(OTHER_COLOURS)]
                styles[name] = (colour, "-" if others < len(OTHER_COLOURS) else "-.")
                others += 1
    return {name: styles[name] for name in kinds}
