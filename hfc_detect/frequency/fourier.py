"""The paper's low/high frequency split (Sec. 3.1): keep a centred disk of the 2-D spectrum.

Definition (per channel, for an image of H rows and W columns): take the 2-D DFT, shift it so
the zero frequency sits at (H//2, W//2), keep the coefficients whose Euclidean distance to that
bin is ``< radius`` (``<= radius`` with ``inclusive=True``) for the low-frequency component
(LFC), inverse-transform, take the real part; the high-frequency component (HFC) is the rest,
so ``low + high == x``.

Where this differs from the authors' released code (TensorFlow 1):

- the released code centres the disk at (rows/2, rows/2) even for non-square images, i.e. off
  the zero frequency when H != W; here it is centred at (H//2, W//2), the zero frequency after
  ``fftshift``, for any size (identical for square images);
- the released code keeps ``distance < r``, the paper writes ``<= r``: ``inclusive`` selects.

How it is computed (the same numbers as ``fftshift(fft2)`` per channel up to float64 rounding,
about 1e-13 on a 0..255 scale; 3-4x faster than that computation of the LFC alone and about 6x
than the paper's equations for both parts, on one core: ``tools/bench_split.py``): in
unshifted layout the disk's bin k has the signed frequency of ``np.fft.fftfreq``, and the disk
depends only on |frequency|, so it is symmetric under k -> -k (the Nyquist row/column of even
sizes pairs with itself). For real x the real part of ``ifft2(fft2(x) * M)`` is then exactly
``irfft2(rfft2(x) * M_half)``, and ``high = x - low`` needs no second inverse. Only the
columns of the half-spectrum that meet the disk go through the column transforms; the row
transforms run on blocks of rows that stay in cache; masks are
cached per (shape, radius, inclusive); one forward transform serves any number of radii
(:func:`split_radii`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from hfc_detect.utils.errors import InputError


def check_radius(radius: Any) -> float:
    """``radius`` as a float; InputError unless it is a finite number > 0."""
    if isinstance(radius, bool):
        raise InputError(f"radius must be a number, got {radius!r}")
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise InputError(f"radius must be a number, got {radius!r}") from None
    if not math.isfinite(r) or r <= 0:
        raise InputError(f"radius must be a finite number > 0, got {radius!r}")
    return r


def disk_mask(height: int, width: int, radius: float, *, inclusive: bool = False) -> np.ndarray:
    """Boolean (H, W) mask in centred (``fftshift``) layout: True where the distance to
    (H//2, W//2) is ``< radius`` (``<= radius`` when ``inclusive``)."""
    rows = np.arange(height)[:, None] - height // 2
    cols = np.arange(width)[None, :] - width // 2
    dist = np.sqrt(rows**2 + cols**2)
    return dist <= radius if inclusive else dist < radius


@lru_cache(maxsize=128)
def half_spectrum_mask(height: int, width: int, radius: float, inclusive: bool) -> np.ndarray:
    """The disk in unshifted ``rfft2`` layout, cropped to the columns it meets: (H, k) float64.

    Read-only and cached; column j is frequency j, row i is ``fftfreq(height)[i] * height``.
    The same values as :func:`disk_mask` ``ifftshift``-ed and cropped, computed for the kept
    columns only (never the whole plane: 180 MB of distances for a 24-megapixel image).
    """
    # Column j is at distance j from the zero frequency on its row, so the disk meets j < r.
    columns = int(np.flatnonzero(_inside(np.arange(width // 2 + 1), radius, inclusive))[-1]) + 1
    rows = (np.arange(height) + height // 2) % height - height // 2  # ifftshift's frequencies
    dist = np.sqrt(rows[:, None] ** 2 + np.arange(columns)[None, :] ** 2)
    mask = _inside(dist, radius, inclusive).astype(np.float64)
    mask.setflags(write=False)
    return mask


def _inside(dist: np.ndarray, radius: float, inclusive: bool) -> np.ndarray:
    return dist <= radius if inclusive else dist < radius


# Pixels x channels per block of rows in the row transforms: a block and its spectrum stay in
# cache, and the same-size temporaries are recycled by the allocator instead of page-faulting.
_BLOCK_ELEMENTS = 1 << 16


def _as_batch(x: np.ndarray) -> np.ndarray:
    """View numpy input (H, W), (H, W, C) or (N, H, W, C) as (N, H, W, C)."""
    if x.ndim == 2:
        return x[None, :, :, None]
    if x.ndim == 3:
        return x[None]
    if x.ndim == 4:
        return x
    raise InputError(f"expected (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")


def _numpy_split(
    x: np.ndarray, radii: Sequence[float], inclusive: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    import scipy.fft

    if x.dtype != np.bool_ and not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise InputError(f"expected a real-valued image, got dtype {x.dtype}")
    batch = _as_batch(x)
    n, height, width, channels = batch.shape
    if height == 0 or width == 0:
        raise InputError(f"expected a non-empty image, got shape {x.shape}")
    rows = batch.reshape(n * height, width, channels)
    masks = [half_spectrum_mask(height, width, r, inclusive) for r in radii]
    columns = max(m.shape[1] for m in masks)
    step = max(1, _BLOCK_ELEMENTS // (width * channels))
    blocks = [slice(i, min(i + step, len(rows))) for i in range(0, len(rows), step)]

    # Forward: real FFT along the rows, keeping only the columns that meet a disk ...
    spectrum = np.empty((n * height, columns, channels), dtype=np.complex128)
    for b in blocks:
        spectrum[b] = scipy.fft.rfft(rows[b].astype(np.float64), axis=1)[:, :columns]
    # ... then a complex FFT along the columns of those.
    spectrum = spectrum.reshape(n, height, columns, channels)
    spectrum = scipy.fft.fft(spectrum, axis=1, overwrite_x=True)

    parts = []
    padded = np.zeros((step, width // 2 + 1, channels), dtype=np.complex128)
    for mask in masks:
        kept_columns = mask.shape[1]
        mask4 = mask[None, :, :, None]
        if len(masks) == 1:
            spectrum *= mask4
            kept = spectrum
        else:
            kept = spectrum[:, :, :kept_columns] * mask4
        kept = scipy.fft.ifft(kept, axis=1, overwrite_x=True)
        kept = kept.reshape(n * height, kept_columns, channels)
        padded[:, kept_columns:] = 0
        low = np.empty(rows.shape, dtype=np.float64)
        high = np.empty(rows.shape, dtype=np.float64)
        for b in blocks:
            block_rows = b.stop - b.start
            padded[:block_rows, :kept_columns] = kept[b]
            low[b] = scipy.fft.irfft(padded[:block_rows], n=width, axis=1)
            np.subtract(rows[b], low[b], out=high[b])
        parts.append((low.reshape(x.shape), high.reshape(x.shape)))
    return parts


# Elements per block in the torch transforms of large images: no full-size complex temporary
# is held (a 24-megapixel image: a few MB instead of 290 MB).
_TORCH_BLOCK_ELEMENTS = 1 << 20


def _blocks(length: int, per_item: int, whole: bool) -> list[slice]:
    """Slices of ``range(length)`` of about _TORCH_BLOCK_ELEMENTS / per_item items each."""
    step = length if whole else max(1, _TORCH_BLOCK_ELEMENTS // max(1, per_item))
    return [slice(i, min(i + step, length)) for i in range(0, length, step)]


class HalfSpectrum:
    """The forward transform of float torch images (C, H, W) or (N, C, H, W) shared by every
    radius: the columns of the real FFT's half-spectrum that meet the largest disk, transformed
    along the columns (``fft(rfft(x)[..., :k], dim=-2)``). :meth:`low` is one inverse
    transform. For large images the row transforms run on blocks of rows and the column
    transforms on blocks of columns (the same numbers as whole-image transforms), so memory
    beyond the image is the cropped spectrum and one output; with autograd on, or for batches
    of up to 2^20 values (a 640 x 480 RGB image), they run whole."""

    def __init__(self, x: Any, radii: Sequence[float], inclusive: bool = False) -> None:
        import torch

        if x.ndim not in (3, 4):
            raise InputError(f"expected (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
        if x.is_complex():
            raise InputError(f"expected a real-valued image, got dtype {x.dtype}")
        height, width = x.shape[-2:]
        if height == 0 or width == 0:
            raise InputError(f"expected a non-empty image, got shape {tuple(x.shape)}")
        self.out_dtype = x.dtype if x.is_floating_point() else torch.float32
        work = self.out_dtype if self.out_dtype in (torch.float32, torch.float64) else torch.float32
        self.work_dtype = work
        whole = x.requires_grad or x.numel() <= _TORCH_BLOCK_ELEMENTS
        self.blocked = not whole  #: whether the transforms run on blocks (large images)
        # A large image is kept as given (a uint8 decode: a quarter of float32) and converted
        # block by block; the values are the same as those of a whole float copy.
        self.image = x if self.blocked else x.to(work)
        self.width = width
        self.masks = {r: _torch_mask(height, width, r, inclusive, x.device, work) for r in radii}
        columns = max(m.shape[1] for m in self.masks.values())
        self.rows = _blocks(height, x.numel() // height, whole)
        if whole:
            self.spectrum = torch.fft.fft(torch.fft.rfft(self.image)[..., :columns], dim=-2)
            return
        complex_dtype = torch.complex128 if work == torch.float64 else torch.complex64
        spectrum = x.new_empty((*x.shape[:-1], columns), dtype=complex_dtype)
        for b in self.rows:
            spectrum[..., b, :] = torch.fft.rfft(x[..., b, :].to(work))[..., :columns]
        for c in _blocks(columns, x.numel() // width, whole):  # in place, by blocks of columns
            spectrum[..., c] = torch.fft.fft(spectrum[..., c], dim=-2)
        self.spectrum = spectrum

    def low(self, radius: float) -> Any:
        """The LFC at ``radius`` (one of the radii given), in the input's float dtype."""
        return self._low(radius).to(self.out_dtype)

    def high(self, radius: float) -> Any:
        """The HFC at ``radius``: the image minus its LFC, computed in place over the LFC (by
        blocks of rows for a large image, so no full-size float copy of the image is made)."""
        import torch

        part = self._low(radius)
        for b in self.rows:
            rows = part[..., b, :]
            torch.sub(self.image[..., b, :].to(part.dtype), rows, out=rows)
        return part.to(self.out_dtype)

    def _low(self, radius: float) -> Any:
        """The LFC at ``radius`` in the working dtype (float32 or float64)."""
        import torch

        mask = self.masks[radius]
        kept_columns = mask.shape[1]
        if not self.blocked:
            kept = torch.fft.ifft(self.spectrum[..., :kept_columns] * mask, dim=-2)
            return torch.fft.irfft(kept, n=self.width)
        kept = self.spectrum.new_empty((*self.spectrum.shape[:-1], kept_columns))
        for c in _blocks(kept_columns, self.spectrum[..., 0].numel(), False):
            kept[..., c] = torch.fft.ifft(self.spectrum[..., c] * mask[:, c], dim=-2)
        low = self.image.new_empty(self.image.shape, dtype=self.work_dtype)
        padded = kept.new_zeros((*kept.shape[:-2], self.rows[0].stop, self.width // 2 + 1))
        for b in self.rows:
            block = padded[..., : b.stop - b.start, :]
            block[..., :kept_columns] = kept[..., b, :]
            low[..., b, :] = torch.fft.irfft(block, n=self.width)
        return low


@lru_cache(maxsize=64)
def _torch_mask(height: int, width: int, radius: float, inclusive: bool, device, dtype):
    import torch

    mask = half_spectrum_mask(height, width, radius, inclusive)
    return torch.tensor(mask, dtype=dtype, device=device)


def split_radii(
    x: Any, radii: Sequence[float], *, inclusive: bool = False
) -> list[tuple[Any, Any]]:
    """``[split(x, r, inclusive=inclusive) for r in radii]``, sharing one forward transform.

    Same conventions as :func:`split`; each pair is a fresh (low, high).
    """
    if isinstance(radii, (str, bytes)) or not isinstance(radii, Sequence):
        raise InputError(f"radii must be a sequence of numbers, got {radii!r}")
    rs = [check_radius(r) for r in radii]
    if not rs:
        return []
    if isinstance(x, np.ndarray):
        return _numpy_split(x, rs, inclusive)
    torch = _torch_if_tensor(x)
    if torch is None:
        raise InputError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")
    spectrum = HalfSpectrum(x, rs, inclusive)
    img = spectrum.image.to(spectrum.out_dtype)
    return [(low, img - low) for low in map(spectrum.low, rs)]


def split(x: Any, radius: float, *, inclusive: bool = False) -> tuple[Any, Any]:
    """Split ``x`` into its low- and high-frequency components (LFC, HFC); ``low + high == x``.

    - numpy input is channels-last, (H, W), (H, W, C) or a batch (N, H, W, C), of any real
      dtype; both parts are float64.
    - torch input is channels-first, (C, H, W) or (N, C, H, W); both parts have the input's
      float dtype (float32 for integer input) on the input's device, and the split is
      differentiable. float16/bfloat16 are transformed in float32.

    Each channel of each image is split on its own; ``radius`` is in frequency bins (pixels of
    the shifted spectrum) and must be > 0. ``inclusive=False`` keeps distance ``< radius`` (the
    released code), ``True`` keeps ``<= radius`` (the paper's formula).

    """
    return split_radii(x, [radius], inclusive=inclusive)[0]


def _torch_if_tensor(x: Any):
    """The torch module if ``x`` is a tensor (without importing torch for other inputs)."""
    import sys

    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(x, torch.Tensor) else None
