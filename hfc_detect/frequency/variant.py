"""What a variant is: a typed spec of one transformed view of the data, and its one name.

A :class:`Variant` is the original images (``kind="original"``), or their low- or
high-frequency component (``"lfc"``/``"hfc"``) at a ``radius``, split with the disk
``distance < r`` (the authors' released code) or ``<= r`` (``inclusive``, the paper's text).
Everything that names a variant or reads a name goes through this module, in both packages:

========================  =========================  ======================================
where                     what                       example
========================  =========================  ======================================
:meth:`Variant.name`      the variant's full name    ``original``, ``lfc_r64``, ``hfc_r8.5``
``name(short=True)``      eval's name at one radius  ``lfc``, ``hfc``
:attr:`Variant.tag`       the radius part            ``r64``, ``r16i`` (inclusive)
:meth:`Variant.parse`     any of these names back    ``"lfc_r64"`` -> ``Variant("lfc", 64)``
:func:`name_variants`     a run's names              short when one radius serves all
========================  =========================  ======================================

A radius is tagged with its shortest exact decimal (``64``, ``8.5``), so a name parses back to
the same float. The names are those the toolkit always wrote (``per_image.csv`` columns,
``predictions/<name>.json``, the classifier's ``train_lfc_r4`` metric columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hfc_detect.frequency.fourier import check_radius
from hfc_detect.utils.errors import InputError

ORIGINAL = "original"
COMPONENTS = ("lfc", "hfc")
KINDS = (ORIGINAL, *COMPONENTS)

_NAME = re.compile(r"(?P<kind>lfc|hfc)_r(?P<radius>\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?P<incl>i?)")


def radius_tag(radius: float) -> str:
    """``64.0`` -> ``"64"``, ``64.5`` -> ``"64.5"``: the shortest decimal that reads back as the
    same float."""
    return str(int(radius)) if float(radius).is_integer() else repr(float(radius))


@dataclass(frozen=True)
class Variant:
    """One view of the images: ``kind`` original, lfc or hfc; ``radius`` for lfc/hfc (None
    for the original); ``inclusive`` keeps the disk's edge (``<= r``). Checked on creation."""

    kind: str
    radius: float | None = None
    inclusive: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown variant kind {self.kind!r}; choose from {', '.join(KINDS)}")
        if self.kind == ORIGINAL:
            if self.radius is not None or self.inclusive:
                raise InputError("the original variant takes no radius")
        else:
            object.__setattr__(self, "radius", check_radius(self.radius))

    @property
    def is_component(self) -> bool:
        """Whether this is an LFC or HFC (made by the frequency split)."""
        return self.kind != ORIGINAL

    @property
    def tag(self) -> str:
        """The radius part of names: ``r64``, ``r16i`` (inclusive); ``""`` for the original."""
        if self.radius is None:
            return ""
        return f"r{radius_tag(self.radius)}{'i' if self.inclusive else ''}"

    def name(self, *, short: bool = False) -> str:
        """``original``, ``lfc_r64``; ``short``: the kind alone (eval's names at one radius)."""
        return self.kind if short or not self.is_component else f"{self.kind}_{self.tag}"

    @classmethod
    def parse(cls, name: str, *, radius: float | None = None) -> Variant:
        """The variant a name stands for: ``original``, ``lfc_r64``, ``hfc_r16i``, or ``lfc`` /
        ``hfc`` with their ``radius`` given; InputError for any other name."""
        if name == ORIGINAL:
            return cls(ORIGINAL)
        if name in COMPONENTS:
            if radius is None:
                raise InputError(f"variant {name!r} names no radius; give it")
            return cls(name, radius)
        match = _NAME.fullmatch(name)
        if match is None:
            raise InputError(
                f"{name!r} is not a variant name (original, lfc, hfc, lfc_r<radius>, hfc_r<radius>)"
            )
        return cls(match["kind"], float(match["radius"]), inclusive=bool(match["incl"]))

    @classmethod
    def parse_or_none(cls, name: str, *, radius: float | None = None) -> Variant | None:
        """:meth:`parse`, or None where ``name`` is not a variant name (a user's own label)."""
        try:
            return cls.parse(name, radius=radius)
        except InputError:
            return None

    def sort_key(self) -> tuple:
        """The order runs list variants in: original, then by radius, LFC before HFC."""
        if not self.is_component:
            return (0,)
        return (1, self.radius, self.inclusive, COMPONENTS.index(self.kind))

    def to_json(self) -> dict[str, Any]:
        """``{"kind": ..., "radius": ...}`` (``inclusive`` only when set), as summary.json
        records it."""
        out: dict[str, Any] = {"kind": self.kind, "radius": self.radius}
        if self.inclusive:
            out["inclusive"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variant:
        """The variant :meth:`to_json` wrote; InputError when it is not one."""
        if not isinstance(data, Mapping) or not set(data) <= {"kind", "radius", "inclusive"}:
            raise InputError(f"not a variant record: {data!r}")
        return cls(data.get("kind"), data.get("radius"), bool(data.get("inclusive", False)))


def check_radii(radii: Sequence[Any]) -> list[float]:
    """The radii as floats; InputError when none is given, one is <= 0 or not finite, or repeats."""
    if not radii:
        raise InputError("give at least one --radius (the paper uses 128), or --radius-sweep N")
    out: list[float] = []
    for value in radii:
        r = check_radius(value)
        if r in out:
            raise InputError(f"radius {value!r} is given twice")
        out.append(r)
    return out


def parse_kinds(text: str | Sequence[str]) -> list[str]:
    """``"original,lfc,hfc"`` (or a list) -> kinds in canonical order; InputError if unknown."""
    items = text.split(",") if isinstance(text, str) else list(text)
    kinds = [k.strip().lower() for k in items if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise InputError(
            f"unknown variant(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(KINDS)}"
        )
    return [k for k in KINDS if k in kinds]


def plan_variants(radii: Sequence[float], kinds: Sequence[str] = KINDS) -> list[Variant]:
    """The variants of ``kinds`` at each radius, in run order: the original (when asked), then
    per radius as given LFC then HFC. Each radius is checked by :class:`Variant`."""
    kinds = parse_kinds(kinds)
    plan = [Variant(ORIGINAL)] if ORIGINAL in kinds else []
    plan += [Variant(kind, r) for r in radii for kind in COMPONENTS if kind in kinds]
    return plan


def name_variants(variants: Iterable[Variant]) -> dict[str, Variant]:
    """Name each variant as a run shows it: by kind alone (``lfc``, ``hfc``) when every
    component shares one radius and split, else by full name (``lfc_r64``); order kept."""
    variants = list(variants)
    tags = {v.tag for v in variants if v.is_component}
    named = {v.name(short=len(tags) == 1): v for v in variants}
    if len(named) != len(variants):
        raise InputError("a variant is given twice")
    return named
