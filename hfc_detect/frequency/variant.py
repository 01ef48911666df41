"""What a variant is: a typed spec of one transformed view of the data, and its one name.

A :class:`Variant` is the original images (``kind="original"``), their low- or
high-frequency component (``"lfc"``/``"hfc"``) at a ``radius``, or a frequency band
(``"band"``: ``inner <= d < radius``, i.e. LFC(radius) - LFC(inner)), split with the disk
``distance < r`` (the authors' released code) or ``<= r`` (``inclusive``, the paper's text);
or an image transform: one of the 15 ImageNet-C / COCO-C corruptions at a ``severity``
(``"corruption"``, named ``<corruption>_s<severity>``) or a user's function
(``"transform"``: ``label`` its name, ``function`` its ``package.module:function``).
Everything that names a variant or reads a name goes through this module, in both packages:

========================  =========================  ======================================
where                     what                       example
========================  =========================  ======================================
:meth:`Variant.name`      the variant's full name    ``original``, ``lfc_r64``, ``band_r16-64``
``name(short=True)``      eval's name at one radius  ``lfc``, ``hfc``
a corruption's name       ``<corruption>_s<N>``      ``gaussian_noise_s3``
a transform's name        the user's ``NAME``        ``blur`` (``--transform blur=pkg.mod:fn``)
:attr:`Variant.tag`       the radius part            ``r64``, ``r16i`` (inclusive)
:meth:`Variant.parse`     any of these names back    ``"lfc_r64"`` -> ``Variant("lfc", 64)``
:func:`name_variants`     a run's names              short when one radius serves all
========================  =========================  ======================================

A radius is tagged with its shortest exact decimal (``64``, ``8.5``), so a name parses back to
the same float. The names are those the toolkit always wrote (``per_image.csv`` columns,
``predictions/<name>.json``, the classifier's ``train_lfc_r4`` metric columns). A transform's
name says nothing about its function: :meth:`Variant.parse` reads it given the run's
transforms, and ``summary.json`` records its spec.
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
CORRUPTION = "corruption"
TRANSFORM = "transform"
ALL_KINDS = (*KINDS, BAND, CORRUPTION, TRANSFORM)
# ImageNet-C's 15 corruptions (Hendrycks & Dietterich, 2019), as imagecorruptions names them
CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
               "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
               "elastic_transform", "pixelate", "jpeg_compression")  # fmt: skip
SEVERITIES = (1, 2, 3, 4, 5)

_NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_NAME = re.compile(
    rf"(?P<kind>lfc|hfc|band)_r(?:(?P<inner>{_NUMBER})-)?(?P<radius>{_NUMBER})(?P<incl>i?)"
)
_CORRUPTION_NAME = re.compile(r"(?P<corruption>[a-z_]+)_s(?P<severity>\d+)")
_TRANSFORM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_FUNCTION = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def radius_tag(radius: float) -> str:
    """``64.0`` -> ``"64"``, ``64.5`` -> ``"64.5"``: the shortest decimal that reads back as the
    same float."""
    return str(int(radius)) if float(radius).is_integer() else repr(float(radius))


@dataclass(frozen=True)
class Variant:
    """One view of the images: ``kind`` original, lfc, hfc, band, corruption or transform;
    ``radius`` for lfc/hfc and a band's outer radius (None otherwise); ``inner``: a band's
    inner radius (``0 < inner < radius``); ``inclusive`` keeps the disks' edges (``<= r``).
    ``label``: a corruption's name (one of :data:`CORRUPTIONS`) or a transform's name;
    ``severity``: a corruption's (1-5); ``function``: a transform's ``package.module:function``.
    Checked on creation."""

    kind: str
    radius: float | None = None
    inclusive: bool = False
    inner: float | None = None
    label: str | None = None
    severity: int | None = None
    function: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            kinds = ", ".join(ALL_KINDS)
            raise InputError(f"unknown variant kind {self.kind!r}; choose from {kinds}")
        if self.kind in (CORRUPTION, TRANSFORM):
            self._check_transform()
            return
        if (self.label, self.severity, self.function) != (None, None, None):
            raise InputError(f"the {self.kind} variant takes no label, severity or function")
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

    def _check_transform(self) -> None:
        if (self.radius, self.inner, self.inclusive) != (None, None, False):
            raise InputError(f"a {self.kind} takes no radius")
        if self.kind == CORRUPTION:
            if self.function is not None:
                raise InputError("a corruption takes no function")
            if self.label not in CORRUPTIONS:
                raise InputError(
                    f"unknown corruption {self.label!r}; choose from {', '.join(CORRUPTIONS)}"
                )
            if type(self.severity) is not int or self.severity not in SEVERITIES:
                raise InputError(f"a corruption's severity is 1-5, got {self.severity!r}")
            return
        if self.severity is not None:
            raise InputError("a transform takes no severity")
        if not isinstance(self.label, str) or not _TRANSFORM_NAME.fullmatch(self.label):
            raise InputError(
                f"a transform's NAME is a letter then letters, digits, _ or -, got {self.label!r}"
            )
        name = self.label.lower()  # LFC.json and lfc.json are one file on some file systems
        corruption = _CORRUPTION_NAME.fullmatch(name)
        if (
            name in (*KINDS, BAND)
            or _NAME.fullmatch(name)
            or (corruption and corruption["corruption"] in CORRUPTIONS)
        ):
            raise InputError(f"{self.label!r} names a built-in variant; give the transform another")
        if not isinstance(self.function, str) or not _FUNCTION.fullmatch(self.function):
            raise InputError(
                f"transform {self.label!r}: the function is package.module:function, "
                f"got {self.function!r}"
            )

    @property
    def is_component(self) -> bool:
        """Whether the frequency split makes it (LFC, HFC or band)."""
        return self.kind in (*COMPONENTS, BAND)

    @property
    def is_transform(self) -> bool:
        """Whether a function of the image makes it (a corruption or a user's transform)."""
        return self.kind in (CORRUPTION, TRANSFORM)

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
        """``original``, ``lfc_r64``, ``band_r16-64``, ``gaussian_noise_s3``, a transform's
        ``label``; ``short``: an LFC's or HFC's kind alone (eval's names at one radius; the
        others always have their full name)."""
        if self.kind == CORRUPTION:
            return f"{self.label}_s{self.severity}"
        if self.kind == TRANSFORM:
            return str(self.label)
        if not self.is_component or (short and self.kind in COMPONENTS):
            return self.kind
        return f"{self.kind}_{self.tag}"

    @classmethod
    def parse(
        cls,
        name: str,
        *,
        radius: float | None = None,
        transforms: Mapping[str, str] | None = None,
    ) -> Variant:
        """The variant a name stands for: ``original``, ``lfc_r64``, ``hfc_r16i``,
        ``band_r16-64``, ``gaussian_noise_s3``, ``lfc`` / ``hfc`` with their ``radius`` given,
        or a transform's name with the run's ``transforms`` (name -> package.module:function)
        given; InputError for any other name."""
        if name == ORIGINAL:
            return cls(ORIGINAL)
        if name in COMPONENTS:
            if radius is None:
                raise InputError(f"variant {name!r} names no radius; give it")
            return cls(name, radius)
        if transforms and name in transforms:
            return cls(TRANSFORM, label=name, function=transforms[name])
        corruption = _CORRUPTION_NAME.fullmatch(name)
        if corruption is not None and corruption["corruption"] in CORRUPTIONS:
            return cls(CORRUPTION, label=corruption["corruption"],
                       severity=int(corruption["severity"]))  # fmt: skip
        match = _NAME.fullmatch(name)
        if match is None or (match["kind"] == BAND) != (match["inner"] is not None):
            raise InputError(
                f"{name!r} is not a variant name (original, lfc, hfc, lfc_r<radius>, "
                "hfc_r<radius>, band_r<R1>-<R2>, <corruption>_s<severity>, a transform's NAME)"
            )
        inner = float(match["inner"]) if match["inner"] is not None else None
        return cls(match["kind"], float(match["radius"]), bool(match["incl"]), inner)

    @classmethod
    def parse_or_none(
        cls, name: str, *, radius: float | None = None, transforms: Mapping[str, str] | None = None
    ) -> Variant | None:
        """:meth:`parse`, or None where ``name`` is not a variant name (a user's own label)."""
        try:
            return cls.parse(name, radius=radius, transforms=transforms)
        except InputError:
            return None

    def sort_key(self) -> tuple:
        """The order runs list variants in: original, then by radius, LFC before HFC, then the
        bands from the lowest, the corruptions in ImageNet-C's order by severity, and the
        transforms by name."""
        if self.kind == ORIGINAL:
            return (0,)
        if self.kind == BAND:
            return (2, self.inner, self.radius, self.inclusive)
        if self.kind == CORRUPTION:
            return (3, CORRUPTIONS.index(str(self.label)), self.severity)
        if self.kind == TRANSFORM:
            return (4, self.label)
        return (1, self.radius, self.inclusive, COMPONENTS.index(self.kind))

    def to_json(self) -> dict[str, Any]:
        """``{"kind": ..., "radius": ...}`` (``inner`` for a band, ``inclusive`` only when set);
        ``{"kind": "corruption", "label": ..., "severity": ...}``; ``{"kind": "transform",
        "label": ..., "function": ...}``: as summary.json records it."""
        if self.kind == CORRUPTION:
            return {"kind": self.kind, "label": self.label, "severity": self.severity}
        if self.kind == TRANSFORM:
            return {"kind": self.kind, "label": self.label, "function": self.function}
        out: dict[str, Any] = {"kind": self.kind, "radius": self.radius}
        if self.inner is not None:
            out["inner"] = self.inner
        if self.inclusive:
            out["inclusive"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variant:
        """The variant :meth:`to_json` wrote; InputError when it is not one."""
        keys = {"kind", "radius", "inclusive", "inner", "label", "severity", "function"}
        if not isinstance(data, Mapping) or not set(data) <= keys:
            raise InputError(f"not a variant record: {data!r}")
        inclusive = bool(data.get("inclusive", False))
        return cls(data.get("kind"), data.get("radius"), inclusive, data.get("inner"),
                   data.get("label"), data.get("severity"), data.get("function"))  # fmt: skip


def check_radii(radii: Sequence[Any], *, required: bool = True) -> list[float]:
    """The radii as floats; InputError when one is <= 0 or not finite, or repeats, or when none
    is given and ``required`` (a run with LFC/HFC variants)."""
    if not radii and required:
        raise InputError(
            "give at least one --radius (the paper uses 128), or --radius-sweep N; a run without "
            "LFC and HFC (--variants original) needs none"
        )
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
    corruptions: Sequence[tuple[str, int]] = (),
    transforms: Sequence[tuple[str, str]] = (),
) -> list[Variant]:
    """The variants of ``kinds`` at each radius, in run order: the original (when asked), then
    per radius as given LFC then HFC, then the ``bands`` ((R1, R2) pairs), the ``corruptions``
    ((name, severity) pairs) and the ``transforms`` ((NAME, package.module:function) pairs),
    each as given. Each is checked by :class:`Variant`."""
    kinds = parse_kinds(kinds)
    plan = [Variant(ORIGINAL)] if ORIGINAL in kinds else []
    plan += [Variant(kind, r) for r in radii for kind in COMPONENTS if kind in kinds]
    plan += [Variant(BAND, outer, inner=inner) for inner, outer in bands]
    plan += [Variant(CORRUPTION, label=name, severity=level) for name, level in corruptions]
    plan += [Variant(TRANSFORM, label=name, function=fn) for name, fn in transforms]
    return plan


def parse_band(text: str) -> tuple[float, float]:
    """``"16:64"`` (as given to ``--band``) -> ``(16.0, 64.0)``; InputError unless 0 < R1 < R2."""
    inner, sep, outer = str(text).partition(":")
    if not sep:
        raise InputError(f"--band expects R1:R2 (e.g. 16:64), got {text!r}")
    band = Variant(BAND, check_radius(outer), inner=check_radius(inner))
    return band.inner, band.radius


def parse_corruption(text: str) -> tuple[str, int]:
    """``"gaussian_noise:3"`` (as given to ``--corruption``) -> ``("gaussian_noise", 3)``;
    InputError naming the valid corruptions or severities otherwise."""
    name, sep, severity = str(text).partition(":")
    if not sep:
        raise InputError(
            f"--corruption expects NAME:SEVERITY (e.g. gaussian_noise:3), got {text!r}"
        )
    try:
        level = int(severity)
    except ValueError:
        raise InputError(f"--corruption {text}: the severity is 1-5, got {severity!r}") from None
    spec = Variant(CORRUPTION, label=name.strip(), severity=level)
    return str(spec.label), level


def parse_transform(text: str) -> tuple[str, str]:
    """``"blur=pkg.mod:fn"`` (as given to ``--transform``) -> ``("blur", "pkg.mod:fn")``;
    InputError unless NAME is a free name and the function a ``package.module:function``."""
    name, sep, function = str(text).partition("=")
    if not sep:
        raise InputError(
            f"--transform expects NAME=package.module:function (e.g. blur=my_pkg.ops:blur), "
            f"got {text!r}"
        )
    spec = Variant(TRANSFORM, label=name.strip(), function=function.strip())
    return str(spec.label), str(spec.function)


def name_variants(variants: Iterable[Variant]) -> dict[str, Variant]:
    """Name each variant as a run shows it: LFC and HFC by kind alone (``lfc``, ``hfc``) when
    they share one radius and split, else by full name (``lfc_r64``); bands by full name
    (``band_r16-64``); order kept."""
    variants = list(variants)
    tags = {v.tag for v in variants if v.kind in COMPONENTS}
    named = {v.name(short=len(tags) == 1): v for v in variants}
    if len(named) != len(variants):
        raise InputError("a variant is given twice")
    if len({name.lower() for name in named}) != len(named):  # one file on some file systems
        raise InputError(f"two variants' names differ only in case: {', '.join(named)}")
    return named
