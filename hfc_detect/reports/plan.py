"""What an HTML report will show, decided before anything is drawn: :class:`ReportPlan`.

:func:`plan_report` settles every choice of the report in one frozen object: the variant
ranked against the baseline, the radius of the gallery's LFC/HFC panels and where it came from,
which variant's detections go on each panel, the gallery's images with their gained and lost
objects, the drawing threshold and how it was chosen, the bootstrap intervals, and the variant
spectrum where the folder holds ``variant_spectrum.csv`` (``hfc-detect spectrum``). The gallery
(:mod:`~hfc_detect.reports.gallery`) and the page (:mod:`~hfc_detect.reports.html`) only carry
it out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hfc_detect.analysis.spectrum import SPECTRUM_CSV, VariantSpectrum, read_variant_spectrum
from hfc_detect.frequency import check_radius
from hfc_detect.frequency.variant import BAND, COMPONENTS, Variant
from hfc_detect.reports.bootstrap import BootstrapCI, paired_bootstrap_ci
from hfc_detect.reports.defaults import PAPER_RADIUS
from hfc_detect.reports.objects import DEFAULT_SCORE_THRESHOLD
from hfc_detect.reports.sources import ObjectSources, load_sources
from hfc_detect.reports.wins import Win, attach_objects, rank_wins
from hfc_detect.results import ComparisonFolder
from hfc_detect.utils.errors import InputError

DEFAULT_GALLERY_SIZE = 12


@dataclass(frozen=True)
class ReportPlan:
    """Everything an HTML report shows, decided.

    ``panels``: kind (original, lfc, hfc), a band's own name (``band_r16-64``) or the ranked
    corruption's or transform's name -> the variant whose detections it shows (None: none);
    ``wins``: the gallery's images, best first, with gained/lost objects at ``score_threshold``
    (``threshold_note`` says how it was chosen); ``cis``: the paired bootstrap CI of every
    non-baseline variant's mean per-image AP difference; ``spectrum``: the folder's variant spectrum
    (None: none, or unreadable as ``spectrum_warning`` says)."""

    comparison: ComparisonFolder
    variant: str
    radius: float
    radius_source: str
    panels: dict[str, str | None]
    sources: ObjectSources
    wins: list[Win]
    score_threshold: float
    threshold_note: str
    cis: dict[str, BootstrapCI]
    images_dir: Path | None
    spectrum: VariantSpectrum | None = None
    spectrum_warning: str | None = None

    @property
    def pixel_mode(self) -> str | None:
        """How the run fed LFC/HFC to the detector (the gallery shows them that way)."""
        return self.comparison.summary.get("pixel_mode")

    @property
    def panel_specs(self) -> dict[str, Variant]:
        """What each panel but the original shows, where the folder records it: the LFC/HFC
        (their disk convention), a band or a corruption/transform, by its panel key."""
        specs = {key: self.comparison.spec(name) for key, name in self.panels.items()
                 if key != "original" and name is not None}  # fmt: skip
        return {key: spec for key, spec in specs.items() if spec is not None}


def plan_report(
    comparison: ComparisonFolder,
    *,
    variant: str | None = None,
    images: str | Path | None = None,
    radius: float | None = None,
    score_threshold: float | None = None,
    top: int | None = None,
    resamples: int,
    seed: int,
) -> ReportPlan:
    """The plan of ``comparison``'s report; InputError on a bad choice (an unknown variant, a
    radius the run did not use, a missing images folder). ``images``: the gallery's image
    folder, default the summary's ``images_dir``; ``top``: gallery size (default 12)."""
    name = comparison.resolve_variant(variant)
    images_dir = Path(images) if images is not None else None
    if images_dir is not None and not images_dir.is_dir():
        raise InputError(f"{images_dir}: no such images folder")
    if images_dir is None and comparison.summary.get("images_dir"):
        images_dir = Path(comparison.summary["images_dir"])
    r, r_source = resolve_radius(comparison, name, radius)
    panels = panel_variants(comparison, r, name)
    needed = list(dict.fromkeys([comparison.baseline, name, *(v for v in panels.values() if v)]))
    sources = load_sources(comparison, needed)
    ranked = rank_wins(comparison, name)[0][: top or DEFAULT_GALLERY_SIZE]
    threshold, note = drawing_threshold(
        sources, [comparison.baseline, name], [w.image_id for w in ranked], score_threshold
    )
    wins = attach_objects(ranked, sources, comparison.baseline, name, score_threshold=threshold)
    cis = bootstrap_all(comparison, resamples=resamples, seed=seed)
    spectrum, spectrum_warning = load_spectrum(comparison)
    return ReportPlan(comparison, name, r, r_source, panels, sources, wins, threshold, note, cis,
                      images_dir, spectrum, spectrum_warning)  # fmt: skip


def load_spectrum(comparison: ComparisonFolder) -> tuple[VariantSpectrum | None, str | None]:
    """The folder's variant spectrum (``variant_spectrum.csv``) and, where it is present but
    unreadable, a warning instead; (None, None) where it is absent."""
    if not (comparison.root / SPECTRUM_CSV).is_file():
        return None, None
    try:
        return read_variant_spectrum(comparison.root), None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{comparison.root / SPECTRUM_CSV}: unreadable ({exc}); no spectrum section"


def resolve_radius(
    comparison: ComparisonFolder, variant: str, requested: float | None
) -> tuple[float, str]:
    """The radius of the gallery's LFC/HFC panels and where it came from.

    The run's own radii (its variants' records in summary.json) win; ``requested`` may pick
    one of several radii and must agree with a single one; without either, ``requested`` or 128.
    Of several radii, the default is the variant's own, else the one nearest the paper's 128
    (a sweep's first radius, 4, would show an LFC that never wins).
    """
    if requested is not None:
        requested = check_radius(requested)
    radii = comparison.radii
    if not radii:
        if requested is not None:
            return float(requested), "--radius"
        return float(PAPER_RADIUS), "default"
    known = ", ".join(f"{r:g}" for r in radii)
    if requested is not None:
        if float(requested) not in radii:
            word = "radius" if len(radii) == 1 else "radii"
            raise InputError(f"--radius {requested:g}: this run used {word} {known}")
        return float(requested), "summary.json"
    own = comparison.spec(variant)
    nearest = min(radii, key=lambda r: abs(r - PAPER_RADIUS))
    return (own.radius if own is not None and own.radius in radii else nearest), "summary.json"


def panel_variants(
    comparison: ComparisonFolder, radius: float, ranked: str | None = None
) -> dict[str, str | None]:
    """Which variant's detections go on each gallery panel (None: no detections for it): the
    LFC and HFC variants at ``radius`` (a name ``lfc``/``hfc`` whose radius the folder does not
    record serves as well), then every band of the run, keyed by its spec's name (so the
    gallery knows what to split), in the folder's order; last the ``ranked`` variant where it
    is a corruption or a transform (made again for its panel), keyed by its name."""
    out: dict[str, str | None] = {"original": comparison.baseline}
    specs = {name: comparison.spec(name) for name in comparison.variant_names}
    for kind in COMPONENTS:
        at_radius = [n for n, s in specs.items() if s and s.kind == kind and s.radius == radius]
        unrecorded = [n for n, s in specs.items() if n == kind and s is None]
        out[kind] = (at_radius or unrecorded or [None])[0]
    out |= {s.name(): n for n, s in specs.items() if s is not None and s.kind == BAND}
    ranked_spec = specs.get(ranked) if ranked is not None else None
    if ranked_spec is not None and ranked_spec.is_transform:
        out[ranked] = ranked
    return out


def drawing_threshold(
    sources: ObjectSources,
    variants: list[str],
    image_ids: list[int],
    requested: float | None = None,
    ceiling: float = DEFAULT_SCORE_THRESHOLD,
) -> tuple[float, str]:
    """The gallery's score threshold and how it was chosen: ``requested`` where given, else
    ``ceiling`` (0.5), lowered where needed so that at least half of the panels of ``variants``
    (the baseline and the ranked variant) that have detections show their best one: the lower
    median of the panels' best scores, rounded down to 0.01. A run whose detector scores below
    0.5 (the bundled demo's does) so still shows boxes, and one weak panel does not flood the
    others with boxes."""
    if requested is not None:
        return requested, "--score-threshold"
    best = [
        float(sources.preds[name].scores[rows].max())
        for name in variants
        for image_id in image_ids
        if (rows := sources.det_rows(name, image_id)).size
    ]
    middle = float(np.quantile(best, 0.5, method="lower")) if best else ceiling
    if middle >= ceiling:
        return ceiling, "the default; --score-threshold sets it"
    return math.floor(middle * 100) / 100, (
        f"lowered from the default {ceiling:g} so that at least half of the "
        f"{' and '.join(variants)} panels show their best detection; --score-threshold sets it"
    )


def bootstrap_all(
    comparison: ComparisonFolder, *, resamples: int, seed: int
) -> dict[str, BootstrapCI]:
    """Paired bootstrap CI of the mean per-image AP difference for every non-baseline variant."""
    base = comparison.column(f"ap_{comparison.baseline}")
    out = {}
    for name in comparison.variant_names:
        if name == comparison.baseline:
            continue
        var = comparison.column(f"ap_{name}")
        if np.isfinite(var - base).any():
            out[name] = paired_bootstrap_ci(base, var, resamples=resamples, seed=seed)
    return out
