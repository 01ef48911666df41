"""Decode JPEG/PNG files into numpy arrays in RGB order, keeping the stored bit depth, and
encode arrays as PNG (:func:`encode_png`).

Conventions of :func:`read_image`:

- colour comes back channels-last in RGB order, ``(H, W, 3)`` (OpenCV's BGR is reversed);
- grayscale is replicated to three channels, or kept as a 2-D ``(H, W)`` array with
  ``keep_gray=True`` (what ``hfc-detect decompose`` uses, so a gray image stays gray);
- an alpha channel is dropped (not composited: the colour values are returned as stored);
- the dtype is the stored one, ``uint8`` or ``uint16`` (16-bit PNG), never rescaled;
- the EXIF orientation tag is applied as Detectron2's ``read_image`` applies it (PIL reads the
  tag; the same transpose per orientation 2..8), so a phone photo stored sideways comes back
  upright, with the size its annotations give;
- a file that does not decode, or a JPEG cut off before its end marker, is an InputError.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from hfc_detect.utils.errors import InputError


def _is_truncated_jpeg(data: bytes) -> bool:
    """OpenCV decodes a cut-off JPEG with grey rows and only a warning: look for the end-of-image
    marker after the last start-of-scan (0xFF bytes inside scans are always escaped)."""
    if not data.startswith(b"\xff\xd8"):
        return False
    last_scan = data.rfind(b"\xff\xda")
    return last_scan < 0 or data.find(b"\xff\xd9", last_scan) < 0


_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the array operation equal to the PIL transpose Detectron2 applies
_ORIENT = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: np.swapaxes(a, 0, 1),  # TRANSPOSE
    6: lambda a: np.rot90(a, -1),  # ROTATE_270
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: np.rot90(a, 1),  # ROTATE_90
}


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag of an encoded image (1, upright, when it has none)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # no EXIF, or a format PIL does not read: stored order, as Detectron2
        return 1


def read_image(path: str | os.PathLike, *, keep_gray: bool = False) -> np.ndarray:
    """Read the image at ``path`` as ``(H, W, 3)`` RGB (``(H, W)`` for gray if ``keep_gray``).

    Raises :class:`InputError` naming the file when it is missing or cannot be decoded.
    """
    import cv2

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from None
    data = np.frombuffer(raw, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"cannot decode image {path}: not a readable JPEG/PNG or corrupt")
    if _is_truncated_jpeg(raw):
        raise InputError(f"cannot decode image {path}: truncated JPEG (no end marker)")
    orient = _ORIENT.get(exif_orientation(raw))
    if orient is not None:
        image = orient(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image) if keep_gray else np.repeat(image[:, :, None], 3, 2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"cannot use image {path}: unsupported layout {image.shape}")
    return np.ascontiguousarray(image[:, :, 2::-1])


def encode_png(image: np.ndarray, *, compression: int | None = None) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` RGB or ``(H, W)`` gray uint8/uint16 array; ``compression``
    0..9 (None: OpenCV's default). InputError when OpenCV cannot encode it."""
    import cv2

    bgr = image[:, :, ::-1] if image.ndim == 3 else image
    params = [] if compression is None else [cv2.IMWRITE_PNG_COMPRESSION, compression]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr), params)
    if not ok:
        raise InputError(f"cannot encode a PNG of shape {image.shape}")
    return buf.tobytes()


def to_0_255(image: np.ndarray) -> np.ndarray:
    """Pixels on the 0..255 scale detectors expect: uint8 as is, 16-bit rescaled to float32."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return image.astype(np.float32) * np.float32(255.0 / 65535.0)
    return image.astype(np.float32)
