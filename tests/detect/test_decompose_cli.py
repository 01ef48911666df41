"""``hfc-detect decompose`` through Typer's runner and a subprocess."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.data.images import read_image
from hfc_detect.frequency import split
from tests.conftest import REPO_ROOT

runner = CliRunner()


@pytest.fixture
def images(tmp_path):
    """A colour JPEG, a gray PNG and a 16-bit RGBA PNG."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    yy, xx = np.mgrid[0:40, 0:56]
    smooth = (120 + 80 * np.sin(xx / 7) * np.cos(yy / 5)).astype(np.uint8)
    colour = np.stack([smooth, smooth[::-1], 255 - smooth], axis=2)
    cv2.imwrite(str(folder / "colour.jpg"), colour)
    cv2.imwrite(str(folder / "gray.png"), rng.integers(0, 256, size=(33, 47), dtype=np.uint8))
    deep = rng.integers(0, 65536, size=(20, 24, 4), dtype=np.uint16)
    cv2.imwrite(str(folder / "deep.png"), deep)
    return {p.stem: p for p in folder.iterdir()}


def _read_png(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return image[:, :, ::-1] if image.ndim == 3 else image


def _run(args):
    return runner.invoke(app, ["decompose", *map(str, args)])


def test_writes_pngs_with_the_stated_mapping(images, tmp_path):
    out = tmp_path / "out"
    result = _run([*images.values(), "--radius", "6", "--output", out])
    assert result.exit_code == 0, result.output
    assert "decomposed 3 of 3 images" in result.output
    for stem, path in images.items():
        image = read_image(path, keep_gray=True)
        low, high = split(image, 6)
        lfc, hfc = _read_png(out / f"{stem}_r6_lfc.png"), _read_png(out / f"{stem}_r6_hfc.png")
        peak = 65535 if image.dtype == np.uint16 else 255
        assert lfc.dtype == hfc.dtype == image.dtype and lfc.shape == image.shape
        np.testing.assert_array_equal(lfc, np.clip(np.rint(low), 0, peak))
        np.testing.assert_array_equal(hfc, np.clip(np.rint(high + (peak + 1) / 2), 0, peak))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}_r6_{part}.png" for stem in images for part in ("lfc", "hfc")
    )


def test_npy_is_exact_and_inclusive_is_named(images, tmp_path):
    out = tmp_path / "out"
    result = _run(
        [images["gray"], images["colour"], "-r", "4.5", "--inclusive", "--npy", "-o", out]
    )
    assert result.exit_code == 0, result.output
    for stem in ("gray", "colour"):
        low, high = split(read_image(images[stem], keep_gray=True), 4.5, inclusive=True)
        saved_low = np.load(out / f"{stem}_r4.5i_lfc.npy")
        assert saved_low.dtype == np.float64
        np.testing.assert_array_equal(saved_low, low)
        np.testing.assert_array_equal(np.load(out / f"{stem}_r4.5i_hfc.npy"), high)
    assert np.load(out / "gray_r4.5i_lfc.npy").shape == (33, 47)


@pytest.mark.parametrize(
    "radius_args",
    [["--radius", "0"], ["--radius", "-3"], ["--radius", "nan"], ["--radius", "x"], []],
    ids=["zero", "negative", "nan", "text", "missing"],
)
def test_bad_radius_exits_2_with_one_line_and_writes_nothing(images, tmp_path, radius_args):
    out = tmp_path / "out"
    result = _run([images["colour"], *radius_args, "--output", out])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "radius" in lines[0]
    assert not out.exists()


def test_corrupt_image_is_named_others_are_written_exit_1(images, tmp_path):
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "out"
    result = _run([images["colour"], bad, images["gray"], "-r", "5", "-o", out, "--npy"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0]
    assert "decomposed 2 of 3 images" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"{stem}_r5_{part}"
        for stem in ("colour", "gray")
        for part in ("lfc.png", "hfc.png", "lfc.npy", "hfc.npy")
    )  # and no temporary files left behind


def test_output_that_cannot_be_created_exits_2_before_any_image(images, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    result = _run([images["gray"], "-r", "3", "-o", blocker / "out"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and f"{blocker} is a file" in result.stderr


def test_clashing_names_and_bad_output_exit_2(images, tmp_path):
    other = tmp_path / "colour.png"
    cv2.imwrite(str(other), np.zeros((4, 4, 3), np.uint8))
    result = _run([images["colour"], other, "-r", "3", "-o", tmp_path / "out"])
    assert result.exit_code == 2 and "same output names" in result.stderr
    assert not (tmp_path / "out").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = _run([images["colour"], "-r", "3", "-o", a_file])
    assert result.exit_code == 2 and "exists and is not a folder" in result.stderr


def test_figure_without_importing_torch(images, tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from hfc_detect.cli.app import app; "
        f"r = CliRunner().invoke(app, ['decompose', {str(images['colour'])!r}, '-r', '3', "
        f"'-o', {str(tmp_path / 'out')!r}, '--figure']); "
        "assert r.exit_code == 0, r.output; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
    figure = cv2.imread(str(tmp_path / "out" / "colour_r3_figure.png"))
    assert figure is not None and figure.shape[1] == 1600 and figure.shape[0] > 300


def test_failed_write_leaves_none_of_the_images_files(images, tmp_path):
    from hfc_detect.decompose import decompose_files

    out = tmp_path / "out"
    (out / "gray_r3_hfc.png" / "occupied").mkdir(parents=True)  # the second file cannot land
    outcome = decompose_files([images["gray"]], 3, out)
    assert list(outcome.failed) == [images["gray"]] and "gray_r3_hfc.png" in str(outcome.failed)
    assert sorted(p.name for p in out.iterdir()) == ["gray_r3_hfc.png"]  # only the blocker
