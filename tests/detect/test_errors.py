"""``hfc-detect errors``: TIDE's errors per variant equal tidecv's own run on the same files.

The reference is tidecv (TIDE's authors' package) used as its README runs it
(``datasets.COCO`` and ``datasets.COCOResult`` read the files, ``TIDE().evaluate``,
``get_all_errors``); ours is :mod:`hfc_detect.analysis.tide` on the toolkit's loaders. Checked
on seeded synthetic sets built to hit TIDE's corner cases (tied scores within and across
images, images listed out of id order, crowd regions, more than 100 detections on an image,
images without detections or without objects, a category without objects), on the COCO API
fixture (two variants) and on a YOLOX-Nano eval of real images (original, LFC, HFC), with the
per-image counts behind ``wins`` and the report section. Skipped without tidecv (``pip install
tidecv``; it pulls opencv-python, so a virtual environment is safer) or without ../shared.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.analysis.errors import MAIN_ERRORS, SPECIAL_ERRORS
from hfc_detect.cli.app import app

tidecv = pytest.importorskip("tidecv")

FIXTURE = "data/coco-eval-fixture"
SUBSET = "data/coco-val2017-subset"
REPO = Path(__file__).resolve().parents[2]
YOLOX_IMAGES = 12  # the first images by id: enough errors of every kind, a short eval
runner = CliRunner()


def _invoke(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def reference(annotations: Path, predictions: Path) -> tuple[dict, Counter]:
    """tidecv on the files: errors (main and special, by short name), AP50, and the count of
    each main error per (image id, type)."""
    tide = tidecv.TIDE()
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(
            tidecv.datasets.COCO(str(annotations)),
            tidecv.datasets.COCOResult(str(predictions)),
            mode=tidecv.TIDE.BOX,
        )
        errors = tide.get_all_errors()
    (name,) = errors["main"]
    numbers = {**errors["main"][name], **errors["special"][name], "AP50": run.ap}
    per_image = Counter(
        ((e.pred if hasattr(e, "pred") else e.gt)["image"], e.short_name) for e in run.errors
    )
    return numbers, per_image


def check_folder(folder: Path, annotations: Path) -> dict[str, Counter]:
    """errors.csv and errors_per_image.csv of ``folder`` equal tidecv per variant; returns
    the reference per-image counts by variant."""
    summary = json.loads((folder / "summary.json").read_text())
    with (folder / "errors.csv").open() as f:
        rows = {r["variant"]: r for r in csv.DictReader(f)}
    with (folder / "errors_per_image.csv").open() as f:
        ours_per_image = list(csv.DictReader(f))
    counts = {}
    assert list(rows) == [v["name"] for v in summary["variants"]]
    for entry in summary["variants"]:
        name = entry["name"]
        numbers, per_image = reference(annotations, Path(entry["predictions"]))
        for key in ("AP50", *MAIN_ERRORS, *SPECIAL_ERRORS):
            assert float(rows[name][key]) == pytest.approx(numbers[key], abs=1e-6), (name, key)
        for kind in MAIN_ERRORS:
            total = sum(n for (_, k), n in per_image.items() if k == kind)
            assert int(rows[name][f"n_{kind}"]) == total
        ours = Counter()
        for r in ours_per_image:
            if r["variant"] == name:
                ours.update({(int(r["image_id"]), k): int(r[k]) for k in MAIN_ERRORS})
        assert +ours == +per_image, name
        counts[name] = per_image
    return counts


def synthetic_set(root: Path, seed: int) -> tuple[Path, Path]:
    """A small COCO set and detections that exercise TIDE's corner cases (see the module)."""
    rng = np.random.default_rng(seed)
    images, anns, dets, objects = [], [], [], {}
    for k, image in enumerate(rng.permutation(np.arange(1, 31)).tolist()):
        images.append({"id": image, "file_name": f"{image}.jpg", "width": 200, "height": 150})
        objects[image] = []
        for _ in range(0 if k % 13 == 5 else int(rng.integers(1, 7))):
            box = [*rng.uniform(0, 120, 2).tolist(), *rng.uniform(5, 50, 2).tolist()]
            cat = int(rng.choice([1, 2, 3, 5]))  # 7: detections only
            crowd = int(rng.random() < 0.12)
            x, y, w, h = box  # tidecv's loader reads a segmentation even in box mode
            polygon = [[x, y, x + w, y, x + w, y + h, x, y + h]]
            anns.append({"id": len(anns) + 1, "image_id": image, "category_id": cat, "bbox": box,
                         "area": w * h, "iscrowd": crowd, "segmentation": polygon})  # fmt: skip
            objects[image].append((box, cat))
        for _ in range(130 if k == 3 else 0 if k % 11 == 4 else int(rng.integers(0, 12))):
            if objects[image] and rng.random() < 0.7:
                (x, y, w, h), cat = objects[image][int(rng.integers(len(objects[image])))]
                spread = rng.choice([0.02, 0.1, 0.3, 0.45])
                box = [x + rng.normal(0, spread * w), y + rng.normal(0, spread * h), w, h]
                cat = int(rng.choice([1, 2, 3, 5, 7])) if rng.random() < 0.25 else cat
            else:
                box = [*rng.uniform(0, 120, 2).tolist(), *rng.uniform(5, 50, 2).tolist()]
                cat = int(rng.choice([1, 2, 3, 5, 7]))
            score = float(np.round(rng.random(), 1))  # ties everywhere
            dets.append({"image_id": image, "category_id": cat, "bbox": box, "score": score})
    categories = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 5, 7)]
    gt_path, dt_path = root / f"gt{seed}.json", root / f"dt{seed}.json"
    gt_path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": categories})
    )
    dt_path.write_text(json.dumps([dets[i] for i in rng.permutation(len(dets))]))
    return gt_path, dt_path


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_corner_cases_equal_tidecv(tmp_path, seed) -> None:
    annotations, detections = synthetic_set(tmp_path, seed)
    out = tmp_path / "cmp"
    name = "detections_of_a_long_name"  # wider than the table's names used to be
    _invoke(["compare", "--annotations", annotations, "--predictions", f"{name}={detections}",
             "--output", out])  # fmt: skip
    table = _invoke(["errors", out]).splitlines()[:2]  # the header and the variant's row
    assert table[1].startswith(name) and len(table[0]) == len(table[1]), table
    check_folder(out, annotations)


def test_a_variant_kind_of_a_later_release_is_still_scored(tmp_path) -> None:
    """errors reads a variant's spec only for its colour: a kind this version does not know
    (a folder of a later release) is drawn in another colour, not refused."""
    annotations, detections = synthetic_set(tmp_path, 0)
    out = tmp_path / "cmp"
    _invoke(["compare", "--annotations", annotations, "--predictions", f"a={detections}",
             "--predictions", f"b={detections}", "--output", out])  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    summary["variants"][1]["spec"] = {"kind": "a_future_kind", "radius": None}
    (out / "summary.json").write_text(json.dumps(summary))
    _invoke(["errors", out])
    check_folder(out, annotations)


@pytest.fixture(scope="module")
def fixture_run(shared_dir, tmp_path_factory) -> tuple[Path, Path]:
    """compare on the COCO API fixture: its fake results, and the same with every box shifted
    by 20% of its width (more localisation errors), then ``errors``."""
    root = shared_dir / FIXTURE
    annotations = root / "instances_val2014_100.json"
    fake = root / "instances_val2014_fakebbox100_results.json"
    tmp = tmp_path_factory.mktemp("errors_fixture")
    shifted = json.loads(fake.read_text())
    for det in shifted:
        det["bbox"][0] += 0.2 * det["bbox"][2]
    (tmp / "shifted.json").write_text(json.dumps(shifted))
    out = tmp / "cmp"
    _invoke(["compare", "--annotations", annotations, "--predictions", f"fake={fake}",
             "--predictions", f"shifted={tmp / 'shifted.json'}", "--output", out])  # fmt: skip
    _invoke(["errors", out])
    return out, annotations


def test_fixture_errors_equal_tidecv(fixture_run) -> None:
    folder, annotations = fixture_run
    check_folder(folder, annotations)
    png = (folder / "errors.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_a_variant_without_detections_misses_every_object(fixture_run, tmp_path) -> None:
    _, annotations = fixture_run
    (tmp_path / "none.json").write_text("[]")
    out = tmp_path / "cmp"
    _invoke(["compare", "--annotations", annotations, "--predictions",
             f"none={tmp_path / 'none.json'}", "--output", out])  # fmt: skip
    _invoke(["errors", out])
    with (out / "errors.csv").open() as f:
        (row,) = csv.DictReader(f)
    data = json.loads(annotations.read_text())
    assert int(row["n_Miss"]) == sum(not a["iscrowd"] for a in data["annotations"])
    assert all(float(row[k]) == 0.0 for k in ("AP50", *MAIN_ERRORS, *SPECIAL_ERRORS))


def test_wins_says_how_the_error_counts_changed(fixture_run) -> None:
    folder, annotations = fixture_run
    counts = check_folder(folder, annotations)
    _invoke(["wins", folder, "--variant", "shifted", "--min-delta", "-1"])
    payload = json.loads((folder / "wins_shifted.json").read_text())
    assert payload["wins"]
    changed = 0
    for win in payload["wins"]:
        image = win["image_id"]
        expected = {
            k: counts["shifted"][(image, k)] - counts["fake"][(image, k)] for k in MAIN_ERRORS
        }
        assert win["error_change"] == {k: d for k, d in expected.items() if d}
        changed += bool(win["error_change"])
    assert changed > 0


def test_report_section_shows_errors_csv(fixture_run, tmp_path) -> None:
    folder, _ = fixture_run
    _invoke(["export", folder, "--format", "html", "--top", "1", "--output", tmp_path / "r"])
    page = (tmp_path / "r" / "index.html").read_text()
    assert 'id="where-the-ap-goes"' in page and 'src="errors.png"' in page
    assert (tmp_path / "r" / "errors.png").is_file()
    with (folder / "errors.csv").open() as f:
        for row in csv.DictReader(f):
            assert f"<td>{float(row['Cls']):.2f}</td>" in page


def test_unreadable_errors_csv_warns_and_leaves_the_section_out(fixture_run, tmp_path) -> None:
    folder, _ = fixture_run
    copy = tmp_path / "cmp"
    copy.mkdir()
    for name in ("summary.json", "per_image.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    (copy / "errors.csv").write_text("variant,AP50\nfake,not-a-number\n")
    output = _invoke(["export", copy, "--format", "html", "--top", "1"])
    page = (copy / "report" / "index.html").read_text()
    assert "where-the-ap-goes" not in page and "errors.csv: unreadable" in page
    assert "errors.csv: unreadable" in " ".join(output.split())


def test_bad_folders_exit_2_with_one_line(fixture_run, tmp_path) -> None:
    folder, _ = fixture_run
    result = runner.invoke(app, ["errors", str(tmp_path / "missing")])
    assert result.exit_code == 2 and result.output.count("error:") == 1
    copy = tmp_path / "cmp"
    copy.mkdir()
    summary = json.loads((folder / "summary.json").read_text())
    summary["variants"][1]["predictions"] = str(tmp_path / "gone.json")
    (copy / "summary.json").write_text(json.dumps(summary))
    (copy / "per_image.csv").write_bytes((folder / "per_image.csv").read_bytes())
    result = runner.invoke(app, ["errors", str(copy)])
    assert result.exit_code == 2, result.output
    assert "no predictions file for variant 'shifted'" in " ".join(result.output.split())
    assert not (copy / "errors.csv").exists()


@pytest.mark.slow
def test_yolox_eval_errors_equal_tidecv(shared_dir, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    root = shared_dir / SUBSET
    out = tmp_path / "run"
    _invoke(["eval", "--backend", "onnx-yolox", "--weights", shared_dir / "models/yolox_nano.onnx",
             "--annotations", root / "instances_val2017_subset.json", "--images", root / "val2017",
             "--radius", "128", "--limit", YOLOX_IMAGES, "--set", "threads=1", "--threads", "1",
             "--num-workers", "0", "--no-progress", "--output", out])  # fmt: skip
    _invoke(["errors", out])
    summary = json.loads((out / "summary.json").read_text())
    counts = check_folder(out, Path(summary["annotations"]))
    assert set(counts) == {"original", "lfc", "hfc"}
    assert all(sum(c.values()) > 0 for c in counts.values())


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_errors_section_renders_in_headless_chromium(fixture_run, tmp_path) -> None:
    folder, _ = fixture_run
    report = tmp_path / "report"
    _invoke(["export", folder, "--format", "html", "--top", "1", "--output", report])
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_report_chromium.py"), str(report),
         "--screenshot", str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "where the AP goes section rendered: errors, errors-table" in proc.stdout
