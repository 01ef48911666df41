"""``eval --iou-type segm|keypoints``: the run's predictions carry the detector's masks or
keypoints and its per-image AP (original/LFC/HFC) equals pycocotools' COCOeval on those files.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hfc_detect.modeling import build_detector
from hfc_detect.pipeline.run import EvalConfig, run_eval
from hfc_detect.utils.errors import InputError
from tests.detect.test_cocoeval_parity import reference
from tests.detect.test_eval_pipeline import TinyDetector, make_coco

SUBSET = "data/coco-val2017-subset"
IMAGES = (404484, 20992)  # small real val2017 images with persons
SMALL = ["min_size=128", "max_size=192", "box_score_thresh=0.0", "box_detections_per_img=20"]
PSEUDO = 3  # the detector's top detections on each original that join the ground truth


def _ground_truth(shared_dir, tmp_path, detector, iou_type: str) -> tuple[dict, str]:
    """The real annotations of IMAGES plus, so that AP is not 0 everywhere with random weights,
    the detector's own top detections on each original image as objects (persons with
    keypoints of every visibility flag, for keypoints)."""
    from pycocotools import mask as mask_utils

    from hfc_detect.data.images import read_image

    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    images = [img for img in data["images"] if img["id"] in IMAGES]
    anns = [a for a in data["annotations"] if a["image_id"] in IMAGES and a["category_id"] == 1]
    cats = data["categories"]
    if iou_type == "keypoints":
        cats = [{**c, "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}
                for c in cats if c["id"] == 1]  # fmt: skip
        anns = []
    flags = np.random.default_rng(0).integers(0, 3, (len(IMAGES) * PSEUDO, 17))
    for img in images:
        pixels = read_image(shared_dir / SUBSET / "val2017" / img["file_name"])
        if detector.channel_order == "BGR":
            pixels = pixels[:, :, ::-1]
        dets = detector.detect([torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float()])[0]
        for k in np.argsort(-dets.scores)[:PSEUDO]:
            x0, y0, x1, y1 = dets.boxes[k].tolist()
            ann = {"id": 10**6 + len(anns), "image_id": img["id"], "iscrowd": 0,
                   "category_id": int(dets.category_ids[k]), "bbox": [x0, y0, x1 - x0, y1 - y0],
                   "area": (x1 - x0) * (y1 - y0)}  # fmt: skip
            if iou_type == "segm":
                ann["segmentation"] = dets.masks[k]
                ann["area"] = float(mask_utils.area(dets.masks[k]))
            else:
                kp = dets.keypoints[k].copy()
                kp[:, 2] = flags[len(anns)]
                kp[kp[:, 2] == 0, :2] = 0
                ann["keypoints"] = kp.ravel().tolist()
                ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
            anns.append(ann)
    gt = {"images": images, "annotations": anns, "categories": cats}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    return gt, str(path)


def _run(shared_dir, tmp_path, backend: str, iou_type: str):
    torch.manual_seed(0)
    return run_on(shared_dir, tmp_path, build_detector(backend, weights="random", overrides=SMALL),
                  iou_type)  # fmt: skip


def run_on(shared_dir, tmp_path, detector, iou_type: str):
    """``run_eval`` of ``detector`` for ``iou_type`` on IMAGES (radius 16); (gt, result)."""
    gt, path = _ground_truth(shared_dir, tmp_path, detector, iou_type)
    config = EvalConfig(radii=(16,), annotations=path, images=str(shared_dir / SUBSET / "val2017"),
                        iou_type=iou_type, output=str(tmp_path / "out"), num_workers=0)  # fmt: skip
    return gt, run_eval(config, detector)


def assert_equals_pycocotools(gt: dict, result, iou_type: str, field: str) -> None:
    summary = result.summary
    assert summary["iou_type"] == iou_type
    per_image = {
        row["image_id"]: row for row in _csv_rows(result.output / "per_image.csv")
    }  # fmt: skip
    for variant, path in result.predictions.items():
        dets = json.loads(path.read_text())
        assert dets and all(field in d and "bbox" in d for d in dets)
        known = {c["id"] for c in gt["categories"]}
        whole, ref = reference(gt, [d for d in dets if d["category_id"] in known], IMAGES,
                               iou_type=iou_type)  # fmt: skip
        stats = next(v for v in summary["variants"] if v["name"] == variant)["stats"]
        np.testing.assert_allclose(list(stats.values()), whole.stats, rtol=0, atol=1e-9)
        for image_id, (ap, ap50, ap75) in ref.items():
            row = per_image[image_id]
            ours = [row[f"{k}_{variant}"] for k in ("ap", "ap50", "ap75")]
            expected = [None if v < 0 else v for v in (ap, ap50, ap75)]
            for o, e in zip(ours, expected, strict=True):
                assert (o is None) == (e is None) and (e is None or abs(o - e) <= 1e-9)
    assert max(row["ap_original"] for row in per_image.values()) > 0  # not 0 everywhere


def _csv_rows(path):
    import csv

    from hfc_detect.results import _parse_cell

    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: _parse_cell(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.mark.slow
def test_maskrcnn_eval_segm_ap_per_image_equals_pycocotools(shared_dir, tmp_path, one_torch_thread):
    gt, result = _run(shared_dir, tmp_path, "torchvision-maskrcnn", "segm")
    assert set(result.predictions) == {"original", "lfc", "hfc"}
    assert_equals_pycocotools(gt, result, "segm", "segmentation")


@pytest.mark.slow
def test_keypointrcnn_eval_keypoint_ap_equals_pycocotools(shared_dir, tmp_path, one_torch_thread):
    gt, result = _run(shared_dir, tmp_path, "torchvision-keypointrcnn", "keypoints")
    assert_equals_pycocotools(gt, result, "keypoints", "keypoints")
    dets = json.loads(result.predictions["original"].read_text())
    assert all(len(d["keypoints"]) == 51 for d in dets)


def test_a_detector_without_masks_is_refused_for_segm(tmp_path):
    ann, img = make_coco(tmp_path / "data")
    gt = json.loads(ann.read_text())
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    ann.write_text(json.dumps(gt))
    config = EvalConfig(radii=(8,), annotations=str(ann), images=str(img), iou_type="segm",
                        output=str(tmp_path / "out"), num_workers=0)  # fmt: skip
    with pytest.raises(InputError, match="--iou-type segm: the detector returns no masks"):
        run_eval(config, TinyDetector())
    assert not (tmp_path / "out").exists()  # nothing left that would block another run


def test_unknown_iou_type_is_refused():
    with pytest.raises(InputError, match="--iou-type must be one of"):
        EvalConfig(radii=(8,), iou_type="mask")
