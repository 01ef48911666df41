"""Making a run's variants: one forward FFT per image for every radius.

Which variants a run has, and their names, is :mod:`hfc_detect.frequency.variant`'s business
(``original``; ``lfc``/``hfc`` at one radius, ``lfc_r<r>``/``hfc_r<r>`` with several).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from hfc_detect.frequency import check_pixel_mode, split_radii, to_pixels
from hfc_detect.frequency.variant import Variant


class VariantMaker:
    """Turn decoded images into every planned variant.

    Images of the same size are stacked so that one batched forward FFT (``split_radii``) serves
    all of them, every radius and both parts. The split runs on the images' device in their
    dtype. The pixel mode applies to LFC/HFC only; originals pass through unchanged.
    """

    def __init__(self, variants: Mapping[str, Variant], pixel_mode: str = "raw"):
        self.variants = dict(variants)
        self.pixel_mode = check_pixel_mode(pixel_mode)
        components = [v for v in self.variants.values() if v.is_component]
        if len({v.inclusive for v in components}) > 1:
            raise ValueError("one run splits with one disk convention (inclusive or not)")
        self.inclusive = any(v.inclusive for v in components)
        self.radii = list(dict.fromkeys(v.radius for v in components))

    def __call__(self, images: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """``images``: float (C, H, W) tensors. Returns, per image, variant name -> tensor."""
        out: list[dict[str, torch.Tensor]] = [{} for _ in images]
        originals = [name for name, v in self.variants.items() if not v.is_component]
        for i, image in enumerate(images):
            for name in originals:
                out[i][name] = image
        if not self.radii:
            return out
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(tuple(image.shape), []).append(i)
        for indices in groups.values():
            batch = torch.stack([images[i] for i in indices])
            lows_highs = split_radii(batch, self.radii, inclusive=self.inclusive)
            parts = dict(zip(self.radii, lows_highs, strict=True))
            for name, v in self.variants.items():
                if not v.is_component:
                    continue
                low, high = parts[v.radius]
                part = low if v.kind == "lfc" else high
                if self.pixel_mode != "raw":  # to_pixels scales each image of the batch alone
                    part = to_pixels(part, self.pixel_mode)
                for j, i in enumerate(indices):
                    out[i][name] = part[j]
        return out
