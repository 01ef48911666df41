"""Real data: a COCO-trained YOLOX-Nano (ONNX) on 206 real COCO val2017 images (../shared).

1. The onnx-yolox backend alone, scored by pycocotools on all 206 original images: AP ~0.29.
2. ``run_eval`` at radius 128 (original, LFC, HFC) on the first 60 images by id (a fixed subset
   that keeps this test within about a minute on a busy 2-core CPU): the paper's ordering
   AP original > AP LFC > AP HFC > 0, images where LFC beats the original, per-image numbers
   equal to pycocotools on the run's own predictions, and original predictions identical to
   the backend run directly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.modeling import build_detector

pytestmark = pytest.mark.slow
pytest.importorskip("onnxruntime")
COCO = pytest.importorskip("pycocotools.coco").COCO
COCOeval = pytest.importorskip("pycocotools.cocoeval").COCOeval

SUBSET = "data/coco-val2017-subset"
EVAL_IMAGES = 60
YOLOX_OPTIONS = ["threads=1"]  # onnxruntime without spinning threads: the machine is shared


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def subset(shared_dir):
    root = shared_dir / SUBSET
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / "instances_val2017_subset.json"))
    return root, gt


def quiet_eval(gt, results, image_ids=None) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


@pytest.fixture(scope="module")
def direct_results(subset, shared_dir):
    """The backend on every original image, decoded as the engine decodes (BGR, 0..255)."""
    root, gt = subset
    detector = build_detector(
        "onnx-yolox", weights=str(shared_dir / "models/yolox_nano.onnx"), overrides=YOLOX_OPTIONS
    )
    results = []
    for image in gt.dataset["images"]:
        bgr = read_image(root / "val2017" / image["file_name"])[:, :, ::-1].copy()
        (found,) = detector.detect([torch.from_numpy(bgr).permute(2, 0, 1).float()])
        for (x0, y0, x1, y1), score, category in zip(
            found.boxes, found.scores, found.category_ids, strict=True
        ):
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": int(category),
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "score": float(score),
                }
            )
    return results


def test_yolox_nano_ap_on_original_images(subset, direct_results):
    _, gt = subset
    ap = quiet_eval(gt, direct_results).stats[0]
    print(f"YOLOX-Nano AP on {len(gt.getImgIds())} original images: {ap:.4f}")
    assert 0.2 < ap < 0.4  # ../shared/README.md measured 0.29


@pytest.fixture(scope="module")
def eval_run(subset, shared_dir, tmp_path_factory):
    from hfc_detect.pipeline.run import EvalConfig, run_eval

    root, _ = subset
    output = tmp_path_factory.mktemp("eval") / "run"
    config = EvalConfig(
        radii=(128,),
        output=output,
        annotations=root / "instances_val2017_subset.json",
        images=root / "val2017",
        backend="onnx-yolox",
        weights=str(shared_dir / "models/yolox_nano.onnx"),
        overrides=YOLOX_OPTIONS,
        device="cpu",
        limit=EVAL_IMAGES,
        num_workers=0,
    )
    result = run_eval(config)
    with open(output / "per_image.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return output, result.summary, rows


def test_eval_ap_ordering_and_wins(eval_run):
    _, summary, rows = eval_run
    ap = {v["name"]: v["stats"]["AP"] for v in summary["variants"]}
    wins = [
        r["image_id"] for r in rows if r["ap_lfc"] and float(r["ap_lfc"]) > float(r["ap_original"])
    ]
    print(f"eval r=128 on {len(rows)} images: AP {ap}, LFC wins {len(wins)}")
    assert summary["variants"][1]["spec"] == {"kind": "lfc", "radius": 128.0}
    assert summary["backend"] == "onnx-yolox"
    assert len(rows) == EVAL_IMAGES
    assert ap["original"] > ap["lfc"] > ap["hfc"] > 0
    assert wins
    lfc = next(v for v in summary["variants"] if v["name"] == "lfc")
    assert lfc["wins_over_baseline"] == len(wins)


def test_eval_per_image_numbers_equal_pycocotools(eval_run, subset):
    output, _, rows = eval_run
    _, gt = subset
    scored = [r for r in rows if r["ap_original"] != ""]
    sample = scored[:: max(len(scored) // 8, 1)]
    for variant in ("original", "lfc", "hfc"):
        predictions = json.loads((output / "predictions" / f"{variant}.json").read_text())
        for row in sample:
            image_id = int(row["image_id"])
            mine = [p for p in predictions if p["image_id"] == image_id]
            assert int(row[f"num_dets_{variant}"]) == len(mine)
            # pycocotools cannot load an empty result list; no detections score AP 0
            expected = quiet_eval(gt, mine, [image_id]).stats[:3] if mine else np.zeros(3)
            got = [float(row[f"{metric}_{variant}"]) for metric in ("ap", "ap50", "ap75")]
            np.testing.assert_allclose(got, expected, atol=1e-9, err_msg=f"{variant} {image_id}")


def test_eval_original_predictions_equal_the_backend_run_directly(eval_run, direct_results):
    output, _, rows = eval_run
    ids = {int(r["image_id"]) for r in rows}
    predictions = json.loads((output / "predictions" / "original.json").read_text())
    direct = [p for p in direct_results if p["image_id"] in ids]
    assert len(predictions) == len(direct)
    key = lambda p: (p["image_id"], -p["score"], p["category_id"], *p["bbox"])  # noqa: E731
    for got, expected in zip(sorted(predictions, key=key), sorted(direct, key=key), strict=True):
        assert got["image_id"] == expected["image_id"]
        assert got["category_id"] == expected["category_id"]
        np.testing.assert_allclose(got["bbox"], expected["bbox"], rtol=1e-6, atol=1e-3)
        np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-6)
