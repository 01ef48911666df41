"""Decompose image files into viewable LFC/HFC pictures, lossless arrays and a figure.

Display mapping of the PNGs (the image's own bit depth: 8-bit in, 8-bit out; 16-bit in,
16-bit out; ``peak`` = 255 or 65535):

- ``*_lfc.png``: the LFC rounded and clipped to 0..peak;
- ``*_hfc.png``: mid-grey plus the HFC, ``round(HFC + (peak + 1) / 2)`` clipped to 0..peak,
  so zero is grey (128 in 8 bits), edges are lighter or darker, and the same HFC value looks
  the same in every image and at every radius;
- ``*_lfc.npy`` / ``*_hfc.npy`` (``npy=True``): the exact float64 arrays, channels-last RGB
  (H, W, 3), or (H, W) for a grayscale file, on the file's pixel scale;
- ``*_figure.png`` (``figure=True``): original | LFC | HFC | log-magnitude spectrum with the
  disk drawn. In the figure the HFC is stretched symmetrically (zero is grey, the largest
  |HFC| of the image is black or white) so it is visible; the spectrum is
  ``log(1 + |fftshift(fft2)|)`` of the mean over channels.

Files are named ``<stem>_r<radius>[i]_<part>.<ext>`` (``i`` when the disk is inclusive).
Alpha channels are dropped. Every file is written atomically, an image's files are all
computed before the first one is written, and if one cannot be written the others of that image
are removed again.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hfc_detect.data.images import encode_png, read_image
from hfc_detect.frequency import check_radius, split
from hfc_detect.frequency.variant import COMPONENTS, Variant
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, check_output


@dataclass
class DecomposeOutcome:
    """What :func:`decompose_files` did: files written per input, and one-line failures."""

    written: dict[Path, list[Path]] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)


def output_name(image_path: Path, variant: Variant, what: str) -> str:
    """``<stem>_<tag>_<what>``: an output's name, ``what`` the component (``lfc``, ``hfc``) or
    ``figure``; the tag is the variant's (``r16``, ``r16i`` inclusive)."""
    return f"{image_path.stem}_{variant.tag}_{what}"


def _peak(dtype: np.dtype) -> int:
    return 65535 if dtype == np.uint16 else 255


def display_lfc(low: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """LFC as a viewable image of ``dtype``: rounded, clipped to 0..peak."""
    return np.clip(np.rint(low), 0, _peak(dtype)).astype(dtype)


def display_hfc(high: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """HFC as a viewable image of ``dtype``: mid-grey + HFC, rounded, clipped to 0..peak."""
    peak = _peak(dtype)
    return np.clip(np.rint(high + (peak + 1) / 2), 0, peak).astype(dtype)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def figure_png(
    image: np.ndarray, low: np.ndarray, high: np.ndarray, radius: float, title: str
) -> bytes:
    """The four-panel figure (original | LFC | HFC | spectrum with the disk) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    peak = _peak(image.dtype)
    height, width = image.shape[:2]
    stretch = float(np.abs(high).max()) or 1.0
    channels = image.astype(np.float64).reshape(height, width, -1)
    spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(channels.mean(axis=2)))))
    picture_cmap = "gray" if image.ndim == 2 else None
    panels = [
        ("original", image / peak, picture_cmap),
        ("LFC (clipped)", np.clip(low / peak, 0, 1), picture_cmap),
        (f"HFC (stretched, ±{stretch:.3g})", np.clip(0.5 + high / (2 * stretch), 0, 1), None),
        ("log |spectrum|", spectrum, "magma"),
    ]
    panel_inches = 4.0
    fig = Figure(figsize=(4 * panel_inches, panel_inches * height / width + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4)
    for ax, (name, data, cmap) in zip(axes, panels, strict=True):
        if data.ndim == 2 and cmap is None:
            cmap = "gray"
        vmin_vmax = {} if cmap == "magma" else {"vmin": 0, "vmax": 1}
        ax.imshow(data, cmap=cmap, **vmin_vmax)
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    axes[3].add_patch(
        Circle((width // 2, height // 2), radius, fill=False, edgecolor="cyan", linewidth=1.2)
    )
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def decompose_image(
    image_path: Path,
    radius: float,
    *,
    inclusive: bool = False,
    npy: bool = False,
    figure: bool = False,
) -> dict[str, bytes]:
    """Every output for one image, as {file name: content}; nothing is written here."""
    image = read_image(image_path, keep_gray=True)
    low, high = split(image, radius, inclusive=inclusive)
    lfc, hfc = (Variant(kind, radius, inclusive) for kind in COMPONENTS)
    files = {
        f"{output_name(image_path, lfc, 'lfc')}.png": encode_png(display_lfc(low, image.dtype)),
        f"{output_name(image_path, hfc, 'hfc')}.png": encode_png(display_hfc(high, image.dtype)),
    }
    if npy:
        files[f"{output_name(image_path, lfc, 'lfc')}.npy"] = _npy_bytes(low)
        files[f"{output_name(image_path, hfc, 'hfc')}.npy"] = _npy_bytes(high)
    if figure:
        disk = f"distance {'<=' if inclusive else '<'} {radius:g}"
        files[f"{output_name(image_path, lfc, 'figure')}.png"] = figure_png(
            image, low, high, radius, f"{image_path.name}: low/high split, {disk}"
        )
    return files


def check_inputs(images: Sequence[Path], output: Path) -> None:
    """Refuse, before anything is written, an output that is a file or clashing input names."""
    if not images:
        raise InputError("no input images given")
    check_output(output)
    seen: dict[str, Path] = {}
    for path in images:
        if path.stem in seen and seen[path.stem] != path:
            raise InputError(
                f"inputs {seen[path.stem]} and {path} would write the same output names"
            )
        seen[path.stem] = path


def decompose_files(
    images: Sequence[str | os.PathLike],
    radius: float,
    output: str | os.PathLike,
    *,
    inclusive: bool = False,
    npy: bool = False,
    figure: bool = False,
    on_image: Callable[[Path], None] | None = None,
) -> DecomposeOutcome:
    """Decompose every image into ``output``; an unreadable image, or an output that cannot be
    written (disk full, permissions), is recorded in ``failed`` and the next image is tried.

    Raises :class:`InputError` for a bad radius, no images, an output that is a file, or two
    inputs with the same stem (checked before anything is written).
    """
    r = check_radius(radius)
    paths = [Path(p) for p in images]
    out_dir = Path(output)
    check_inputs(paths, out_dir)
    outcome = DecomposeOutcome()
    for path in dict.fromkeys(paths):
        try:
            files = decompose_image(path, r, inclusive=inclusive, npy=npy, figure=figure)
        except InputError as exc:
            outcome.failed[path] = str(exc)
        else:
            written = []
            try:
                for name, content in files.items():
                    with atomic_path(out_dir / name) as tmp:
                        tmp.write_bytes(content)
                    written.append(out_dir / name)
            except OSError as exc:
                outcome.failed[path] = f"cannot write {out_dir / name}: {exc.strerror or exc}"
                for done in written:  # all of an image's files or none of them
                    done.unlink(missing_ok=True)
            else:
                outcome.written[path] = written
        if on_image is not None:
            on_image(path)
    return outcome
