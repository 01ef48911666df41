"""A variant has one colour in every figure: the LFC/HFC/band families apart from each other and
from the corruptions and transforms (the first corruption once came out in the LFC's blue)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import rgb_to_hsv, to_hex, to_rgb

from hfc_detect.analysis import errors as errors_module
from hfc_detect.analysis.errors import FolderErrors, VariantErrors, plot_errors
from hfc_detect.analysis.spectrum import VariantSpectrum
from hfc_detect.analysis.tide import MAIN_ERRORS, SPECIAL_ERRORS
from hfc_detect.frequency.variant import Variant
from hfc_detect.reports.colours import variant_styles
from hfc_detect.reports.figures import spectrum_figure

NAMES = ["original", "lfc_r8", "hfc_r8", "band_r4-8", "gaussian_noise_s3", "defocus_blur_s3"]
KINDS: dict[str, Variant | None] = {n: Variant.parse(n) for n in NAMES} | {"mine": None}


def test_every_variant_has_a_colour_of_its_own_away_from_the_families() -> None:
    colours = {name: to_hex(c) for name, (c, _) in variant_styles(KINDS).items()}
    assert list(colours) == list(KINDS)
    assert len(set(colours.values())) == len(colours), colours
    hsv = {name: rgb_to_hsv(to_rgb(c)) for name, c in colours.items()}
    family_hues = [hsv[n][0] for n in ("lfc_r8", "hfc_r8", "band_r4-8")]
    for name in ("gaussian_noise_s3", "defocus_blur_s3", "mine"):
        hue, saturation, _ = hsv[name]
        distance = min(min(abs(hue - h), 1 - abs(hue - h)) for h in family_hues)
        assert saturation < 0.1 or distance > 0.05, (name, colours[name])


def test_more_other_variants_than_colours_change_line_style() -> None:
    kinds = {f"t{i}": None for i in range(7)}
    styles = variant_styles(kinds)
    assert [s for _, s in styles.values()] == ["-"] * 5 + ["-."] * 2
    assert len({(to_hex(c), s) for c, s in styles.values()}) == 7


def test_the_spectrum_and_errors_figures_agree_on_colours(monkeypatch, tmp_path: Path) -> None:
    want = {name: to_hex(c) for name, (c, _) in variant_styles(KINDS).items()}
    shares = {n: np.linspace(1, 2, 10) for n in KINDS}
    figure = spectrum_figure(VariantSpectrum(shares, np.ones(10), [1], 1, 0), KINDS, "t")
    lines = {line.get_label(): to_hex(line.get_color()) for line in figure.axes[0].lines}
    del lines["original"]  # the dashed line at 1
    assert lines == {n: c for n, c in want.items() if n != "original"}

    figures = []
    monkeypatch.setattr(errors_module, "save_png", lambda fig, path: figures.append(fig))
    zeros = dict.fromkeys(MAIN_ERRORS, 1.0), dict.fromkeys(SPECIAL_ERRORS, 1.0)
    variants = [VariantErrors(n, 50.0, *zeros, {}, KINDS[n]) for n in KINDS]
    plot_errors(tmp_path / "errors.png", FolderErrors(tmp_path, "original", [1], variants), "t")
    main = figures[0].axes[0]
    bars = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in main.containers}
    assert bars == want
