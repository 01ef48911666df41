"""read_image: RGB order, gray, RGBA, 16-bit, and one-line errors for unreadable files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hfc_detect.data.images import _is_truncated_jpeg, read_image
from hfc_detect.utils.errors import InputError


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_colour_png_is_rgb(tmp_path, rng):
    bgr = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    image = read_image(tmp_path / "c.png")
    assert image.dtype == np.uint8 and image.shape == (7, 9, 3)
    np.testing.assert_array_equal(image, bgr[:, :, ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "c.png", keep_gray=True), image)


def test_jpeg_matches_opencv_decoding(tmp_path, rng):
    cv2.imwrite(str(tmp_path / "c.jpg"), rng.integers(0, 256, size=(16, 12, 3), dtype=np.uint8))
    image = read_image(str(tmp_path / "c.jpg"))
    np.testing.assert_array_equal(image, cv2.imread(str(tmp_path / "c.jpg"))[:, :, ::-1])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_is_replicated_or_kept(tmp_path, rng, dtype):
    gray = rng.integers(0, np.iinfo(dtype).max, size=(5, 6), dtype=dtype)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    image = read_image(tmp_path / "g.png")
    assert image.dtype == dtype and image.shape == (5, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(image[:, :, c], gray)
    kept = read_image(tmp_path / "g.png", keep_gray=True)
    assert kept.shape == (5, 6) and kept.dtype == dtype
    np.testing.assert_array_equal(kept, gray)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rgba_drops_alpha(tmp_path, rng, dtype):
    bgra = rng.integers(0, np.iinfo(dtype).max, size=(4, 5, 4), dtype=dtype)
    bgra[0, 0, 3] = 0  # a transparent pixel keeps its stored colour
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    image = read_image(tmp_path / "a.png")
    assert image.dtype == dtype and image.shape == (4, 5, 3)
    np.testing.assert_array_equal(image, bgra[:, :, 2::-1])


def test_sixteen_bit_colour_keeps_values(tmp_path, rng):
    bgr = rng.integers(0, 65536, size=(3, 8, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), bgr)
    image = read_image(tmp_path / "c16.png")
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, bgr[:, :, ::-1])


def _truncated_png(path, rng):
    cv2.imwrite(str(path), rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:60])


def _truncated_jpeg(path, rng):
    _, buf = cv2.imencode(".jpg", rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    path.write_bytes(buf.tobytes()[:-300])


def test_truncated_jpeg_is_detected_without_opencv():
    """OpenCV 4 decodes a cut-off JPEG with grey rows and only a warning: our own check."""
    yy, xx = np.mgrid[0:64, 0:64]
    _, buf = cv2.imencode(".jpg", np.stack([xx * 4, yy * 4, xx + yy], 2).astype(np.uint8))
    data = buf.tobytes()
    assert not _is_truncated_jpeg(data)
    for cut in (2, 100, len(data) // 2):
        assert _is_truncated_jpeg(data[:-cut])
    assert not _is_truncated_jpeg(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "make",
    [
        lambda p, rng: p.write_bytes(b"this is not an image"),
        lambda p, rng: p.write_bytes(b""),
        _truncated_png,
        _truncated_jpeg,
        lambda p, rng: None,  # missing
        lambda p, rng: p.mkdir(),
    ],
    ids=["garbage", "empty", "truncated-png", "truncated-jpeg", "missing", "directory"],
)
def test_unreadable_file_is_a_one_line_input_error(tmp_path, rng, make):
    path = tmp_path / "bad.png"
    make(path, rng)
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pil_applies_it(tmp_path, rng, orientation):
    """Reference: PIL's own ``ImageOps.exif_transpose`` (Detectron2's ``read_image`` applies the
    same transpose per orientation) on a lossless PNG carrying the EXIF tag."""
    from PIL import Image, ImageOps

    rgb = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "o.png", exif=exif.tobytes())
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    image = read_image(tmp_path / "o.png")
    assert image.shape == expected.shape == ((10, 6, 3) if orientation >= 5 else (6, 10, 3))
    np.testing.assert_array_equal(image, expected)


def test_exif_rotated_jpeg_comes_back_upright(tmp_path, rng):
    from PIL import Image

    rgb = np.zeros((40, 64, 3), dtype=np.uint8)
    rgb[:8, :16] = 255  # a bright block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    image = read_image(tmp_path / "r.jpg")
    assert image.shape == (64, 40, 3)
    assert image[:16, -8:].mean() > 200 and image[-16:, :8].mean() < 50  # now top-right
