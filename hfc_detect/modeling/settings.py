"""What builds a detector, as ``eval`` and ``heatmap`` take it from their options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hfc_detect.modeling.base import Detector


@dataclass(frozen=True)
class DetectorSettings:
    """A backend (registered name or ``package.module:Class``) and the options its builder
    gets: ``config_file``, ``weights``, ``overrides`` (``--set KEY=VALUE``) and ``device``;
    only those given (not None, not empty) are passed."""

    backend: str
    config_file: str | None = None
    weights: str | None = None
    overrides: tuple[str, ...] = ()
    device: str | None = None

    def build(self, categories: Mapping[int, str] | None = None) -> Detector:
        """The detector (:func:`~hfc_detect.modeling.build_detector`); ``categories``: the
        annotation file's id -> name, for backends whose models name their classes."""
        from hfc_detect.modeling.registry import build_detector

        options: dict[str, Any] = {"config_file": self.config_file, "weights": self.weights,
                                   "device": self.device}  # fmt: skip
        options = {k: v for k, v in options.items() if v is not None}
        if self.overrides:
            options["overrides"] = list(self.overrides)
        return build_detector(self.backend, categories=categories, **options)
