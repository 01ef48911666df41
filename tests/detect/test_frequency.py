"""The frequency split against the straightforward numpy computation, pixel modes, SVD split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hfc_detect.frequency import (
    disk_mask,
    split,
    split_band,
    split_bands,
    split_radii,
    svd_split,
    to_pixels,
)
from hfc_detect.frequency.fourier import half_spectrum_mask
from hfc_detect.utils.errors import InputError


def reference_split(x: np.ndarray, radius: float, inclusive: bool = False):
    """The paper's equations written out plainly, one channel at a time (the test oracle)."""
    img = np.asarray(x, dtype=np.float64)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    h, w = img.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    dist = np.sqrt(rows**2 + cols**2)
    mask = dist <= radius if inclusive else dist < radius
    low = np.empty_like(img)
    for c in range(img.shape[2]):
        z = np.fft.fftshift(np.fft.fft2(img[:, :, c]))
        low[:, :, c] = np.fft.ifft2(np.fft.ifftshift(z * mask)).real
    if squeeze:
        low, img = low[:, :, 0], img[:, :, 0]
    return low, img - low


def reference_band(x: np.ndarray, inner: float, outer: float, inclusive: bool = False):
    """An annulus written out plainly (the test oracle for bands, independent of the toolkit's
    split): per channel of (H, W, C) ``x``, fftshift(fft2), keep inner <= distance < outer from
    (H//2, W//2) (inner < distance <= outer when ``inclusive``), inverse, real part."""
    h, w = x.shape[:2]
    d = np.hypot(*np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij"))
    keep = (d > inner) & (d <= outer) if inclusive else (d >= inner) & (d < outer)
    out = np.empty(x.shape, dtype=np.float64)
    for c in range(x.shape[2]):
        spectrum = np.fft.fftshift(np.fft.fft2(x[..., c].astype(np.float64)))
        out[..., c] = np.fft.ifft2(np.fft.ifftshift(spectrum * keep)).real
    return out


def _image(rng, shape, dtype=np.uint8):
    return rng.integers(0, 256, size=shape).astype(dtype)


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (33, 47), (47, 33), (427, 640), (1, 7)])
@pytest.mark.parametrize("inclusive", [False, True])
def test_split_equals_straightforward_computation(size, inclusive):
    rng = np.random.default_rng(sum(size))
    x = _image(rng, (*size, 3))
    radii = [0.5, 1, 3, 4.5, 8, 16, 128] if size[0] > 100 else [0.5, 1, 2, 3.7, 4, 8, 12, 16, 40]
    for radius in radii:
        low, high = split(x, radius, inclusive=inclusive)
        ref_low, ref_high = reference_split(x, radius, inclusive)
        assert low.dtype == np.float64 and low.shape == x.shape
        np.testing.assert_allclose(low, ref_low, rtol=0, atol=1e-6)
        np.testing.assert_allclose(high, ref_high, rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    channels=st.sampled_from([None, 1, 3]),
    radius=st.floats(0.01, 40, allow_nan=False),
    inclusive=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_split_properties(h, w, channels, radius, inclusive, seed):
    rng = np.random.default_rng(seed)
    x = _image(rng, (h, w) if channels is None else (h, w, channels))
    low, high = split(x, radius, inclusive=inclusive)
    np.testing.assert_allclose(low + high, x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(low, reference_split(x, radius, inclusive)[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (5, 4), (6, 9), (32, 32), (33, 47)])
def test_disk_is_symmetric_in_unshifted_layout(size):
    """The rfft shortcut is exact because the mask equals its own mirror k -> -k."""
    h, w = size
    for radius in [0.5, 1, 1.5, 2, 3, 5.5, 17, 100]:
        full = np.fft.ifftshift(disk_mask(h, w, radius))
        mirrored = full[(-np.arange(h)) % h][:, (-np.arange(w)) % w]
        assert np.array_equal(full, mirrored)
        half = half_spectrum_mask(h, w, float(radius), False)
        assert half.shape[0] == h and not half.flags.writeable
        np.testing.assert_array_equal(half, full[:, : half.shape[1]])
        assert not full[:, half.shape[1] : w // 2 + 1].any()


@pytest.mark.parametrize("size", [(32, 32), (33, 47)])
def test_radius_beyond_half_diagonal_keeps_everything(size):
    x = _image(np.random.default_rng(1), (*size, 3))
    radius = math.hypot(size[0], size[1]) / 2 + 1
    low, high = split(x, radius)
    np.testing.assert_allclose(low, x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(high, 0, atol=1e-9)


def test_tiny_radius_keeps_the_channel_mean():
    x = _image(np.random.default_rng(2), (2, 9, 14, 3))
    low, _ = split(x, 0.5)
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(low, np.broadcast_to(mean, x.shape), rtol=0, atol=1e-9)


def test_inclusive_differs_only_on_the_circle():
    x = _image(np.random.default_rng(3), (32, 32, 3))
    # radius 5 passes through the bins at distance exactly 5, e.g. (3, 4).
    assert not np.allclose(split(x, 5)[0], split(x, 5, inclusive=True)[0])
    np.testing.assert_allclose(split(x, 5.5)[0], split(x, 5.5, inclusive=True)[0], atol=1e-12)


def test_batch_equals_each_image():
    x = _image(np.random.default_rng(4), (5, 12, 10, 3))
    low, high = split(x, 3)
    for i in range(len(x)):
        np.testing.assert_allclose(low[i], split(x[i], 3)[0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(high[i], split(x[i], 3)[1], rtol=0, atol=1e-9)


def test_split_radii_equals_repeated_split():
    x = _image(np.random.default_rng(5), (3, 17, 20, 3))
    radii = [8, 0.5, 4, 12.5, 100]
    pairs = split_radii(x, radii, inclusive=True)
    assert len(pairs) == len(radii)
    for radius, (low, high) in zip(radii, pairs, strict=True):
        ref_low, ref_high = split(x, radius, inclusive=True)
        np.testing.assert_array_equal(low, ref_low)
        np.testing.assert_array_equal(high, ref_high)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).double()
    for radius, (low, _) in zip(radii, split_radii(t, radii), strict=True):
        torch.testing.assert_close(low, split(t, radius)[0], rtol=0, atol=0)
    assert split_radii(x, []) == []


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (48, 31)])
@pytest.mark.parametrize("inclusive", [False, True])
def test_bands_equal_a_plain_numpy_annulus(size, inclusive):
    """Each band (numpy and torch, several from one call) is the annulus between its radii,
    computed without the toolkit; an inner radius on a bin's distance (1, 5) checks the edges."""
    rng = np.random.default_rng(sum(size))
    x = _image(rng, (*size, 3))
    bands = [(1, 5), (2.5, 9), (5, 30)]
    got = split_bands(x, bands, inclusive=inclusive)
    t = torch.from_numpy(x.transpose(2, 0, 1).copy()).double()
    got_torch = split_bands(t, bands, inclusive=inclusive)
    for (inner, outer), band, band_t in zip(bands, got, got_torch, strict=True):
        ref = reference_band(x, inner, outer, inclusive)
        assert band.dtype == np.float64 and band.shape == x.shape
        np.testing.assert_allclose(band, ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(band_t.numpy().transpose(1, 2, 0), ref, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(split_band(x, 1, 5, inclusive=inclusive), got[0])


@pytest.mark.parametrize("bands", [[(5, 5)], [(6, 2)], [(0, 4)], [(1, 2, 3)], "1:2", [(1, "x")]])
def test_bad_band_is_an_input_error(bands):
    with pytest.raises(InputError):
        split_bands(np.zeros((8, 8)), bands)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.bool_])
def test_numpy_dtypes_give_float64(dtype):
    x = _image(np.random.default_rng(6), (9, 11, 2)).astype(dtype)
    low, high = split(x, 2)
    assert low.dtype == high.dtype == np.float64
    np.testing.assert_allclose(low, reference_split(x, 2)[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [(32, 32), (33, 47)])
def test_torch_matches_numpy(size):
    x = _image(np.random.default_rng(7), (2, *size, 3))
    low, high = split(x, 6)
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    t_low, t_high = split(t.double(), 6)
    assert t_low.dtype == torch.float64
    np.testing.assert_allclose(t_low.permute(0, 2, 3, 1).numpy(), low, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t_high.permute(0, 2, 3, 1).numpy(), high, rtol=0, atol=1e-9)
    f_low, _ = split(t[0], 6)  # uint8 (C, H, W) -> float32
    assert f_low.dtype == torch.float32 and f_low.shape == (3, *size)
    np.testing.assert_allclose(f_low.permute(1, 2, 0).numpy(), low[0], rtol=0, atol=1e-3)
    h_low, h_high = split(t[0].half(), 6)
    assert h_low.dtype == h_high.dtype == torch.float16


def test_torch_split_is_differentiable():
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    low, high = split(x, 2)
    (low.sum() + 0 * high.sum()).backward()
    # The disk keeps the zero frequency, so d(sum low)/dx = 1 everywhere.
    torch.testing.assert_close(x.grad, torch.ones_like(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_on_cuda_matches_numpy():
    x = _image(np.random.default_rng(8), (2, 33, 47, 3))
    t = torch.from_numpy(x).permute(0, 3, 1, 2).double().cuda()
    for radius, (low, high) in zip([4, 9], split_radii(t, [4, 9]), strict=True):
        assert low.device.type == "cuda" and high.device.type == "cuda"
        ref = split(x, radius)[0]
        np.testing.assert_allclose(low.permute(0, 2, 3, 1).cpu().numpy(), ref, atol=1e-9)


@pytest.mark.parametrize("radius", [0, -1, float("nan"), float("inf"), "a", None, True])
def test_bad_radius_is_an_input_error(radius):
    with pytest.raises(InputError, match="radius"):
        split(np.zeros((4, 4)), radius)


@pytest.mark.parametrize(
    "x",
    [
        np.zeros(4),
        np.zeros((1, 2, 3, 4, 5)),
        np.zeros((0, 4)),
        np.zeros((4, 4), dtype=complex),
        [[1.0, 2.0]],
        torch.zeros(4, 4),
    ],
)
def test_bad_input_is_an_input_error(x):
    with pytest.raises(InputError):
        split(x, 2)


def test_to_pixels_modes_numpy():
    x = np.array([[[-10.0, 300.0], [5.0, 20.0]], [[1.0, 2.0], [0.5, 4.0]]])
    raw = to_pixels(x, "raw")
    assert raw.dtype == np.float64 and np.array_equal(raw, x) and raw is not x
    np.testing.assert_array_equal(to_pixels(x, "clip"), np.clip(x, 0, 255))
    # A 3-D array is one (H, W, C) image: one maximum over everything.
    np.testing.assert_allclose(to_pixels(x, "max"), x / 300 * 255)
    batch = np.stack([x, 2 * x, np.zeros_like(x), -np.abs(x)])
    scaled = to_pixels(batch, "max")
    np.testing.assert_allclose(scaled[0], x / 300 * 255)
    np.testing.assert_allclose(scaled[1], x / 300 * 255)
    np.testing.assert_array_equal(scaled[2], 0)  # all zero: unchanged, no NaN
    np.testing.assert_array_equal(scaled[3], -np.abs(x))  # max <= 0: unchanged
    assert to_pixels(np.array([[3, 6]], dtype=np.uint8), "max").tolist() == [[127.5, 255.0]]


def test_to_pixels_modes_torch_match_numpy():
    rng = np.random.default_rng(9)
    batch = rng.normal(50, 100, size=(3, 5, 6, 3))
    batch[1] = 0
    for mode in ["raw", "clip", "max"]:
        expected = to_pixels(batch, mode)
        got = to_pixels(torch.from_numpy(batch).permute(0, 3, 1, 2), mode)
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.permute(0, 2, 3, 1).numpy(), expected, atol=1e-12)
        single = to_pixels(torch.from_numpy(batch[0]).permute(2, 0, 1), mode)
        np.testing.assert_allclose(single.permute(1, 2, 0).numpy(), expected[0], atol=1e-12)
    assert to_pixels(torch.tensor([[[3, 6]]], dtype=torch.uint8), "max").dtype == torch.float32


def test_to_pixels_bad_mode_and_input():
    with pytest.raises(InputError, match="pixel mode"):
        to_pixels(np.zeros((2, 2)), "scale")
    with pytest.raises(InputError):
        to_pixels(np.zeros(3), "raw")
    with pytest.raises(InputError):
        to_pixels(torch.zeros(2, 2), "raw")


def _direct_svd_top(x: np.ndarray, k: int) -> np.ndarray:
    img = np.asarray(x, dtype=np.float64)
    top = np.empty_like(img)
    for c in range(img.shape[-1]):
        u, s, vt = np.linalg.svd(img[..., c])
        top[..., c] = sum(s[i] * np.outer(u[:, i], vt[i]) for i in range(min(k, len(s))))
    return top


@pytest.mark.parametrize("size", [(12, 12), (9, 15), (15, 9)])
@pytest.mark.parametrize("k", [0, 1, 3, 9, 20])
def test_svd_split_matches_direct_reconstruction(size, k):
    x = _image(np.random.default_rng(10), (*size, 3))
    top, rest = svd_split(x, k)
    assert top.dtype == rest.dtype == np.float64 and top.shape == x.shape
    np.testing.assert_allclose(top, _direct_svd_top(x, k), rtol=0, atol=1e-9)
    np.testing.assert_allclose(top + rest, x, rtol=0, atol=1e-9)
    for c in range(3):
        assert np.linalg.matrix_rank(top[..., c]) <= k
    if k >= min(size):
        np.testing.assert_allclose(top, x, atol=1e-9)


def test_svd_split_layouts_and_torch():
    x = _image(np.random.default_rng(11), (4, 10, 13, 3))
    top, rest = svd_split(x, 2)
    for i in range(len(x)):
        np.testing.assert_allclose(top[i], svd_split(x[i], 2)[0], atol=1e-9)
    gray_top, _ = svd_split(x[0, :, :, 0], 2)
    np.testing.assert_allclose(gray_top, top[0, :, :, 0], atol=1e-9)
    t_top, t_rest = svd_split(torch.from_numpy(x).permute(0, 3, 1, 2).double(), 2)
    np.testing.assert_allclose(t_top.permute(0, 2, 3, 1).numpy(), top, atol=1e-9)
    np.testing.assert_allclose(t_rest.permute(0, 2, 3, 1).numpy(), rest, atol=1e-9)
    f_top, _ = svd_split(torch.from_numpy(x[0]).permute(2, 0, 1), 2)
    assert f_top.dtype == torch.float32
    for bad in [-1, 1.5, "2", True]:
        with pytest.raises(InputError, match="k must be"):
            svd_split(x, bad)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_blocked_transforms_of_large_images_equal_whole_ones(monkeypatch, dtype):
    """Large images run on blocks of rows and columns and are kept as decoded (uint8); the
    variants are the same numbers as the whole-image transforms, and match numpy."""
    from hfc_detect.frequency import fourier
    from hfc_detect.frequency.variant import Variant
    from hfc_detect.pipeline.variants import VariantMaker

    rng = np.random.default_rng(7)
    hwc = _image(rng, (45, 62, 3))
    chw = torch.from_numpy(hwc).permute(2, 0, 1).contiguous().to(dtype)
    plan = {"original": Variant("original"), "lfc": Variant("lfc", 9), "hfc": Variant("hfc", 9),
            "band": Variant("band", 20, inner=9)}  # fmt: skip
    (whole,) = VariantMaker(plan)([chw])
    monkeypatch.setattr(fourier, "_TORCH_BLOCK_ELEMENTS", 200)  # blocks of 1 to 3 rows
    (blocked,) = VariantMaker(plan)([chw])
    assert fourier.HalfSpectrum(chw, [9.0]).blocked
    ref_low, ref_high = reference_split(hwc, 9)
    references = {"original": hwc, "lfc": ref_low, "hfc": ref_high,
                  "band": reference_split(hwc, 20)[0] - ref_low}  # fmt: skip
    for name, reference in references.items():
        assert blocked[name].dtype == torch.float32
        assert torch.equal(blocked[name], whole[name]), name
        got = blocked[name].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, reference, rtol=0, atol=2e-3, err_msg=name)
