"""``hfc-detect compare`` and ``compare()``: the output folder, the table, and bad input."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.evaluation import evaluate, load_annotations, load_predictions
from hfc_detect.evaluation.cocoeval import STAT_NAMES
from hfc_detect.results import compare
from hfc_detect.utils.errors import InputError

runner = CliRunner()


def small_set() -> tuple[dict, dict[str, list[dict]]]:
    """Three images (one without annotations), two categories, three variants."""
    gt = {
        "images": [{"id": 7, "file_name": "b.jpg"}, {"id": 3, "file_name": "a.jpg"},
                   {"id": 9, "file_name": "empty.jpg"}],
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 1, "bbox": [10, 10, 50, 80], "area": 4000,
             "iscrowd": 0},
            {"id": 2, "image_id": 3, "category_id": 2, "bbox": [100, 40, 60, 40], "area": 2400,
             "iscrowd": 0},
            {"id": 3, "image_id": 7, "category_id": 1, "bbox": [0, 0, 30, 30], "area": 900,
             "iscrowd": 0},
            {"id": 4, "image_id": 7, "category_id": 1, "bbox": [200, 0, 300, 300], "area": 9e4,
             "iscrowd": 1},
        ],
    }  # fmt: skip

    def det(image_id, cat, bb, score):
        return {"image_id": image_id, "category_id": cat, "bbox": bb, "score": score}

    preds = {
        "original": [det(3, 1, [10, 10, 50, 80], 0.9), det(3, 2, [100, 40, 60, 40], 0.8),
                     det(7, 1, [1, 0, 30, 30], 0.7), det(9, 2, [5, 5, 5, 5], 0.6)],
        "lfc": [det(3, 1, [12, 10, 50, 80], 0.9), det(3, 2, [150, 40, 60, 40], 0.8),
                det(7, 1, [0, 0, 30, 30], 0.95)],
        "hfc": [det(3, 1, [90, 90, 5, 5], 0.4)],
    }  # fmt: skip
    return gt, preds


@pytest.fixture
def files(tmp_path):
    gt, preds = small_set()
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    paths = {}
    for name, dets in preds.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(dets))
    return gt_path, paths


def run(gt_path, paths: dict, output, *extra: str):
    args = ["compare", "--annotations", str(gt_path), "--output", str(output)]
    for name, path in paths.items():
        args += ["--predictions", f"{name}={path}"]
    return runner.invoke(app, [*args, *extra])


def test_cli_writes_the_folder_and_prints_the_table(files, tmp_path):
    gt_path, paths = files
    out = tmp_path / "out"
    result = run(gt_path, paths, out, "--images", str(tmp_path))
    assert result.exit_code == 0, result.output
    for name in ("original", "lfc", "hfc", "AP50", "ARl", "images AP > original"):
        assert name in result.output
    assert {p.name for p in out.iterdir()} == {
        "per_image.csv", "per_image.jsonl", "per_image.parquet", "summary.json"
    }  # fmt: skip

    with (out / "per_image.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "image_id", "file_name", "num_gt",
        "ap_original", "ap50_original", "ap75_original", "num_dets_original",
        "ap_lfc", "ap50_lfc", "ap75_lfc", "num_dets_lfc", "delta_ap_lfc",
        "ap_hfc", "ap50_hfc", "ap75_hfc", "num_dets_hfc", "delta_ap_hfc",
    ]  # fmt: skip
    assert [r["image_id"] for r in rows] == ["3", "7", "9"]
    assert [r["file_name"] for r in rows] == ["a.jpg", "b.jpg", "empty.jpg"]
    assert [r["num_gt"] for r in rows] == ["2", "1", "0"]
    assert rows[2]["ap_original"] == "" and rows[2]["delta_ap_lfc"] == ""
    assert rows[2]["num_dets_original"] == "1"

    annotations = load_annotations(gt_path)
    evals = {n: evaluate(annotations, load_predictions(p, annotations)) for n, p in paths.items()}
    for i, row in enumerate(rows[:2]):
        for name, ev in evals.items():
            assert float(row[f"ap_{name}"]) == ev.ap[i]
        assert float(row["delta_ap_lfc"]) == evals["lfc"].ap[i] - evals["original"].ap[i]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] == "original"
    assert summary["annotations"] == str(gt_path.resolve())
    assert summary["images_dir"] == str(tmp_path.resolve())
    assert (summary["num_images"], summary["num_images_scored"]) == (3, 2)
    variants = {v["name"]: v for v in summary["variants"]}
    assert list(variants) == ["original", "lfc", "hfc"]
    assert variants["lfc"]["predictions"] == str(paths["lfc"].resolve())
    assert variants["original"]["num_detections"] == 4
    assert list(variants["lfc"]["stats"]) == list(STAT_NAMES)
    np.testing.assert_allclose(
        [variants["lfc"]["stats"][s] for s in STAT_NAMES], evals["lfc"].stats, rtol=0, atol=1e-12
    )
    assert variants["original"]["per_category_ap"]["2"]["name"] == "dog"
    wins = int(np.sum(evals["lfc"].ap > evals["original"].ap))
    assert variants["lfc"]["wins_over_baseline"] == wins
    assert variants["original"]["wins_over_baseline"] == 0

    jsonl = [json.loads(line) for line in (out / "per_image.jsonl").read_text().splitlines()]
    assert jsonl[2]["ap_original"] is None and jsonl[0]["image_id"] == 3
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(out / "per_image.parquet").to_pylist()
    assert table == [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in jsonl
    ]


def test_compare_accepts_in_memory_lists_and_extra_keys(files, tmp_path):
    gt_path, paths = files
    _, preds = small_set()
    summary = compare(
        gt_path, {"original": paths["original"], "lfc": preds["lfc"], "none": []},
        tmp_path / "out", extra={"radius": 8},
    )  # fmt: skip
    variants = {v["name"]: v for v in summary["variants"]}
    assert variants["lfc"]["predictions"] is None
    assert variants["none"]["num_detections"] == 0
    assert variants["none"]["stats"]["AP"] == 0.0
    assert summary["radius"] == 8
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["radius"] == 8
    with pytest.raises(ValueError, match="own keys"):
        compare(gt_path, {"original": paths["original"]}, tmp_path / "o2", extra={"variants": 1})


def test_an_empty_predictions_file_scores_ap_0_on_every_image_with_ground_truth(files, tmp_path):
    """A variant without any detection (a high threshold, a blind detector on HFC images) is a
    result: AP 0 wherever there is ground truth, no AP where there is none."""
    gt_path, paths = files
    empty = tmp_path / "hfc.json"
    empty.write_text("[]\n")
    out = tmp_path / "out"
    result = run(gt_path, {"original": paths["original"], "hfc": empty}, out)
    assert result.exit_code == 0, result.output
    with (out / "per_image.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["num_gt"], r["ap_hfc"], r["num_dets_hfc"]) for r in rows] == [
        ("2", "0.0", "0"), ("1", "0.0", "0"), ("0", "", "0")
    ]  # fmt: skip
    hfc = json.loads((out / "summary.json").read_text())["variants"][1]
    assert hfc["num_detections"] == 0 and hfc["wins_over_baseline"] == 0
    assert hfc["stats"]["AP"] == 0.0 and hfc["stats"]["AR100"] == 0.0


def test_score_and_write_comparison_equal_compare(files, tmp_path):
    from hfc_detect.evaluation import score
    from hfc_detect.results import write_comparison

    gt_path, paths = files
    gt = load_annotations(gt_path)
    comparison = score(gt, paths)
    assert list(comparison.results) == ["original", "lfc", "hfc"]
    assert not (tmp_path / "a").exists()  # scoring writes nothing
    write_comparison(tmp_path / "a", comparison)
    compare(gt_path, paths, tmp_path / "b")
    for name in ("per_image.csv", "per_image.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_ground_truth_subset_equals_loading_the_subset_file(files, tmp_path):
    gt_path, _ = files
    data = json.loads(gt_path.read_text())
    keep = {3, 9}
    data["images"] = [im for im in data["images"] if im["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    (tmp_path / "sub.json").write_text(json.dumps(data))
    expected = load_annotations(tmp_path / "sub.json")
    got = load_annotations(gt_path).subset([9, 3])
    for field in ("image_ids", "category_ids", "ann_ids", "ann_image", "ann_category",
                  "ann_boxes", "ann_areas", "ann_crowd"):  # fmt: skip
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    assert got.file_names == expected.file_names == ["a.jpg", "empty.jpg"]


BAD_PREDICTIONS = {
    "malformed": ('[{"image_id": 3,', "not valid JSON"),
    "not_a_list": ('{"image_id": 3}', "expected a JSON list"),
    "missing_key": ('[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1]}]', "lacks 'score'"),
    "unknown_image": (
        '[{"image_id": 4, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]',
        "image_id 4 that is not in",
    ),
    "unknown_category": (
        '[{"image_id": 3, "category_id": 5, "bbox": [0, 0, 1, 1], "score": 0.5}]',
        "category_id 5 that is not in",
    ),
    "bad_bbox": (
        '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1], "score": 0.5}]',
        "'bbox' must be a list",
    ),
    "negative_size": (
        '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 0.5}]',
        "width and height must be >= 0",
    ),
    "nan_score": (
        '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": NaN}]',
        "'score' must be a finite number",
    ),
}


def assert_clean_failure(result, out, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message
    for needle in needles:
        assert needle in message
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("case", sorted(BAD_PREDICTIONS))
def test_bad_predictions_fail_cleanly(case, files, tmp_path):
    gt_path, paths = files
    content, needle = BAD_PREDICTIONS[case]
    bad = tmp_path / f"{case}.json"
    bad.write_text(content)
    out = tmp_path / "out"
    result = run(gt_path, {"original": paths["original"], "lfc": bad}, out)
    assert_clean_failure(result, out, needle, str(bad))


def test_missing_files_and_bad_arguments_fail_cleanly(files, tmp_path):
    gt_path, paths = files
    out = tmp_path / "out"
    missing = tmp_path / "nope.json"
    assert_clean_failure(run(gt_path, {"lfc": missing}, out), out, "not found", str(missing))
    assert_clean_failure(run(missing, paths, out), out, "not found", str(missing))
    bad_gt = tmp_path / "bad_gt.json"
    bad_gt.write_text('{"images": []}')
    assert_clean_failure(run(bad_gt, paths, out), out, str(bad_gt))
    args = ["compare", "-a", str(gt_path), "-o", str(out)]
    result = runner.invoke(app, [*args, "-p", str(paths["lfc"])])
    assert_clean_failure(result, out, "NAME=PATH")
    result = runner.invoke(app, [*args, "-p", f"a={paths['lfc']}", "-p", f"a={paths['hfc']}"])
    assert_clean_failure(result, out, "given twice")
    result = runner.invoke(app, [*args, "-p", f"a b={paths['lfc']}"])
    assert_clean_failure(result, out, "variant name")
    result = runner.invoke(app, [*args, "-p", f"a={paths['lfc']}", "--images", str(missing)])
    assert_clean_failure(result, out, "images directory not found")


def test_in_memory_errors_name_the_variant(files, tmp_path):
    gt_path, _ = files
    with pytest.raises(
        InputError, match="in-memory predictions 'lfc': detection 1 lacks 'category_id'"
    ):
        compare(gt_path, {"lfc": [{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1],
                                   "score": 1.0}, {"image_id": 3}]}, tmp_path / "o")  # fmt: skip
    assert not (tmp_path / "o").exists()
