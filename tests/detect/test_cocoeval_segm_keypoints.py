"""The AP engine for iouType segm and keypoints against pycocotools' COCOeval, image by image.

Per image: COCOeval(iouType=...) with ``params.imgIds=[image]``; whole set: its stats (12 for
segm, 10 for keypoints) and precision/recall arrays. Generated sets hold the hard cases: for
masks, polygons with several parts, compressed and uncompressed (crowd) RLE, masks touching or
crossing the border, empty masks; for keypoints, every visibility flag, crowd persons, persons
without keypoints, more than 20 detections on an image, a skeleton with its own sigmas.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfc_detect.evaluation import evaluate, load_annotations, load_predictions
from hfc_detect.evaluation.cocoeval import found_ground_truth
from hfc_detect.utils.errors import InputError
from tests.detect.test_cocoeval_parity import FIXTURE, assert_parity, ours, reference

pytest.importorskip("pycocotools")
from pycocotools import mask as mask_utils

SIZES = [(48, 64), (120, 160), (33, 40)]


def compressed(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE (crowd regions): run lengths, column-major, zeros first."""
    flat = mask.astype(np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.r_[0, change, flat.size]
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


def decode(rle: dict) -> np.ndarray:
    return mask_utils.decode(rle).astype(bool)


def shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def segm_set(seed: int, with_box: bool) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    images = [{"id": 7 + 2 * i, "file_name": f"{i}.jpg", "height": h, "width": w}
              for i, (h, w) in enumerate(SIZES * 2)]  # fmt: skip
    cats = [{"id": 1, "name": "a"}, {"id": 4, "name": "b"}, {"id": 9, "name": "c"}]
    anns, dets = [], []

    def ann(image, segm, crowd=0, area=None):
        h, w = image["height"], image["width"]
        rle = (
            mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
            if isinstance(segm, list)
            else mask_utils.frPyObjects(segm, h, w)
            if isinstance(segm["counts"], list)
            else segm
        )
        mask_area = float(mask_utils.area(rle))
        box = [float(v) for v in mask_utils.toBbox(rle)]
        anns.append({"id": len(anns) + 1, "image_id": image["id"],
                     "category_id": int(rng.choice([1, 4, 9])), "segmentation": segm,
                     "area": mask_area if area is None else area, "bbox": box,
                     "iscrowd": crowd})  # fmt: skip
        return decode(rle)

    def det(image, mask, cat, score):
        d = {
            "image_id": image["id"],
            "category_id": cat,
            "segmentation": compressed(mask),
            "score": score,
        }
        if with_box:  # loadRes then takes w * h of this box as the area
            box = mask_utils.toBbox(compressed(mask)).tolist()
            d["bbox"] = [box[0], box[1], box[2] + 1.0, box[3] * float(rng.uniform(0.5, 2))]
        dets.append(d)

    for image in images:
        h, w = image["height"], image["width"]
        masks = []
        for _ in range(int(rng.integers(1, 5))):
            kind = rng.integers(0, 6)
            x, y = rng.uniform(-8, w), rng.uniform(-8, h)
            bw, bh = rng.uniform(3, w / 1.5), rng.uniform(3, h / 1.5)
            square = [x, y, x + bw, y, x + bw, y + bh, x, y + bh]
            if kind == 0:  # several parts, one crossing the border
                tri = [w - 5.0, 2.0, w + 10.0, h / 2, w - 12.0, h + 4.0]
                masks.append((ann(image, [square, tri]), 0))
            elif kind == 1:  # compressed RLE
                masks.append((ann(image, compressed(decode(
                    mask_utils.frPyObjects([square], h, w)[0]))), 0))  # fmt: skip
            elif kind == 2:  # crowd region, uncompressed RLE
                blob = np.zeros((h, w), bool)
                blob[int(h / 4) : int(h * 3 / 4), : int(w / 2)] = True
                masks.append((ann(image, uncompressed(blob), crowd=1), 1))
            elif kind == 3:  # empty mask (a degenerate polygon)
                masks.append((ann(image, [[5.0, 5.0, 5.0, 5.0, 5.0, 5.0]]), 0))
            elif kind == 4:  # area field unlike the mask's
                masks.append((ann(image, [square], area=float(rng.choice([500, 1024, 9216]))), 0))
            else:  # touching all borders
                masks.append((ann(image, [[0.0, 0.0, w, 0.0, w, h, 0.0, h]]), 0))
        for (mask, _), a in zip(masks, anns[-len(masks) :], strict=True):
            for _ in range(int(rng.integers(0, 4))):
                moved = shifted(mask, int(rng.integers(-3, 4)), int(rng.integers(-3, 4)))
                score = float(rng.choice([0.5, 0.9, rng.random()]))
                cat = a["category_id"] if rng.random() < 0.85 else int(rng.choice([1, 4, 9]))
                det(image, moved, cat, score)
        for _ in range(int(rng.integers(0, 5))):
            junk = np.zeros((h, w), bool)
            if rng.random() < 0.7:
                y0, x0 = rng.integers(0, h), rng.integers(0, w)
                junk[y0 : y0 + int(rng.integers(1, h)), x0 : x0 + int(rng.integers(1, w))] = True
            det(image, junk, int(rng.choice([1, 4, 9])), float(rng.choice([0.5, rng.random()])))
    order = rng.permutation(len(dets))
    return {"images": images, "categories": cats, "annotations": anns}, [dets[i] for i in order]


@pytest.mark.slow
def test_segm_fixture_counterpart_matches_pycocotools(shared_dir, tmp_path):
    """The classic val2014 fixture (polygons and crowd RLE) with its fake boxes as masks."""
    gt_path = shared_dir / FIXTURE / "instances_val2014_100.json"
    gt = json.loads(gt_path.read_text())
    boxes = json.loads(
        (shared_dir / FIXTURE / "instances_val2014_fakebbox100_results.json").read_text()
    )
    size = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    dets = []
    for d in boxes:
        x, y, w, h = d["bbox"]
        ellipse = [[x + w / 2 + w / 2 * np.cos(a), y + h / 2 + h / 2 * np.sin(a)]
                   for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]  # fmt: skip
        rle = mask_utils.frPyObjects([np.ravel(ellipse).tolist()], *size[d["image_id"]])[0]
        dets.append({"image_id": d["image_id"], "category_id": d["category_id"],
                     "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                     "score": d["score"]})  # fmt: skip
    annotations = load_annotations(gt_path, "segm")
    assert annotations.ann_crowd.any()  # the fixture holds crowd regions as uncompressed RLE
    ev = evaluate(annotations, load_predictions(dets, annotations), "segm")
    whole, per_image = reference(gt, dets, iou_type="segm")
    assert len(per_image) == 100
    assert_parity(ev, whole, per_image)


KP_NAMES = [f"k{i}" for i in range(17)]


def keypoint_set(seed: int, with_box: bool, k: int = 17) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    images = [{"id": 3 + i, "file_name": f"{i}.jpg", "height": 480, "width": 640}
              for i in range(5)]  # fmt: skip
    cats = [{"id": 1, "name": "person", "keypoints": KP_NAMES[:k]}, {"id": 2, "name": "dog"}]
    anns, dets = [], []
    for image in images:
        n_gt = int(rng.integers(0, 6))
        for _ in range(n_gt):
            side = float(np.exp(rng.uniform(np.log(10), np.log(300))))
            x, y = rng.uniform(0, 400), rng.uniform(0, 300)
            w, h = side * rng.uniform(0.5, 1.0), side
            v = rng.choice([0, 1, 2], size=k, p=[0.3, 0.3, 0.4])
            if rng.random() < 0.2:
                v[:] = 0  # a person without keypoints
            px = np.where(v > 0, x + rng.uniform(0, w, k), 0.0)
            py = np.where(v > 0, y + rng.uniform(0, h, k), 0.0)
            points = np.stack([np.round(px, 1), np.round(py, 1), v], 1)
            crowd = int(rng.random() < 0.15)
            anns.append({"id": len(anns) + 1, "image_id": image["id"], "category_id": 1,
                         "bbox": [x, y, w, h], "area": float(w * h * rng.uniform(0.4, 0.9)),
                         "iscrowd": crowd, "keypoints": points.ravel().tolist(),
                         "num_keypoints": int((v > 0).sum())})  # fmt: skip
            for _ in range(int(rng.integers(0, 4))):
                noise = rng.normal(size=(k, 2)) * side * rng.choice([0.02, 0.08, 0.3])
                base = np.where(v[:, None] > 0, points[:, :2], [x + w / 2, y + h / 2])
                dets.append(_kp_det(image, base + noise, float(rng.choice([0.7, rng.random()])),
                                    with_box, rng, k))  # fmt: skip
        many = 25 if image["id"] == 4 else int(rng.integers(0, 4))  # > maxDets 20
        for _ in range(many):
            centre = rng.uniform(0, 500, 2)
            pts = centre + rng.normal(size=(k, 2)) * 30
            dets.append(_kp_det(image, pts, float(rng.choice([0.3, rng.random()])), with_box,
                                rng, k))  # fmt: skip
    order = rng.permutation(len(dets))
    return {"images": images, "categories": cats, "annotations": anns}, [dets[i] for i in order]


def _kp_det(image, points, score, with_box, rng, k) -> dict:
    pts = np.concatenate([np.round(points, 2), np.ones((k, 1))], 1)
    d = {"image_id": image["id"], "category_id": 1, "keypoints": pts.ravel().tolist(),
         "score": score}  # fmt: skip
    if with_box:
        lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
        d["bbox"] = [*lo.tolist(), *((hi - lo) * rng.uniform(0.8, 1.5)).tolist()]
    return d


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("with_box", [False, True])
@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_generated_sets_match_pycocotools(iou_type, seed, with_box, tmp_path):
    """12 stats, 4 area ranges, 3 maxDets for segm; 10, 3 and 1 for keypoints."""
    gt, dets = (segm_set if iou_type == "segm" else keypoint_set)(seed, with_box)
    ev = ours(gt, dets, tmp_path, iou_type)
    whole, per_image = reference(gt, dets, iou_type=iou_type)
    want = (12, 4, 3) if iou_type == "segm" else (10, 3, 1)
    assert (len(ev.stats), *ev.precision.shape[3:]) == want
    assert_parity(ev, whole, per_image)


def test_keypoints_with_own_sigmas(tmp_path):
    """A 5-keypoint skeleton: sigmas from the category's field, or from the option."""
    sigmas = [0.3, 0.5, 0.7, 0.9, 1.1]
    gt, dets = keypoint_set(5, False, k=5)
    whole, per_image = reference(gt, dets, iou_type="keypoints", sigmas=sigmas)
    assert_parity(ours(gt, dets, tmp_path, "keypoints", kpt_oks_sigmas=sigmas), whole, per_image)
    assert_parity(ours(gt, dets, tmp_path, "keypoints", kpt_oks_sigmas={1: sigmas}), whole,
                  per_image)  # fmt: skip
    gt["categories"][0]["kpt_oks_sigmas"] = sigmas
    assert_parity(ours(gt, dets, tmp_path, "keypoints"), whole, per_image)
    del gt["categories"][0]["kpt_oks_sigmas"]
    with pytest.raises(InputError, match="has 5 keypoints"):
        ours(gt, dets, tmp_path, "keypoints")


@st.composite
def keypoint_sets(draw):
    seed = draw(st.integers(0, 2**16))
    gt, dets = keypoint_set(seed, draw(st.booleans()))
    return gt, dets


@pytest.mark.slow
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=keypoint_sets(), segm_seed=st.integers(0, 2**16))
def test_random_segm_and_keypoint_sets_match_pycocotools(data, segm_seed, tmp_path):
    gt, dets = data
    assert_parity(ours(gt, dets, tmp_path, "keypoints"),
                  *reference(gt, dets, iou_type="keypoints"))  # fmt: skip
    gt, dets = segm_set(segm_seed, segm_seed % 2 == 0)
    assert_parity(ours(gt, dets, tmp_path, "segm"), *reference(gt, dets, iou_type="segm"))


def cocoeval_found(gt: dict, dets: list[dict], iou_type: str) -> set[int]:
    """Ids of the non-ignored ground truth COCOeval matches at IoU 0.5, area all."""
    whole, _ = reference(gt, dets, image_ids=[], iou_type=iou_type)
    found = set()
    for e in whole.evalImgs:
        if e is not None and e["aRng"] == whole.params.areaRng[0]:
            hit = (e["gtMatches"][0] > 0) & ~np.asarray(e["gtIgnore"], bool)
            found |= {g for g, h in zip(e["gtIds"], hit, strict=True) if h}
    return found


@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
@pytest.mark.parametrize("score_threshold", [0.0, 0.5])
def test_found_ground_truth_equals_cocoeval_matches(iou_type, score_threshold, tmp_path):
    """Gained/lost objects come from the engine's own matches, with mask IoU or OKS."""
    for seed in range(3):
        gt, dets = segm_set(seed, False) if iou_type == "segm" else keypoint_set(seed, False)
        path = tmp_path / "gt.json"
        path.write_text(json.dumps(gt))
        annotations = load_annotations(path, iou_type)
        preds = load_predictions(dets, annotations)
        got = found_ground_truth(annotations, preds, iou_type, score_threshold=score_threshold)
        kept = [d for d in dets if d["score"] >= score_threshold]
        assert got.any()
        assert set(annotations.ann_ids[got].tolist()) == cocoeval_found(gt, kept, iou_type)


@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_compare_cli_iou_type(iou_type, tmp_path):
    """``hfc-detect compare --iou-type``: the per-image table and the stats of that iouType."""
    from typer.testing import CliRunner

    from hfc_detect.cli.app import app

    gt, dets = segm_set(0, True) if iou_type == "segm" else keypoint_set(0, True)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "p.json").write_text(json.dumps(dets))
    args = ["compare", "-a", str(tmp_path / "gt.json"), "-p", f"orig={tmp_path / 'p.json'}",
            "-o", str(tmp_path / "out"), "--iou-type", iou_type]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"COCO {iou_type} evaluation" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    whole, per_image = reference(gt, dets, iou_type=iou_type)
    assert summary["iou_type"] == iou_type
    np.testing.assert_allclose(list(summary["variants"][0]["stats"].values()), whole.stats,
                               rtol=0, atol=1e-9)  # fmt: skip
    rows = (tmp_path / "out" / "per_image.jsonl").read_text().splitlines()
    for row in map(json.loads, rows):
        want = per_image[row["image_id"]][0]
        assert (row["ap_orig"] is None) == (want == -1)
        if want != -1:
            assert abs(row["ap_orig"] - want) <= 1e-9
    bad = CliRunner().invoke(app, [*args[:-1], "masks"])
    assert bad.exit_code == 2 and "error: --iou-type must be one of" in bad.output


def test_bad_masks_and_keypoints_are_named(tmp_path):
    gt, dets = segm_set(1, False)
    gt["annotations"][2]["segmentation"] = {"counts": 5}
    with pytest.raises(InputError, match=r"annotation id 3: 'segmentation' must be polygons"):
        ours(gt, dets, tmp_path, "segm")
    gt, dets = keypoint_set(1, False)
    dets[4]["keypoints"] = dets[4]["keypoints"][:-3]
    with pytest.raises(InputError, match=r"detection 4: 'keypoints' must be a list of 51"):
        ours(gt, dets, tmp_path, "keypoints")


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_columnar_reading_equals_the_general_reader(iou_type, tmp_path, monkeypatch):
    """Files read through msgspec's columns score exactly as files read record by record."""
    from hfc_detect.evaluation import columnar

    gt, dets = segm_set(2, True)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "p.json").write_text(json.dumps(dets))

    def run():
        annotations = load_annotations(tmp_path / "gt.json", iou_type)
        return annotations, evaluate(
            annotations, load_predictions(tmp_path / "p.json", annotations), iou_type
        )

    assert columnar.gt_columns((tmp_path / "gt.json").read_bytes(), iou_type == "segm")
    read = columnar.detection_columns if iou_type == "bbox" else columnar.segm_detection_columns
    assert read((tmp_path / "p.json").read_bytes())  # the fast path is taken
    fast_gt, fast = run()
    monkeypatch.setattr(columnar, "msgspec", None)
    slow_gt, slow = run()
    for field in ("ann_ids", "ann_boxes", "ann_areas", "ann_crowd", "image_sizes"):
        np.testing.assert_array_equal(getattr(fast_gt, field), getattr(slow_gt, field))
    for field in ("ap", "ap50", "ap75", "stats", "precision", "recall"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))


@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_evaluate_follows_the_ground_truths_iou_type(iou_type, tmp_path):
    """``evaluate(gt, preds)`` scores what the ground truth was loaded for (here masks or OKS,
    as pycocotools does), and an ``iou_type`` that contradicts it is refused, not obeyed."""
    gt, dets = (segm_set if iou_type == "segm" else keypoint_set)(0, True)
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dets))
    annotations = load_annotations(gt_path, iou_type)
    preds = load_predictions(dt_path, annotations)
    whole, _ = reference(gt, dets, iou_type=iou_type)
    np.testing.assert_allclose(evaluate(annotations, preds).stats, whole.stats, atol=1e-9)
    with pytest.raises(InputError, match=f"loaded for '{iou_type}'"):
        evaluate(annotations, preds, "bbox")
