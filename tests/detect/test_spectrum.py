"""``hfc-detect spectrum`` and eval's ``variant_spectrum.csv``: each variant's share of the
original's spectral energy per radial bin equals a plain numpy reference (``fft2`` of the whole
plane, ``fftshift``, an explicit mask per bin ``k <= d < k + 1`` with d measured as the disk of
``--radius`` is), for the original, LFC, HFC, a band and a variant of any other kind."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.analysis.spectrum import octave_shares, read_variant_spectrum, sample_images
from hfc_detect.cli.app import app
from hfc_detect.utils.errors import InputError
from tests.detect.test_eval_pipeline import BACKEND, make_coco

runner = CliRunner()
SIZES = [(40, 48), (33, 47), (36, 52), (40, 48)]  # an odd height and width among them
RADIUS, BAND = 6, (3, 10)
BLUR = "box_blur_3x3_wraparound"  # a transform's name, longer than the built-in ones


def _invoke(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def _read_csv(folder: Path) -> dict[str, dict[int, tuple[float, int]]]:
    """variant -> r_low -> (share, images)."""
    out: dict[str, dict[int, tuple[float, int]]] = {}
    with (folder / "variant_spectrum.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            assert int(r["r_high"]) == int(r["r_low"]) + 1
            share = float(r["share"]) if r["share"] else np.nan
            out.setdefault(r["variant"], {})[int(r["r_low"])] = (share, int(r["images"]))
    return out


def _distance(height: int, width: int) -> np.ndarray:
    rows = np.arange(height)[:, None] - height // 2
    cols = np.arange(width)[None, :] - width // 2
    return np.sqrt(rows**2 + cols**2)


def reference_energy(image: np.ndarray) -> np.ndarray:
    """Energy per radial bin of an (H, W, C) image: plain fft2 of every channel, fftshift, and
    one explicit mask per bin."""
    spectrum = np.fft.fftshift(np.fft.fft2(image, axes=(0, 1)), axes=(0, 1))
    power = (np.abs(spectrum) ** 2).sum(axis=2)
    d = _distance(*image.shape[:2])
    return np.array([power[(d >= k) & (d < k + 1)].sum() for k in range(int(d.max()) + 1)])


def reference_lfc(image: np.ndarray, radius: float) -> np.ndarray:
    spectrum = np.fft.fftshift(np.fft.fft2(image, axes=(0, 1)), axes=(0, 1))
    inside = (_distance(*image.shape[:2]) < radius)[:, :, None]
    return np.fft.ifft2(np.fft.ifftshift(spectrum * inside, axes=(0, 1)), axes=(0, 1)).real


def reference_shares(images: list[np.ndarray], make) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``images`` of energy(make(x)) / energy(x) per bin (where energy(x) > 0), and
    the number of images averaged per bin."""
    size = max(len(reference_energy(x)) for x in images)
    total, count = np.zeros(size), np.zeros(size)
    for x in images:
        original = reference_energy(x)
        n = len(original)
        total[:n] += reference_energy(make(x)) / original
        count[:n] += 1
    return total / count, count


def _images(folder: Path) -> list[np.ndarray]:
    run = json.loads((folder / "run.json").read_text())["config"]
    with (folder / "per_image.csv").open(newline="") as f:
        names = [r["file_name"] for r in csv.DictReader(f)]
    return [cv2.imread(str(Path(run["images"]) / n))[..., ::-1].astype(np.float64) for n in names]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval folder (original, LFC, HFC at r = 6 and the band 3:10); eval wrote its spectrum."""
    root = tmp_path_factory.mktemp("spectrum")
    ann, img = make_coco(root / "data", sizes=SIZES)
    out = root / "run"
    output = _invoke(["eval", "--annotations", ann, "--images", img, "--backend", BACKEND,
                      "--radius", RADIUS, "--band", f"{BAND[0]}:{BAND[1]}", "--num-workers", "0",
                      "--no-progress", "-o", out])  # fmt: skip
    assert "variant_spectrum.csv" in output
    return out


def test_eval_writes_the_spectrum_of_every_variant_as_numpy_computes_it(run: Path) -> None:
    table = _read_csv(run)
    images = _images(run)
    assert list(table) == ["original", "lfc", "hfc", "band_r3-10"]
    makers = {
        "original": lambda x: x,
        "lfc": lambda x: reference_lfc(x, RADIUS),
        "hfc": lambda x: x - reference_lfc(x, RADIUS),
        "band_r3-10": lambda x: reference_lfc(x, BAND[1]) - reference_lfc(x, BAND[0]),
    }
    for name, make in makers.items():
        want, count = reference_shares(images, make)
        got = np.array([table[name][k][0] for k in range(len(want))])
        assert [table[name][k][1] for k in range(len(want))] == count.astype(int).tolist()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9, err_msg=name)
    bins = np.arange(len(want)) + 0.5
    np.testing.assert_allclose([table["original"][k][0] for k in range(len(want))], 1, rtol=1e-12)
    lfc = np.array([table["lfc"][k][0] for k in range(len(want))])
    np.testing.assert_allclose(lfc[bins < RADIUS], 1, rtol=1e-5)  # the disk d < 6: bins 0..5
    np.testing.assert_allclose(lfc[bins > RADIUS], 0, atol=1e-9)
    band = np.array([table["band_r3-10"][k][0] for k in range(len(want))])
    np.testing.assert_allclose(band[(bins > BAND[0]) & (bins < BAND[1])], 1, rtol=1e-5)
    np.testing.assert_allclose(band[(bins < BAND[0]) | (bins > BAND[1])], 0, atol=1e-9)
    info = json.loads((run / "variant_spectrum.json").read_text())
    assert info["sample"] == 50 and info["seed"] == 0 and len(info["image_ids"]) == len(SIZES)
    assert (run / "variant_spectrum.png").stat().st_size > 0


def box_blur(x: np.ndarray, axes: tuple[int, int]) -> np.ndarray:
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return sum(np.roll(x, s, axis=axes) for s in shifts) / 9.0


def blur(image: np.ndarray) -> np.ndarray:
    """A transform for ``eval --transform``: a 3 x 3 box filter (wrap-around) by numpy."""
    return box_blur(image, axes=(0, 1)).astype(np.float32)


def test_a_transform_is_measured_as_eval_makes_it(tmp_path: Path) -> None:
    ann, img = make_coco(tmp_path / "data", sizes=SIZES)
    folder = tmp_path / "run"
    _invoke(["eval", "--annotations", ann, "--images", img, "--backend", BACKEND,
             "--radius", RADIUS, "--transform", f"{BLUR}=tests.detect.test_spectrum:blur",
             "--num-workers", "0", "--no-progress", "-o", folder])  # fmt: skip
    output = _invoke(["spectrum", folder, "--sample", 3, "--seed", 7])
    lines = output.splitlines()[1:6]  # the header and one line per variant, in columns
    assert lines[0].startswith("variant") and lines[-1].startswith(BLUR)
    assert len({len(line) for line in lines}) == 1, output
    table = _read_csv(folder)
    assert list(table) == ["original", "lfc", "hfc", BLUR]
    info = json.loads((folder / "variant_spectrum.json").read_text())
    ids = sample_images(_ids(folder), 3, 7)
    assert info == {"sample": 3, "seed": 7, "image_ids": ids}
    all_ids, images = _ids(folder), _images(folder)
    picked = [images[all_ids.index(i)] for i in ids]
    want, count = reference_shares(picked, lambda x: box_blur(x, axes=(0, 1)))
    got = np.array([table[BLUR][k][0] for k in range(len(want))])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
    assert [table[BLUR][k][1] for k in range(len(want))] == count.astype(int).tolist()
    assert want[0] == pytest.approx(1) and want[-1] < 0.2  # it keeps the mean, damps the rest


def _ids(folder: Path) -> list[int]:
    with (folder / "per_image.csv").open(newline="") as f:
        return [int(r["image_id"]) for r in csv.DictReader(f)]


def test_sample_is_seeded_and_takes_all_when_there_are_fewer() -> None:
    ids = list(range(100, 0, -3))
    assert sample_images(ids, 50, 0) == sorted(ids)
    first = sample_images(ids, 5, 1)
    assert first == sample_images(ids, 5, 1) == sorted(first) and set(first) <= set(ids)
    assert len(set(first)) == 5 and first != sample_images(ids, 5, 2)
    with pytest.raises(InputError, match="--sample must be >= 1"):
        sample_images(ids, 0, 0)


def test_the_command_on_a_demo_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HFC_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    _invoke(["eval", "--dataset", "demo", "--limit", 3, "--radius", 32, "--num-workers", 0,
             "--no-progress", "-o", out])  # fmt: skip
    output = _invoke(["spectrum", out, "--sample", 2, "--seed", 1])
    assert "share of the original's energy at radius (2 images, seed 1)" in output
    assert f"wrote {out / 'variant_spectrum.csv'}" in output
    table = _read_csv(out)
    assert list(table) == ["original", "lfc", "hfc"]
    assert {n for _, n in table["lfc"].values()} == {2}  # the demo's images share one size
    spectrum = read_variant_spectrum(out)
    assert spectrum.seed == 1 and len(spectrum.image_ids) == 2
    ranges, means = octave_shares(spectrum)
    assert ranges[:3] == [(0, 1), (1, 2), (2, 4)] and ranges[-1][1] == spectrum.num_bins
    assert means["lfc"][5] == pytest.approx(1, abs=1e-5)  # 16..32: inside r = 32
    assert means["hfc"][5] == pytest.approx(0, abs=1e-9)


def test_the_report_shows_the_spectrum_when_the_folder_holds_it(run, tmp_path) -> None:
    _invoke(["export", run, "--format", "html", "--top", 1, "--output", tmp_path / "with"])
    page = (tmp_path / "with" / "index.html").read_text()
    assert 'id="variant-spectrum"' in page and (tmp_path / "with" / "spectrum.png").is_file()
    assert page.index('id="variant-spectrum"') < page.index("<h2>Gallery")
    ranges, means = octave_shares(read_variant_spectrum(run))
    table = page.split('id="spectrum-table">', 1)[1].split("</table>", 1)[0]
    for name, values in means.items():
        row = table.split(f'<td class="text">{name}</td>', 1)[1].split("</tr>", 1)[0]
        assert row.count("<td>") == len(ranges)
        shown = [float(c) for c in row.replace("</td>", "").split("<td>")[1:]]
        np.testing.assert_allclose(shown, values, rtol=5e-3)
    bare = tmp_path / "bare"
    bare.mkdir()
    for item in run.iterdir():
        if not item.name.startswith("variant_spectrum"):
            (bare / item.name).symlink_to(item)
    _invoke(["export", bare, "--format", "html", "--top", 1, "--output", tmp_path / "without"])
    assert 'id="variant-spectrum"' not in (tmp_path / "without" / "index.html").read_text()


@pytest.mark.parametrize(
    ("make", "extra", "wanted"),
    [
        (lambda p: p / "missing", [], "no such comparison folder"),
        (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", [], "is a file"),
        (lambda p: p, [], "summary.json: missing"),
        (lambda p: "RUN", ["--sample", "0"], "--sample must be >= 1"),
        (lambda p: "COMPARE", [], "no run.json; spectrum reads a folder written by"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(run, tmp_path, make, extra, wanted) -> None:
    given = make(tmp_path)
    if given == "RUN":
        given = run
    elif given == "COMPARE":
        given = tmp_path / "compare"
        given.mkdir()
        for name in ("summary.json", "per_image.csv"):
            (given / name).write_bytes((run / name).read_bytes())
    before = (run / "variant_spectrum.csv").read_bytes()
    result = runner.invoke(app, ["spectrum", str(given), *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and wanted in lines[0], lines
    assert (run / "variant_spectrum.csv").read_bytes() == before
    assert not (Path(given) / "variant_spectrum.csv").exists() or given == run


def test_eval_finishes_with_a_warning_where_the_spectrum_cannot_be_made(tmp_path, monkeypatch):
    import hfc_detect.analysis.spectrum as spectrum

    def fail(directory, **_):
        raise InputError("cannot read image gone.png: No such file or directory")

    monkeypatch.setattr(spectrum, "folder_spectrum", fail)
    ann, img = make_coco(tmp_path / "data", sizes=SIZES[:2])
    out = tmp_path / "run"
    result = runner.invoke(app, ["eval", "--annotations", str(ann), "--images", str(img),
                                 "--backend", BACKEND, "--radius", "6", "--num-workers", "0",
                                 "--no-progress", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "variant spectrum not written (cannot read image gone.png" in result.output
    assert (out / "summary.json").is_file() and not (out / "variant_spectrum.csv").exists()


def test_a_kind_this_version_does_not_know_is_drawn_without_its_colour(run, tmp_path) -> None:
    from hfc_detect.analysis.spectrum import spectrum_kinds
    from hfc_detect.results import load_comparison

    folder = Path(shutil.copytree(run, tmp_path / "run"))
    summary = json.loads((folder / "summary.json").read_text())
    summary["variants"][2]["spec"] = {"kind": "a_future_kind", "radius": None}
    (folder / "summary.json").write_text(json.dumps(summary))
    kinds = spectrum_kinds(load_comparison(folder), read_variant_spectrum(folder))
    assert kinds["hfc"] is None and kinds["lfc"].kind == "lfc"


def test_a_finished_run_without_its_spectrum_says_how_to_make_it(tmp_path: Path) -> None:
    """A run interrupted while its spectrum was made is finished; run again it computes and
    writes nothing, and says which command writes the spectrum."""
    ann, img = make_coco(tmp_path / "data", sizes=SIZES[:2])
    out = tmp_path / "run"
    args = ["eval", "--annotations", ann, "--images", img, "--backend", BACKEND,
            "--radius", RADIUS, "--num-workers", "0", "--no-progress", "-o", out]  # fmt: skip
    _invoke(args)
    for path in out.glob("variant_spectrum.*"):
        path.unlink()
    output = " ".join(_invoke(args).split())  # the terminal wraps lines
    assert f"variant_spectrum.csv is missing; hfc-detect spectrum {out} writes it" in output
    assert not list(out.glob("variant_spectrum.*"))
