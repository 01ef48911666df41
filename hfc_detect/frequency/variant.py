"""What a variant is: a typed spec of one transformed view of the data, and its one name.

A :class:`Variant` is the original images (``kind="original"``), their low- or
high-frequency component (``"lfc"``/``"hfc"``) at a ``radius``, or a frequency band
(``"band"``: ``inner <= d < radius``, i.e. LFC(radius) - LFC(inner)), split with the disk
``distance < r`` (the authors' released code) or ``<= r`` (``inclusive``, the paper's text).
Everything that names a variant or reads a name goes through this module, in both packages:

========================  =========================  ======================================
where                     what                       example
========================  =========================  ======================================
:meth:`Variant.name`      the variant's full name    ``original``, ``lfc_r64``, ``band_r16-64``
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
BAND = "band"

_NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_NAME = re.compile(
    rf"(?P<kind>lfc|hfc|band)_r(?:(?P<inner>{_NUMBER})-)?(?P<radius>{_NUMBER})(?P<incl>i?)"
)


def radius_tag(radius: float) -> str:
    """``64.0`` -> ``"64"``, ``64.5`` -> ``"64.5"``: the shortest decimal that reads back as the
    same float."""
    return str(int(radius)) if float(radius).is_integer() else repr(float(radius))


@dataclass(frozen=True)
class Variant:
    """One view of the images: ``kind`` original, lfc, hfc or band; ``radius`` for lfc/hfc
    and a band's outer radius (None for the original); ``inner``: a band's inner radius
    (``0 < inner < radius``); ``inclusive`` keeps the disks' edges (``<= r``). Checked on
    creation."""

    kind: str
    radius: float | None = None
    inclusive: bool = False
    inner: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in (*KINDS, BAND):
            kinds = ", ".join((*KINDS, BAND))
            raise InputError(f"unknown variant kind {self.kind!r}; choose from {kinds}")
        if self.kind == ORIGINAL:
            if self.radius is not None or self.inclusive or self.inner is not None:
                raise InputError("the original variant takes no radius")
            return
        object.__setattr__(self, "radius", check_radius(self.radius))
        if self.kind != BAND:
            if self.inner is not None:
                raise InputError(f"an {self.kind.upper()} has one radius, not a band's two")
            return
        inner = check_radius(self.inner) if self.inner is not None else None
        if inner is None or inner >= self.radius:
            raise InputError(
                f"a band needs 0 < R1 < R2 (R1:R2), got {self.inner!r}:{self.radius!r}"
            )
        object.__setattr__(self, "inner", inner)

    @property
    def is_component(self) -> bool:
        """Whether the frequency split makes it (LFC, HFC or band), i.e. it is not the original."""
        return self.kind != ORIGINAL

    @property
    def radii(self) -> tuple[float, ...]:
        """The disk radii whose LFCs make it: ``(radius,)``, ``(inner, radius)`` for a band."""
        if self.radius is None:
            return ()
        return (self.radius,) if self.inner is None else (self.inner, self.radius)

    @property
    def tag(self) -> str:
        """The radius part of names: ``r64``, ``r16i`` (inclusive), ``r16-64`` (a band);
        ``""`` for the original."""
        if self.radius is None:
            return ""
        radii = "-".join(radius_tag(r) for r in self.radii)
        return f"r{radii}{'i' if self.inclusive else ''}"

    def name(self, *, short: bool = False) -> str:
        """``original``, ``lfc_r64``, ``band_r16-64``; ``short``: an LFC's or HFC's kind alone
        (eval's names at one radius; a band always has its full name)."""
        if not self.is_component or (short and self.kind in COMPONENTS):
            return self.kind
        return f"{self.kind}_{self.tag}"

    @classmethod
    def parse(cls, name: str, *, radius: float | None = None) -> Variant:
        """The variant a name stands for: ``original``, ``lfc_r64``, ``hfc_r16i``,
        ``band_r16-64``, or ``lfc`` / ``hfc`` with their ``radius`` given; InputError for any
        other name."""
        if name == ORIGINAL:
            return cls(ORIGINAL)
        if name in COMPONENTS:
            if radius is None:
                raise InputError(f"variant {name!r} names no radius; give it")
            return cls(name, radius)
        match = _NAME.fullmatch(name)
        if match is None or (match["kind"] == BAND) != (match["inner"] is not None):
            raise InputError(
                f"{name!r} is not a variant name (original, lfc, hfc, lfc_r<radius>, "
                "hfc_r<radius>, band_r<R1>-<R2>)"
            )
        inner = float(match["inner"]) if match["inner"] is not None else None
        return cls(match["kind"], float(match["radius"]), bool(match["incl"]), inner)

    @classmethod
    def parse_or_none(cls, name: str, *, radius: float | None = None) -> Variant | None:
        """:meth:`parse`, or None where ``name`` is not a variant name (a user's own label)."""
        try:
            return cls.parse(name, radius=radius)
        except InputError:
            return None

    def sort_key(self) -> tuple:
        """The order runs list variants in: original, then by radius, LFC before HFC, then the
        bands from the lowest."""
        if not self.is_component:
            return (0,)
        if self.kind == BAND:
            return (2, self.inner, self.radius, self.inclusive)
        return (1, self.radius, self.inclusive, COMPONENTS.index(self.kind))

    def to_json(self) -> dict[str, Any]:
        """``{"kind": ..., "radius": ...}`` (``inner`` for a band, ``inclusive`` only when set),
        as summary.json records it."""
        out: dict[str, Any] = {"kind": self.kind, "radius": self.radius}
        if self.inner is not None:
            out["inner"] = self.inner
        if self.inclusive:
            out["inclusive"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variant:
        """The variant :meth:`to_json` wrote; InputError when it is not one."""
        if not isinstance(data, Mapping) or not set(data) <= {
            "kind",
            "radius",
            "inclusive",
            "inner",
        }:
            raise InputError(f"not a variant record: {data!r}")
        inclusive = bool(data.get("inclusive", False))
        return cls(data.get("kind"), data.get("radius"), inclusive, data.get("inner"))


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


def plan_variants(
    radii: Sequence[float],
    kinds: Sequence[str] = KINDS,
    bands: Sequence[tuple[float, float]] = (),
) -> list[Variant]:
    """The variants of ``kinds`` at each radius, in run order: the original (when asked), then
    per radius as given LFC then HFC, then the ``bands`` ((R1, R2) pairs) as given. Each radius
    is checked by :class:`Variant`."""
    kinds = parse_kinds(kinds)
    plan = [Variant(ORIGINAL)] if ORIGINAL in kinds else []
    plan += [Variant(kind, r) for r in radii for kind in COMPONENTS if kind in kinds]
    plan += [Variant(BAND, outer, inner=inner) for inner, outer in bands]
    return plan


def parse_band(text: str) -> tuple[float, float]:
    """``"16:64"`` (as given to ``--band``) -> ``(16.0, 64.0)``; InputError unless 0 < R1 < R2."""
    inner, sep, outer = str(text).partition(":")
    if not sep:
        raise InputError(f"--band expects R1:R2 (e.g. 16:64), got {text!r}")
    band = Variant(BAND, check_radius(outer), inner=check_radius(inner))
    return band.inner, band.radius


def name_variants(variants: Iterable[Variant]) -> dict[str, Variant]:
    """Name each variant as a run shows it: LFC and HFC by kind alone (``lfc``, ``hfc``) when
    they share one radius and split, else by full name (``lfc_r64``); bands by full name
    (``band_r16-64``); order kept."""
    variants = list(variants)
    tags = {v.tag for v in variants if v.kind in COMPONENTS}
    named = {v.name(short=len(tags) == 1): v for v in variants}
    if len(named) != len(variants):
        raise InputError("a variant is given twice")
    return named
