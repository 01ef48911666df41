"""Which variants an evaluation runs, and making them: one forward FFT per image for all radii.

Naming: with one radius the variants are ``original``, ``lfc``, ``hfc``; with several radii
``original``, then ``lfc_r<r>``, ``hfc_r<r>`` per radius in the order given (``lfc_r64``,
``hfc_r64``, ``lfc_r128``, ...). ``original`` is the baseline whenever it is requested.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from hfc_detect.frequency import check_pixel_mode, check_radius, to_pixels
from hfc_detect.frequency.fourier import HalfSpectrum
from hfc_detect.utils.errors import InputError

KINDS = ("original", "lfc", "hfc")


@dataclass(frozen=True)
class Variant:
    """One input variant: ``kind`` original/lfc/hfc, at ``radius`` (None for the original)."""

    name: str
    kind: str
    radius: float | None


def check_radii(radii: Sequence[float]) -> list[float]:
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


def radius_tag(radius: float) -> str:
    """``64.0`` -> ``"64"``, ``64.5`` -> ``"64.5"`` (used in variant names and reports)."""
    return str(int(radius)) if float(radius).is_integer() else repr(float(radius))


def plan_variants(radii: Sequence[float], kinds: Sequence[str]) -> list[Variant]:
    """The variants to run, in output order (see the module docstring for the names)."""
    radii = check_radii(radii)
    kinds = parse_kinds(kinds)
    plan = [Variant("original", "original", None)] if "original" in kinds else []
    for r in radii:
        for kind in ("lfc", "hfc"):
            if kind in kinds:
                name = kind if len(radii) == 1 else f"{kind}_r{radius_tag(r)}"
                plan.append(Variant(name, kind, r))
    return plan


class VariantMaker:
    """Turn decoded images into every planned variant.

    Images of the same size are stacked so that one batched forward FFT serves all of them,
    every radius and both parts. The split runs on the images' device in their dtype. The pixel
    mode applies to LFC/HFC only; originals pass through unchanged.

    Memory: each image's variants are made when first read, one at a time (a variant is freed
    once the caller drops it and another is read), from the one spectrum per batch of images,
    so a large image holds its original, its cropped spectrum and one variant, not all of them.
    For large images (the transforms run on blocks, :class:`HalfSpectrum`) an HFC is computed
    in place over a fresh LFC, one more inverse transform per radius; for small ones the LFC is
    kept for its HFC.
    """

    def __init__(self, variants: Sequence[Variant], pixel_mode: str = "raw", *, inclusive=False):
        self.variants = list(variants)
        self.pixel_mode = check_pixel_mode(pixel_mode)
        self.inclusive = inclusive
        self.radii = list(dict.fromkeys(v.radius for v in self.variants if v.radius is not None))

    def __call__(self, images: Sequence[torch.Tensor]) -> list[Mapping[str, torch.Tensor]]:
        """``images``: float (C, H, W) tensors. Returns, per image, variant name -> tensor."""
        if not self.radii:
            return [_ImageVariants(self, image, None, 0) for image in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(tuple(image.shape), []).append(i)
        out: list[Mapping[str, torch.Tensor]] = [{} for _ in images]
        for indices in groups.values():
            if len(indices) == 1:
                batch = images[indices[0]][None]  # a view: no copy of a large image
            else:
                batch = torch.stack([images[i] for i in indices])
            parts = _Parts(self, batch)
            for j, i in enumerate(indices):
                out[i] = _ImageVariants(self, images[i], parts, j)
        return out


class _Parts:
    """The LFC/HFC of one batch of same-size images, made on request from one spectrum; the
    last one made is kept for the batch's other images."""

    def __init__(self, maker: VariantMaker, batch: torch.Tensor) -> None:
        self.maker = maker
        self.spectrum = HalfSpectrum(batch, maker.radii, inclusive=maker.inclusive)
        self.last: tuple[str, torch.Tensor] | None = None
        self.low: tuple[float, torch.Tensor] | None = None

    def get(self, variant: Variant) -> torch.Tensor:
        if self.last is None or self.last[0] != variant.name:
            self.last = None  # freed before the next one is made
            self.last = (variant.name, self._make(variant))
        return self.last[1]

    def _make(self, variant: Variant) -> torch.Tensor:
        image = self.spectrum.image
        if self.spectrum.blocked:  # a large image: its HFC in place over a fresh LFC
            part = self.spectrum.low(variant.radius)
            if variant.kind == "hfc":
                part = torch.sub(image.to(part.dtype), part, out=part)
        else:  # a small one: the LFC is kept for the HFC of the same radius
            if self.low is None or self.low[0] != variant.radius:
                self.low = None
                self.low = (variant.radius, self.spectrum.low(variant.radius))
            low = self.low[1]
            part = low if variant.kind == "lfc" else image.to(low.dtype) - low
        if self.maker.pixel_mode != "raw":  # to_pixels scales each image of the batch alone
            part = to_pixels(part, self.maker.pixel_mode)
        return part


class _ImageVariants(Mapping):
    """One image's planned variants by name, each made when read (:class:`VariantMaker`)."""

    def __init__(self, maker: VariantMaker, image: torch.Tensor, parts: _Parts | None, j: int):
        self.by_name = {v.name: v for v in maker.variants}
        self.image, self.parts, self.j = image, parts, j

    def __getitem__(self, name: str) -> torch.Tensor:
        variant = self.by_name[name]
        if variant.kind == "original":
            return self.image
        assert self.parts is not None
        return self.parts.get(variant)[self.j]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)
