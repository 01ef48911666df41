"""The model and images an analysis command runs on, loaded and checked as other commands do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from hfc_classify.data import ImageSet, load_split
from hfc_classify.engine.evaluation import resolve_device
from hfc_classify.engine.loading import load_classifier
from hfc_detect.utils.errors import InputError


def load_inputs(
    arch: str, checkpoint: str | Path, data: str, *, limit: int | None, device: str
) -> tuple[nn.Module, ImageSet]:
    """The classifier on ``device`` (``auto``: a GPU where there is one) and the test split of
    ``data``, its first ``limit`` images if given; :class:`InputError` on bad input."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")
    dev = resolve_device(device)
    images = load_split(data, "test", option="--data")
    if limit is not None:
        images = images.subset(np.arange(min(limit, len(images))))
    return load_classifier(arch, checkpoint, images).to(dev), images
