"""Making a run's variants: one forward FFT per image for every radius, and the image
transforms (corruptions, a user's functions) one image at a time.

Which variants a run has, and their names, is :mod:`hfc_detect.frequency.variant`'s business
(``original``; ``lfc``/``hfc`` at one radius, ``lfc_r<r>``/``hfc_r<r>`` with several;
``band_r16-64``; ``gaussian_noise_s3``; a transform's NAME). :func:`run_variants` and
:func:`variant_maker` turn an :class:`EvalConfig` into them: eval and ``hfc-detect spectrum``
both go through them, so the spectrum covers every variant eval runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import torch

from hfc_detect.frequency import check_pixel_mode, to_pixels
from hfc_detect.frequency.fourier import HalfSpectrum
from hfc_detect.frequency.variant import BAND, Variant, name_variants, plan_variants
from hfc_detect.pipeline.config import EvalConfig
from hfc_detect.pipeline.transforms import load_transforms


def run_variants(config: EvalConfig) -> dict[str, Variant]:
    """The variants of an eval run by name, in run order."""
    return name_variants(plan_variants(config.radii, config.variants, config.bands,
                                       config.corruptions, config.transforms))  # fmt: skip


def variant_maker(config: EvalConfig, channel_order: str = "RGB") -> VariantMaker:
    """The maker of every variant of an eval run (:func:`run_variants`, its pixel mode), for
    images decoded in ``channel_order``."""
    return VariantMaker(run_variants(config), config.pixel_mode, channel_order)


class VariantMaker:
    """Turn decoded images into every planned variant.

    Images of the same size are stacked so that one batched forward FFT serves all of them,
    every radius and both parts. The split runs on the images' device in their float dtype
    (float32 for a uint8 decode). The pixel mode applies to LFC/HFC (and bands) only; originals
    pass through unchanged.

    Memory: each image's variants are made when first read, one at a time (a variant is freed
    once the caller drops it and another is read), from the one spectrum per batch of images,
    so a large image holds its decode (uint8, as read), its cropped spectrum and one variant,
    not all of them.
    For large images (the transforms run on blocks, :class:`HalfSpectrum`) an HFC is computed
    in place over a fresh LFC, one more inverse transform per radius; for small ones the LFC is
    kept for its HFC.

    Corruptions and transforms (:mod:`hfc_detect.pipeline.transforms`, loaded here) are made
    from the image alone when read, never kept: they need the images' ids (their seeds) and
    their ``channel_order`` (the model's, as decoded).
    """

    def __init__(
        self, variants: Mapping[str, Variant], pixel_mode: str = "raw", channel_order: str = "RGB"
    ):
        self.variants = dict(variants)
        self.pixel_mode = check_pixel_mode(pixel_mode)
        self.channel_order = channel_order
        self.transforms = load_transforms(self.variants)
        components = [v for v in self.variants.values() if v.is_component]
        if len({v.inclusive for v in components}) > 1:
            raise ValueError("one run splits with one disk convention (inclusive or not)")
        self.inclusive = any(v.inclusive for v in components)
        self.radii = list(dict.fromkeys(v.radius for v in components))
        inner = [v.inner for v in components if v.kind == BAND]
        self.spectrum_radii = list(dict.fromkeys([*self.radii, *inner]))  # disks to cut

    def __call__(
        self, images: Sequence[torch.Tensor], image_ids: Sequence[int] | None = None
    ) -> list[Mapping[str, torch.Tensor]]:
        """``images``: (C, H, W) tensors, float or a uint8 decode; ``image_ids`` (needed for
        transforms): their ids. Returns, per image, variant name -> float tensor (float32 for
        integer images, converted when read: a large decode is held as uint8, not as a float
        copy beside its variants)."""
        if self.transforms and image_ids is None:
            raise ValueError("transforms need the images' ids (their seeds)")
        ids = list(image_ids) if image_ids is not None else [None] * len(images)
        if len(ids) != len(images):
            raise ValueError(f"{len(ids)} image ids for {len(images)} images")
        if not self.radii:
            return [
                _ImageVariants(self, image, None, 0, i)
                for image, i in zip(images, ids, strict=True)
            ]
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
                out[i] = _ImageVariants(self, images[i], parts, j, ids[i])
        return out


class _Parts:
    """The components of one batch of same-size images, made on request from one spectrum;
    the last one made is kept for the batch's other images."""

    def __init__(self, maker: VariantMaker, batch: torch.Tensor) -> None:
        self.maker = maker
        self.spectrum = HalfSpectrum(batch, maker.spectrum_radii, inclusive=maker.inclusive)
        self.last: tuple[str, torch.Tensor] | None = None
        self.low: tuple[float, torch.Tensor] | None = None

    def get(self, name: str, variant: Variant) -> torch.Tensor:
        if self.last is None or self.last[0] != name:
            self.last = None  # freed before the next one is made
            self.last = (name, self._make(variant))
        return self.last[1]

    def _make(self, variant: Variant) -> torch.Tensor:
        image = self.spectrum.image
        if variant.kind == BAND:  # inner <= d < radius: LFC(radius) - LFC(inner)
            part = self.spectrum.low(variant.radius).sub_(self.spectrum.low(variant.inner))
        elif self.spectrum.blocked:  # a large image: its HFC in place over a fresh LFC
            low_or_high = self.spectrum.low if variant.kind == "lfc" else self.spectrum.high
            part = low_or_high(variant.radius)
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

    def __init__(
        self,
        maker: VariantMaker,
        image: torch.Tensor,
        parts: _Parts | None,
        j: int,
        image_id: int | None,
    ):
        self.maker, self.variants = maker, maker.variants
        self.image, self.parts, self.j, self.image_id = image, parts, j, image_id

    def __getitem__(self, name: str) -> torch.Tensor:
        variant = self.variants[name]
        if variant.is_transform:
            transform = self.maker.transforms[name]
            return transform(self.image, self.image_id, self.maker.channel_order)
        if not variant.is_component:
            image = self.image
            return image if image.is_floating_point() else image.to(torch.float32)
        assert self.parts is not None
        return self.parts.get(name, variant)[self.j]

    def __iter__(self) -> Iterator[str]:
        return iter(self.variants)

    def __len__(self) -> int:
        return len(self.variants)
