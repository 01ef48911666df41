"""Splitting images into low- and high-frequency components, and preparing them as pixels.

- :func:`split` / :func:`split_radii`: the paper's Fourier disk split (Sec. 3.1), numpy or torch;
- :func:`split_band` / :func:`split_bands`: annuli ``R1 <= d < R2`` (LFC(R2) - LFC(R1)), one FFT;
- :func:`to_pixels`: ``raw`` / ``clip`` / ``max`` pixel handling before feeding a model;
- :func:`svd_split`: Sec. 8's alternative, top-k singular values per channel vs the rest.
"""

from hfc_detect.frequency.bands import split_band, split_bands
from hfc_detect.frequency.fourier import check_radius, disk_mask, split, split_radii
from hfc_detect.frequency.pixels import PIXEL_MODES, check_pixel_mode, to_pixels
from hfc_detect.frequency.svd import svd_split

__all__ = [
    "PIXEL_MODES",
    "check_pixel_mode",
    "check_radius",
    "disk_mask",
    "split",
    "split_band",
    "split_bands",
    "split_radii",
    "svd_split",
    "to_pixels",
]
