"""Detector frequency analyses: radius sweeps, AP-versus-radius curves and Fourier heat maps,
against independent computations (numpy, csv, pycocotools' COCOeval on a per-frequency loop)."""

from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfc_detect.analysis.curve import load_curve, write_curve
from hfc_detect.analysis.heatmap import (
    LOG_NAME,
    DetectorHeatmapConfig,
    detector_heatmap,
    grid_frequencies,
    write_heatmap,
)
from hfc_detect.analysis.radii import half_diagonal, octave_bands, sweep_radii
from hfc_detect.cli.app import app
from hfc_detect.frequency.trivial import radius_warnings
from hfc_detect.pipeline.inputs import load_coco
from hfc_detect.results import load_comparison
from hfc_detect.utils.errors import InputError
from tests.detect.test_cocoeval_parity import reference
from tests.detect.test_eval_pipeline import BACKEND, SIZES, TinyDetector, make_coco

runner = CliRunner()


@pytest.fixture
def coco(tmp_path):
    return make_coco(tmp_path / "data")


def test_sweep_radii_are_geometric_from_4_to_the_half_diagonal():
    radii = sweep_radii(5, 400.0)
    assert radii[0] == 4 and radii[-1] == 400
    expected = 4 * 100 ** (np.arange(5) / 4)  # ratio 100 ** (1/4) from one radius to the next
    np.testing.assert_allclose(radii, expected, atol=0.05)  # rounded to 0.1
    for bad in (1, 0):
        with pytest.raises(InputError, match="at least 2"):
            sweep_radii(bad, 400.0)
    with pytest.raises(InputError, match="too small"):
        sweep_radii(3, 3.0)


def test_octave_bands_halve_down_from_the_half_diagonal():
    bands = octave_bands(4, 400.0)
    assert bands[-1][1] == 400 and [b[1] for b in bands[:-1]] == [b[0] for b in bands[1:]]
    np.testing.assert_allclose([b[0] for b in bands], 400 / 2.0 ** np.arange(4, 0, -1), atol=0.05)
    with pytest.raises(InputError, match="at least 1"):
        octave_bands(0, 400.0)
    with pytest.raises(InputError, match="too many octaves"):
        octave_bands(13, 400.0)  # 400 / 2**13 rounds to 0


def test_half_diagonal_reads_the_largest_image(coco):
    expected = max(math.hypot(h, w) for h, w in SIZES) / 2
    data = json.loads(coco[0].read_text())
    assert half_diagonal(data, coco[0]) == pytest.approx(expected)


def test_eval_radius_sweep_then_curve(coco, tmp_path):
    ann, img = coco
    out = tmp_path / "run"
    args = ["eval", "--annotations", str(ann), "--images", str(img), "--backend", BACKEND,
            "--radius-sweep", "3", "--num-workers", "0", "--no-progress",
            "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    radii = sweep_radii(3, max(math.hypot(h, w) for h, w in SIZES) / 2)
    assert load_comparison(out).radii == radii  # from the variants' records

    result = runner.invoke(app, ["curve", str(out), "--resamples", "500"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert [(r["kind"], float(r["radius"])) for r in rows] == [
        (k, r) for k in ("lfc", "hfc") for r in radii
    ]
    stats = {v["name"]: v["stats"] for v in summary["variants"]}
    with (out / "per_image.csv").open() as f:
        per_image = list(csv.DictReader(f))
    for row in rows:
        name = f"{row['kind']}_r{float(row['radius']):g}"
        assert float(row["AP"]) == pytest.approx(stats[name]["AP"], abs=1e-6)
        assert float(row["AP50"]) == pytest.approx(stats[name]["AP50"], abs=1e-6)
        delta = [float(r[f"ap_{name}"]) - float(r["ap_original"]) for r in per_image
                 if r["ap_original"] and r[f"ap_{name}"]]  # fmt: skip
        assert float(row["delta_ap_mean"]) == pytest.approx(np.mean(delta), abs=1e-6)
        assert float(row["delta_ap_ci_low"]) <= float(row["delta_ap_mean"])
        assert float(row["delta_ap_mean"]) <= float(row["delta_ap_ci_high"])
        assert int(row["num_pairs"]) == len(delta)
    per_cat = list(csv.DictReader((out / "curve_per_category.csv").open()))
    assert len(per_cat) == 2 * (1 + 6)  # two categories: original + 6 variants
    first = next(r for r in per_cat if r["kind"] == "hfc" and r["category_id"] == "1")
    hfc4 = next(v for v in summary["variants"] if v["name"] == "hfc_r4")  # the first radius
    want = hfc4["per_category_ap"]["1"]["ap"]
    assert float(first["AP"]) == pytest.approx(want, abs=1e-6)
    png = cv2.imread(str(out / "curve.png"))
    assert png is not None and png.shape[1] > 1.5 * png.shape[0]  # 2 x 3 panels

    # A Python user writes the same files through the API, without the command.
    api = tmp_path / "api"
    api.mkdir()
    for name in ("summary.json", "per_image.csv"):
        (api / name).write_bytes((out / name).read_bytes())
    written = write_curve(api, load_curve(api, resamples=500))
    assert [p.name for p in written] == ["curve.csv", "curve_per_category.csv", "curve.png"]
    for name in ("curve.csv", "curve_per_category.csv"):
        assert (api / name).read_text() == (out / name).read_text()


def test_eval_band_sweep_then_curve_equals_pycocotools(coco, tmp_path):
    """--band-sweep runs octave bands up to the half-diagonal beside --radius; curve.csv's band
    rows (after LFC/HFC, with their inner radius) are pycocotools' AP of each band's predictions
    and the mean of its per-image AP differences against the original."""
    ann, img = coco
    out = tmp_path / "run"
    args = ["eval", "--annotations", str(ann), "--images", str(img), "--backend", BACKEND,
            "--radius", "8", "--band-sweep", "3", "--num-workers", "0", "--no-progress",
            "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    bands = octave_bands(3, max(math.hypot(h, w) for h, w in SIZES) / 2)
    result = runner.invoke(app, ["curve", str(out), "--resamples", "500"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert [(r["kind"], r["radius"], r["inner"]) for r in rows] == [
        ("lfc", "8", ""),
        ("hfc", "8", ""),
    ] + [("band", f"{b:g}", f"{a:g}") for a, b in bands]
    gt = json.loads(ann.read_text())
    _, base = reference(gt, json.loads((out / "predictions" / "original.json").read_text()))
    for (inner, outer), row in zip(bands, rows[2:], strict=True):
        name = f"band_r{inner:g}-{outer:g}"
        whole, per_image = reference(
            gt, json.loads((out / "predictions" / f"{name}.json").read_text())
        )
        assert float(row["AP"]) == pytest.approx(whole.stats[0], abs=1e-6)
        assert float(row["AP50"]) == pytest.approx(whole.stats[1], abs=1e-6)
        delta = [
            per_image[i][0] - base[i][0] for i in base if base[i][0] >= 0 and per_image[i][0] >= 0
        ]
        assert float(row["delta_ap_mean"]) == pytest.approx(np.mean(delta), abs=1e-6)
        assert float(row["delta_ap_ci_low"]) <= float(row["delta_ap_mean"])
        assert float(row["delta_ap_mean"]) <= float(row["delta_ap_ci_high"])
        assert int(row["num_pairs"]) == len(delta)
    per_cat = list(csv.DictReader((out / "curve_per_category.csv").open()))
    assert {(r["kind"], r["inner"]) for r in per_cat if r["kind"] == "band"} == {
        ("band", f"{a:g}") for a, _ in bands
    }
    assert cv2.imread(str(out / "curve.png")) is not None


SWEEPS = [["--radius", "8", "--radius-sweep", "3"], ["--band", "2:4", "--band-sweep", "2"]]


@pytest.mark.parametrize("given", SWEEPS)
def test_option_and_its_sweep_together_exit_2(coco, tmp_path, given):
    ann, img = coco
    out = tmp_path / "run"
    args = ["eval", "--annotations", str(ann), "--images", str(img), "--backend", BACKEND,
            *given, "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    option = given[-2]
    assert result.exit_code == 2
    assert f"error: give either {option.replace('-sweep', '')} or {option}" in result.output
    assert not out.exists()


def test_curve_refuses_a_folder_without_radii_or_original(tmp_path):
    result = runner.invoke(app, ["curve", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "error:" in result.output


def pycocotools_heatmap(coco, grid: int, step: int, eps: float):
    """Every grid cell (no symmetry used): perturb with numpy's cosine, clip, detect one image
    at a time, score with pycocotools (whole set; per image with imgIds=[id])."""
    gt = json.loads(coco[0].read_text())
    detector = TinyDetector()
    records = sorted(gt["images"], key=lambda im: im["id"])
    axis = (np.arange(grid) - grid // 2) * step

    def run(fy: float, fx: float, amplitude: float):
        dets = []
        for im in records:
            rgb = cv2.imread(str(coco[1] / im["file_name"]))[:, :, ::-1].astype(np.float64)
            h, w = rgb.shape[:2]
            yy, xx = np.mgrid[0:h, 0:w]
            basis = np.cos(2 * np.pi * (fy * yy / h + fx * xx / w))
            pert = np.clip(rgb + amplitude * (basis / np.sqrt((basis**2).sum()))[..., None], 0, 255)
            x = torch.from_numpy(pert.transpose(2, 0, 1).copy()).float()
            d = detector.detect([x])[0]
            for box, score, cat in zip(d.boxes, d.scores, d.category_ids, strict=True):
                x0, y0, x1, y1 = box.astype(np.float32).tolist()
                dets.append({"image_id": im["id"], "category_id": int(cat), "score": float(score),
                             "bbox": [x0, y0, x1 - x0, y1 - y0]})  # fmt: skip
        whole, per_image = reference(gt, dets)
        return whole.stats[0], np.array([per_image[im["id"]][0] for im in records])

    _, clean = run(0, 0, 0.0)
    ap, delta = np.zeros((grid, grid)), np.zeros((grid, grid))
    for i, fy in enumerate(axis):
        for j, fx in enumerate(axis):
            ap[i, j], per = run(fy, fx, eps)
            delta[i, j] = np.mean(per - clean)
    return ap, delta


def test_detector_heatmap_equals_per_frequency_pycocotools_loop(coco, tmp_path):
    config = DetectorHeatmapConfig(grid=3, step=2, eps=3000.0, batch_size=2)
    ds = load_coco(*coco)
    detector = TinyDetector()
    result = detector_heatmap(detector, ds, config, tmp_path / "hm")
    ap, delta = pycocotools_heatmap(coco, 3, 2, 3000.0)
    np.testing.assert_allclose(result.ap, ap, atol=1e-4)  # float32 boxes in both
    np.testing.assert_allclose(result.delta_ap, delta, atol=1e-4)
    assert np.ptp(result.ap) > 0.05  # the perturbations matter to this detector
    reps = len(grid_frequencies(3, 2)[0])
    assert reps == 5 and len(detector.seen) == len(SIZES) * (reps + 1)
    written = write_heatmap(tmp_path / "hm", result, config, {"backend": "tiny"})
    assert [p.name for p in written] == ["heatmap.npy", "heatmap.csv", "heatmap.png",
                                         "heatmap.json"]  # fmt: skip
    np.testing.assert_array_equal(np.load(written[0]), [result.ap, result.delta_ap])
    assert json.loads(written[3].read_text())["backend"] == "tiny"

    # Resume: drop the last two logged frequencies; only those are run again.
    log = tmp_path / "hm" / LOG_NAME
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:7])  # and a torn line
    again = TinyDetector()
    resumed = detector_heatmap(again, ds, config, tmp_path / "hm")
    np.testing.assert_array_equal(resumed.ap, result.ap)
    assert len(again.seen) == len(SIZES) * (2 + 1)
    third = TinyDetector()  # the torn line was dropped, so nothing is left to run
    np.testing.assert_array_equal(detector_heatmap(third, ds, config, log.parent).ap, result.ap)
    assert len(third.seen) == len(SIZES)
    with pytest.raises(InputError, match="other settings"):
        detector_heatmap(again, ds, DetectorHeatmapConfig(grid=3, step=2, eps=10.0), log.parent)


def test_grid_counts_and_nyquist(coco, tmp_path):
    for g in (1, 2, 3, 8, 15, 16):
        expected = (g * g + 1) // 2 if g % 2 else g * g // 2 + g
        assert len(grid_frequencies(g, 4)[0]) == expected
    with pytest.raises(InputError, match="Nyquist"):
        detector_heatmap(
            TinyDetector(), load_coco(*coco), DetectorHeatmapConfig(grid=4, step=16), tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()


def test_heatmap_cli_writes_maps(coco, tmp_path):
    out = tmp_path / "hm"
    args = ["heatmap", "--annotations", str(coco[0]), "--images", str(coco[1]), "--backend",
            BACKEND, "--grid", "2", "--step", "3", "--eps", "500", "--limit", "3",
            "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    maps = np.load(out / "heatmap.npy")
    assert maps.shape == (2, 2, 2)
    info = json.loads((out / "heatmap.json").read_text())
    assert info["images"] == 3 and info["frequencies"] == [-3, 0]
    rows = list(csv.DictReader((out / "heatmap.csv").open()))
    assert float(rows[1]["AP"]) == pytest.approx(maps[0, 0, 1], abs=1e-6)
    assert (out / "heatmap.png").is_file()
    bad = runner.invoke(app, [*args[:-2], "--grid", "0", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "error: --grid" in bad.output
    assert not (tmp_path / "x").exists()


def test_radius_warnings_say_what_the_split_then_is():
    """The claims of the warnings, checked with plain numpy FFTs of a 6 x 8 image."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (6, 8))
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    yy, xx = np.mgrid[:6, :8]
    dist = np.hypot(yy - 3, xx - 4)

    def lfc(r):
        return np.fft.ifft2(np.fft.ifftshift(spectrum * (dist < r))).real

    [below] = radius_warnings([0.5], [(8, 6)])
    assert "only the zero frequency" in below and "mean" in below
    np.testing.assert_allclose(lfc(0.5), image.mean(), atol=1e-9)
    [beyond] = radius_warnings([1e9], [(8, 6)])
    assert "half-diagonal of every image (the largest is 5.0)" in beyond
    assert "LFC is the image itself and each HFC zero" in beyond
    np.testing.assert_allclose(lfc(1e9), image, atol=1e-9)
    assert radius_warnings([5.0], [(8, 6)])  # at the half-diagonal: only the corner is left out
    assert np.abs(image - lfc(5.0)).max() < 0.05 * np.abs(image).max()
    assert radius_warnings([4.9, 1, 128], [(8, 6), (640, 480)]) == []
    assert radius_warnings([1e9], [(8, 6), None]) == []  # an unknown size: cannot say "every"
    [empty] = radius_warnings([2], [(8, 6)], [(5, 9), (4.9, 9), (1, 2)])
    assert empty.startswith("band 5-9 starts at or beyond the half-diagonal of every image")
    assert radius_warnings([2], [(8, 6), None], [(5, 9)]) == []


def test_eval_warns_in_one_line_about_a_trivial_radius(coco, tmp_path):
    ann, img = coco
    args = ["eval", "-a", str(ann), "--images", str(img), "--backend", BACKEND, "-r", "1e9",
            "-r", "0.5", "--num-workers", "0", "--no-progress", "--limit", "1",
            "-o", str(tmp_path / "run")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert len(lines) == 2, result.stderr
    assert "radius 1e+09 is at or beyond the half-diagonal of every image" in lines[0]
    assert "radius 0.5 is below 1" in lines[1]
    again = runner.invoke(app, args)  # a finished run says the same
    assert [ln for ln in again.stderr.splitlines() if ln.startswith("warning")] == lines
