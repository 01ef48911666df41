"""The report's gallery: each planned image split and drawn as original | LFC | HFC panels, then
a panel per frequency band of the run, and one of the ranked variant where it is a corruption or
a transform (made again from the decoded image with the run's seed).

Display: the original, the LFC and a corruption or transform as the detector saw them
(``pixel_mode`` for the LFC), rounded and clipped to 0..255; the HFC, which is mostly negative,
as 128 + HFC clipped (zero is mid-grey), as ``hfc-detect decompose`` writes it, and a band
(zero-mean too) as the HFC: 128 + band, clipped, in every pixel mode. Detections are drawn at
the plan's one score threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.data.images import encode_png, to_0_255
from hfc_detect.decompose import display_hfc, display_lfc
from hfc_detect.frequency.variant import BAND, COMPONENTS, Variant
from hfc_detect.reports.draw import draw_objects, placeholder
from hfc_detect.reports.markup import escape, number_cell
from hfc_detect.reports.plan import ReportPlan
from hfc_detect.reports.sources import ObjectSources
from hfc_detect.reports.wins import Win
from hfc_detect.utils.errors import InputError


def render_gallery(
    plan: ReportPlan, out_dir: Path, progress: Any = None
) -> tuple[list[GalleryEntry], list[str]]:
    """Draw every planned image into ``out_dir/images``; returns the entries and the warnings
    (image files missing or unreadable: a placeholder is drawn). ``progress``: an optional
    ``rich.progress.Progress``."""
    from hfc_detect.data.images import read_image

    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rows = {r["image_id"]: r for r in plan.comparison.rows}
    specs = plan.panel_specs  # the same panels for every image
    entries, warnings = [], []
    task = progress.add_task("gallery", total=len(plan.wins)) if progress is not None else None
    for win in plan.wins:
        image = None
        path = plan.images_dir / win.file_name if plan.images_dir is not None else None
        if path is None or not path.is_file():
            warnings.append(f"image {win.image_id}: {path or win.file_name} not found; placeholder")
        else:
            try:
                image = read_image(path)
            except InputError as exc:
                warnings.append(f"image {win.image_id}: {exc}; placeholder")
        entries.append(
            render_gallery_entry(
                win,
                image,
                sources=plan.sources,
                panels=plan.panels,
                specs=specs,
                row=rows[win.image_id],
                radius=plan.radius,
                score_threshold=plan.score_threshold,
                out_dir=out_dir,
                pixel_mode=plan.pixel_mode,
            )
        )
        if progress is not None:
            progress.advance(task)
    return entries, warnings


@dataclass(frozen=True)
class Panel:
    """One gallery picture: its title, its file (relative path) and its caption (HTML)."""

    title: str
    path: str
    caption: str


@dataclass(frozen=True)
class GalleryEntry:
    """One gallery row: the win, its panels and a missing flag."""

    win: Win
    panels: list[Panel]
    missing: bool


@dataclass(frozen=True)
class DetectionCount:
    """A panel's detections: all of them (its per-image AP scores them all, at any score) and
    those drawn (score >= ``threshold``)."""

    total: int
    shown: int
    threshold: float


def _objects_list(objs: list[dict[str, Any]], names: dict[int, str]) -> str:
    if not objs:
        return "none"
    return ", ".join(escape(names.get(o["category_id"], o["category_id"])) for o in objs)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _panel_caption(
    name: str | None,
    row: dict[str, Any],
    baseline: str,
    count: DetectionCount,
    diff: Any,
    names: dict[int, str],
) -> str:
    """``AP 0.534 (+0.058) from all 9 detections; 3 drawn (score >= 0.5); gained: cat; lost:
    none`` for a panel's variant: the AP counts detections below the drawing threshold too."""
    if name is None:
        return "no detections (no variant of this kind in the run)"
    ap, base = row.get(f"ap_{name}"), row.get(f"ap_{baseline}")
    parts = [f"boxes of <b>{escape(name)}</b>: AP {number_cell(ap)}"]
    if name != baseline and ap is not None and base is not None:
        parts[0] += f" ({ap - base:+.3f})"
    if count.total:
        parts[0] += f" from all {_plural(count.total, 'detection')}"
        parts.append(f"{count.shown} drawn (score &ge; {count.threshold:g})")
    else:
        parts[0] += " (no detection at all)"
    if diff is not None:
        parts.append(f"gained: {_objects_list(diff.gained, names)}")
        parts.append(f"lost: {_objects_list(diff.lost, names)}")
    return "; ".join(parts)


def _display(x: np.ndarray, pixel_mode: str | None) -> np.ndarray:
    """A split component (0..255 scale) as uint8 RGB for display: first mapped as the detector
    saw it (``pixel_mode`` via :func:`~hfc_detect.frequency.to_pixels`; none or ``raw``: as is),
    then rounded and clipped to 0..255 (only for display)."""
    from hfc_detect.frequency import to_pixels

    if pixel_mode not in (None, "raw"):
        x = to_pixels(x, pixel_mode)
    return display_lfc(x, np.dtype(np.uint8))


def _pictures(
    pixels: np.ndarray,
    specs: dict[str, Variant],
    radius: float,
    pixel_mode: str | None,
    image_id: int,
) -> dict[str, np.ndarray]:
    """Every panel's picture of the decoded ``pixels`` (what the detector saw: 16-bit images
    rescaled first): original, LFC and HFC at ``radius``, and each panel of ``specs`` (a band,
    or a corruption or transform made with image ``image_id``'s seed) by its key."""
    from hfc_detect.frequency import split, split_bands

    inclusive = any(s.inclusive for k, s in specs.items() if k in COMPONENTS)  # the run's disk
    low, high = split(pixels, radius, inclusive=inclusive)
    pictures = {
        "original": _display(pixels, None),
        "lfc": _display(low, pixel_mode),
        "hfc": display_hfc(high, np.dtype(np.uint8)),
    }
    bands = {key: spec for key, spec in specs.items() if spec.kind == BAND}
    for inclusive in {b.inclusive for b in bands.values()}:  # one FFT per disk convention
        same = [(key, b) for key, b in bands.items() if b.inclusive == inclusive]
        parts = split_bands(pixels, [(b.inner, b.radius) for _, b in same], inclusive=inclusive)
        pictures |= {key: display_hfc(part, np.dtype(np.uint8))
                     for (key, _), part in zip(same, parts, strict=True)}  # fmt: skip
    for key, spec in specs.items():
        if spec.is_transform:
            pictures[key] = _transformed(pixels, spec, image_id)
    return pictures


def _transformed(pixels: np.ndarray, spec: Variant, image_id: int) -> np.ndarray:
    """The corruption or transform ``spec`` of the decoded RGB ``pixels``, as eval made it for
    image ``image_id`` (same seed), rounded and clipped for display; a placeholder saying why
    where it cannot be made here (its module is not installed)."""
    import torch

    from hfc_detect.pipeline.transforms import load_transform

    try:
        transform = load_transform(spec)
        chw = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), np.float32))
        made = transform(chw, image_id, "RGB").numpy().transpose(1, 2, 0)
    except InputError as exc:
        return placeholder(text=f"{spec.name()}: not made here ({exc})")
    return display_lfc(made, np.dtype(np.uint8))


def _title(kind: str, radius: float, spec: Variant | None) -> str:
    """``original``, ``LFC r=128``, ``HFC r=128``, ``band r=16-64``, or a corruption's or
    transform's name."""
    if kind == "original":
        return kind
    if kind in ("lfc", "hfc"):
        return f"{kind.upper()} r={radius:g}"
    if spec is not None and spec.kind == BAND:
        return f"band {spec.tag.replace('r', 'r=', 1)}"
    return kind


def render_gallery_entry(
    win: Win,
    image: np.ndarray | None,
    *,
    sources: ObjectSources,
    panels: dict[str, str | None],
    specs: dict[str, Variant],
    row: dict[str, Any],
    radius: float,
    score_threshold: float,
    out_dir: Path,
    pixel_mode: str | None = None,
) -> GalleryEntry:
    """Compute the LFC/HFC split of ``image`` (decoded pixels), the bands among ``specs`` (from
    one forward FFT) and a corruption or transform among them, draw boxes, write the PNGs into
    ``out_dir/images``; ``row`` is the image's per-image table row (for the captions)."""
    gts = sources.image_gts(win.image_id)
    baseline = panels["original"]
    if image is None:
        pictures = {k: placeholder(text=f"{win.file_name}: not available") for k in panels}
    else:
        pictures = _pictures(to_0_255(image), specs, radius, pixel_mode, win.image_id)
    out = []
    for kind in panels:
        name = panels[kind]
        dets = sources.image_dets(name, win.image_id) if name else []
        diff = (
            sources.object_diff(win.image_id, baseline, name, score_threshold=score_threshold)
            if name and baseline and kind != "original"
            else None
        )
        drawn = pictures[kind]
        if image is not None:
            drawn = draw_objects(
                drawn,
                gts=gts,
                dets=dets,
                gained=diff.gained if diff else (),
                lost=diff.lost if diff else (),
                score_threshold=score_threshold,
                category_names=sources.category_names,
            )
        rel = f"images/{win.image_id}_{kind}.png"
        (out_dir / rel).write_bytes(encode_png(drawn, compression=6))
        title = _title(kind, radius, specs.get(kind))
        shown = sum(d["score"] >= score_threshold for d in dets)
        count = DetectionCount(len(dets), shown, score_threshold)
        caption = _panel_caption(name, row, baseline, count, diff, sources.category_names)
        out.append(Panel(title, rel, caption))
    return GalleryEntry(win=win, panels=out, missing=image is None)
