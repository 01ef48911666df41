"""Image sets for classification and their cached low/high-frequency versions."""

from hfc_classify.data.datasets import ImageSet, load_npz, load_split, pixels_to_tensor
from hfc_classify.data.frequency_sets import (
    PIXEL_MODES,
    compute_components,
    default_cache_dir,
    frequency_sets,
)

__all__ = [
    "PIXEL_MODES",
    "ImageSet",
    "compute_components",
    "default_cache_dir",
    "frequency_sets",
    "load_npz",
    "load_split",
    "pixels_to_tensor",
]
