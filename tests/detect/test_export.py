"""``hfc-detect export``: table formats round-trip, the HTML report is self-contained."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.reports.export import export
from hfc_detect.reports.wins import find_wins
from hfc_detect.results import load_comparison
from hfc_detect.utils.errors import InputError
from tests.detect.test_wins import make_comparison

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_comparison(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def report(comparison: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    result = CliRunner().invoke(
        app, ["export", str(comparison), "--format", "html", "--top", "3", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _read_back(path: Path, fmt: str) -> list[dict]:
    if fmt == "csv":
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [{k: _cell(k, v) for k, v in r.items()} for r in rows]
    if fmt == "json":
        return json.loads(path.read_text())
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _cell(column: str, value: str):
    if column == "file_name":
        return value
    if value == "":
        return None
    return int(value) if column in ("image_id", "num_gt") or "num_dets" in column else float(value)


def _reference_rows(directory: Path) -> list[dict]:
    """per_image.csv read with the csv module alone, and per_image.jsonl where present."""
    with (directory / "per_image.csv").open(newline="") as fh:
        rows = [{k: _cell(k, v) for k, v in r.items()} for r in csv.DictReader(fh)]
    jsonl = directory / "per_image.jsonl"
    if jsonl.is_file():
        assert [json.loads(line) for line in jsonl.read_text().splitlines()] == rows
    return rows


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_table_formats_round_trip(comparison: Path, tmp_path: Path, fmt: str) -> None:
    reference = _reference_rows(comparison)
    out = tmp_path / f"all.{fmt}"
    result = CliRunner().invoke(
        app, ["export", str(comparison), "--format", fmt, "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    back = _read_back(out, fmt)
    assert back == reference
    assert list(back[0]) == list(reference[0])  # same columns, same order


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_table_top_n_by_gain(comparison: Path, tmp_path: Path, fmt: str) -> None:
    reference = [r for r in _reference_rows(comparison) if r["ap_lfc"] is not None]
    reference.sort(key=lambda r: (-(r["ap_lfc"] - r["ap_original"]), r["image_id"]))
    path = export(comparison, fmt=fmt, top=5, output=tmp_path / f"top.{fmt}").path
    assert _read_back(path, fmt) == reference[:5]


def test_default_output_is_inside_the_folder(comparison: Path) -> None:
    path = export(comparison, fmt="json").path
    assert path == comparison / "report.json" and path.is_file()


def test_html_report_is_self_contained(report: Path, comparison: Path) -> None:
    page = (report / "index.html").read_text()
    assert not re.search(r"https?://", page)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all((report / ref).is_file() for ref in refs)
    for element in ("summary", "stats", "categories", "histogram", "gallery", "legend"):
        assert f'id="{element}"' in page
    assert 'id="demo"' not in page  # only a run on the bundled demo data says it is synthetic
    assert page.count('class="win"') == 3
    assert len(list((report / "images").glob("*.png"))) == 9  # 3 images x 3 panels
    for ref in refs:  # no file outside the report folder is needed
        assert (report / ref).resolve().is_relative_to(report.resolve())
    summary = json.loads((comparison / "summary.json").read_text())
    assert f"{summary['variants'][0]['stats']['AP']:.3f}" in page
    assert "radius 8" in page  # the run's radius, from summary.json
    assert "10000 resamples, seed 0" in page
    assert not list(report.parent.glob(".report.*"))  # no temporary folder left behind


def test_html_ci_matches_bootstrap_api(report: Path, comparison: Path) -> None:
    from hfc_detect.reports.bootstrap import paired_bootstrap_ci

    folder = load_comparison(comparison)
    ci = paired_bootstrap_ci(folder.column("ap_original"), folder.column("ap_lfc"))
    page = (report / "index.html").read_text()
    assert f"[{ci.low:+.4f}, {ci.high:+.4f}]" in page and ci.low < ci.mean < ci.high


def test_html_missing_or_corrupt_image_gets_placeholder(comparison: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(comparison.parent / "data" / "images", images)
    top = export(comparison, fmt="csv", top=2, output=tmp_path / "top.csv").path
    first, second = (r["file_name"] for r in csv.DictReader(top.open()))
    (images / first).unlink()
    (images / second).write_bytes(b"not an image")
    result = export(comparison, fmt="html", top=3, images=images, output=tmp_path / "r")
    assert len(result.warnings) == 2
    assert first in result.warnings[0] and "not found" in result.warnings[0]
    assert second in result.warnings[1] and "cannot decode" in result.warnings[1]
    page = (tmp_path / "r" / "index.html").read_text()
    assert page.count("image missing or unreadable: placeholder") == 2
    assert page.count('class="win"') == 3
    assert len(list((tmp_path / "r" / "images").glob("*.png"))) == 9


def test_html_replaces_an_older_report_only(comparison: Path, tmp_path: Path) -> None:
    target = tmp_path / "r"
    export(comparison, fmt="html", top=1, output=target)
    export(comparison, fmt="html", top=2, output=target)  # an older report is replaced
    assert (target / "index.html").read_text().count('class="win"') == 2
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    result = CliRunner().invoke(
        app, ["export", str(comparison), "--format", "html", "--output", str(other)]
    )
    assert result.exit_code == 2 and "is not an HTML report" in result.output
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "{missing}", "--format", "csv"], "no such comparison folder"),
        (["export", "{empty}", "--format", "html"], "summary.json: missing"),
        (["export", "{cmp}", "--format", "xlsx"], "unknown format 'xlsx'"),
        (["export", "{cmp}", "--format", "html", "--variant", "blur"], "unknown variant"),
        (["export", "{cmp}", "--format", "html", "--radius", "16"], "this run used radius 8"),
        (["export", "{cmp}", "--format", "html", "--images", "{missing}"], "no such images"),
    ],
)
def test_export_bad_input(comparison: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in comparison.iterdir())
    paths = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "cmp": comparison}
    result = CliRunner().invoke(app, [a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert sorted(p.name for p in comparison.iterdir()) == before  # nothing (half-)written
    assert list((tmp_path / "empty").iterdir()) == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "check_report_chromium.py"),
            str(report),
            "--screenshot",
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10 images loaded, none broken" in proc.stdout  # histogram + 3 x 3 panels
    assert "gallery panels shown at >= " in proc.stdout  # labels at their designed size
    assert shot.stat().st_size > 10_000


def test_html_gallery_of_16_bit_images_matches_8_bit_in_clip_mode(tmp_path: Path) -> None:
    """The detector sees 16-bit images rescaled to 0..255 before the split and the pixel mode;
    the gallery must show the same, not clip the 0..65535-scale components at 255."""
    import cv2
    import numpy as np

    cmp = make_comparison(tmp_path, pixel_mode="clip")
    deep = tmp_path / "deep"
    deep.mkdir()
    for png in (tmp_path / "data" / "images").glob("*.png"):
        bgr = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(deep / png.name), bgr.astype(np.uint16) * 257)
    eight = export(cmp, fmt="html", top=2, output=tmp_path / "r8").path
    sixteen = export(cmp, fmt="html", top=2, images=deep, output=tmp_path / "r16").path
    panels = sorted((eight / "images").glob("*.png"))
    assert len(panels) == 6
    for panel in panels:
        a = cv2.imread(str(panel), cv2.IMREAD_UNCHANGED).astype(int)
        b = cv2.imread(str(sixteen / "images" / panel.name), cv2.IMREAD_UNCHANGED).astype(int)
        assert np.abs(a - b).max() <= 1, panel.name


def test_default_variant_of_a_sweep_is_the_lfc_nearest_the_papers_radius(tmp_path):
    from hfc_detect.reports.plan import resolve_radius
    from hfc_detect.results import ComparisonFolder

    names = ["original", "lfc_r4", "hfc_r4", "lfc_r74.3", "hfc_r74.3", "lfc_r320", "hfc_r320"]
    kinds = {n: {"kind": n.split("_")[0], "radius": float(n.split("_r")[1])} for n in names[1:]}
    summary = {
        "baseline": "original",
        "radii": [4.0, 74.3, 320.0],
        "variants": [{"name": n} for n in names],
        "variant_kinds": kinds,
    }
    folder = ComparisonFolder(tmp_path, summary, [], [])
    assert folder.resolve_variant(None) == "lfc_r74.3"
    assert folder.resolve_variant("lfc_r4") == "lfc_r4"
    assert resolve_radius(folder, "lfc_r74.3", None) == (74.3, "summary.json")
    assert resolve_radius(folder, "hfc_r4", None) == (4.0, "summary.json")


def test_html_of_a_keypoints_folder_shows_its_10_stats_and_oks_objects(tmp_path: Path) -> None:
    from hfc_detect.evaluation.params import params_for
    from hfc_detect.results import compare

    def person(ann_id: int, x: float, num: int) -> dict:
        points = [v for k in range(17) for v in (x + k, 10.0 + k, 2 if k < num else 0)]
        return {"id": ann_id, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 400.0,
                "bbox": [x, 10, 17, 17], "keypoints": points, "num_keypoints": num}  # fmt: skip

    gt = {"images": [{"id": 1, "file_name": "1.png", "height": 60, "width": 60}],
          "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}],
          "annotations": [person(1, 5.0, 17), person(2, 30.0, 9)]}  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    # both put person 1's box where it is; only lfc its keypoints too
    for name, shift in (("original", 9.0), ("lfc", 0.0)):
        det = {**person(0, 5.0 + shift, 17), "bbox": [5, 10, 17, 17], "score": 0.9}
        second = {**person(0, 30.0, 17), "score": 0.8}
        (tmp_path / f"{name}.json").write_text(json.dumps([det, second]))
    out = tmp_path / "cmp"
    compare(tmp_path / "gt.json", {n: tmp_path / f"{n}.json" for n in ("original", "lfc")},
            out, iou_type="keypoints")  # fmt: skip
    from pycocotools.cocoeval import Params

    sigmas = load_comparison(out).summary["kpt_oks_sigmas"]
    assert sigmas == {"1": Params(iouType="keypoints").kpt_oks_sigmas.tolist()}
    (win,) = find_wins(out, variant="lfc", score_threshold=0.5).wins
    assert [o["id"] for o in win.gained] == [1] and win.lost == []  # OKS, not box IoU
    export(out, fmt="html", top=1, output=tmp_path / "r")
    page = (tmp_path / "r" / "index.html").read_text()
    header = re.search(r"<tr>(?:(?!</tr>).)*ARl(?:(?!</tr>).)*</tr>", page, re.S)
    assert header is not None
    names = re.findall(r"<th[^>]*>([^<]+)</th>", header.group(0))
    assert names[1:] == list(params_for("keypoints").stat_names)
    assert len(names[1:]) == 10 and "APs" not in names
    assert "COCO statistics (10 COCOeval numbers, keypoints)" in page
    assert "found at OKS &ge; 0.5" in page
    with pytest.raises(InputError, match="holds keypoints results, not segm"):
        export(out, fmt="csv", iou_type="segm", output=tmp_path / "x.csv")


def test_histogram_has_one_panel_per_variant(comparison: Path) -> None:
    """One small panel per compared variant on shared axes, not every variant overlaid in one
    plot (a radius sweep has 8; looked at in Chromium), each counting that variant's images."""
    import numpy as np

    from hfc_detect.reports.figures import histogram_figure
    from hfc_detect.results import load_comparison

    folder = load_comparison(comparison)
    names = [n for n in folder.variant_names if n != folder.baseline]
    fig = histogram_figure(folder)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.patches]
    assert [ax.get_title().split(":")[0] for ax in shown] == names
    base = folder.column(f"ap_{folder.baseline}")
    for ax, name in zip(shown, names, strict=True):
        diff = folder.column(f"ap_{name}") - base
        assert sum(patch.get_height() for patch in ax.patches) == np.isfinite(diff).sum()


def test_the_report_is_planned_then_rendered(comparison: Path, report: Path) -> None:
    """export decides everything in one frozen plan; the page states exactly its choices."""
    import ast
    import dataclasses

    from hfc_detect.reports import html
    from hfc_detect.reports.plan import plan_report

    plan = plan_report(load_comparison(comparison), resamples=200, seed=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.radius = 1.0  # type: ignore[misc]
    assert (plan.variant, plan.radius, plan.radius_source) == ("lfc", 8.0, "summary.json")
    assert plan.panels == {"original": "original", "lfc": "lfc", "hfc": "hfc"}
    page = (report / "index.html").read_text()
    assert f"score &ge; {plan.score_threshold:g}" in page
    assert page.count('class="win"') == 3  # --top 3 of the planned ranking
    # the renderer computes nothing: it imports no FFT, no numpy, no drawing, and of the
    # bootstrap only its result type
    imports = [
        node
        for node in ast.walk(ast.parse(Path(html.__file__).read_text()))
        if isinstance(node, ast.ImportFrom)
    ]
    modules = {node.module for node in imports}
    assert not modules & {"hfc_detect.frequency", "numpy", "hfc_detect.data.images"}
    from_bootstrap = {a.name for n in imports if n.module.endswith("bootstrap") for a in n.names}
    assert from_bootstrap == {"BootstrapCI"}
    assert not any(n.module.endswith("draw") and "draw_objects" in {a.name for a in n.names}
                   for n in imports)  # fmt: skip
