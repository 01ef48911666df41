"""The vectorised AP engine against pycocotools' COCOeval (bbox), the reference it must equal.

Per image: COCOeval with ``params.imgIds=[image]``; whole set: COCOeval's 12 stats and its
precision/recall arrays. Checked on the classic val2014 fixture, on hand-built sets with the
hard cases, and on Hypothesis-generated sets.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfc_detect.evaluation import evaluate, load_annotations, load_predictions
from hfc_detect.evaluation.overlaps import box_iou

pycocotools = pytest.importorskip("pycocotools")
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

FIXTURE = "data/coco-eval-fixture"
TOL = 1e-9


def reference(gt: dict, dets: list[dict], image_ids=None, iou_type="bbox", sigmas=None):
    """pycocotools: whole-set COCOeval and per-image (AP, AP50, AP75) (-1 where undefined)."""

    def cocoeval(coco_gt, coco_dt):
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        return ev

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        whole = cocoeval(coco_gt, coco_dt)
        whole.evaluate()
        whole.accumulate()
        whole.summarize()
        per_image = {}
        for image_id in image_ids if image_ids is not None else sorted(coco_gt.getImgIds()):
            ev = cocoeval(coco_gt, coco_dt)
            ev.params.imgIds = [image_id]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            per_image[image_id] = ev.stats[:3].copy()
    return whole, per_image


def ours(gt: dict, dets: list[dict], tmp_path, iou_type="bbox", **kw):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    annotations = load_annotations(path, iou_type, **kw)
    return evaluate(annotations, load_predictions(dets, annotations), iou_type)


def assert_parity(ev, whole, per_image) -> None:
    np.testing.assert_allclose(ev.stats, whole.stats, rtol=0, atol=TOL)
    np.testing.assert_allclose(ev.precision, whole.eval["precision"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ev.recall, whole.eval["recall"], rtol=0, atol=TOL)
    for image_id, want in per_image.items():
        i = int(np.searchsorted(ev.image_ids, image_id))
        got = np.array([ev.ap[i], ev.ap50[i], ev.ap75[i]])
        assert np.array_equal(np.isnan(got), want == -1), (image_id, got, want)
        np.testing.assert_allclose(got[~np.isnan(got)], want[want != -1], rtol=0, atol=TOL)


def test_val2014_fixture_matches_pycocotools(shared_dir, tmp_path):
    gt_path = shared_dir / FIXTURE / "instances_val2014_100.json"
    dets = json.loads(
        (shared_dir / FIXTURE / "instances_val2014_fakebbox100_results.json").read_text()
    )
    gt = json.loads(gt_path.read_text())
    annotations = load_annotations(gt_path)
    ev = evaluate(annotations, load_predictions(dets, annotations))
    whole, per_image = reference(gt, dets)
    assert round(float(ev.stats[0]), 3) == 0.505
    assert len(per_image) == 100
    assert_parity(ev, whole, per_image)
    per_cat = ev.per_category_ap()
    for k in range(len(ev.category_ids)):
        s = whole.eval["precision"][:, :, k, 0, -1]
        want = np.mean(s[s > -1]) if (s > -1).any() else np.nan
        np.testing.assert_allclose(per_cat[k], want, rtol=0, atol=TOL)


def box(x, y, w, h):
    return [float(x), float(y), float(w), float(h)]


def hard_case_set(seed: int) -> tuple[dict, list[dict]]:
    """Every case COCOeval treats specially, plus random clutter."""
    rng = np.random.default_rng(seed)
    cats = [{"id": 3, "name": "car"}, {"id": 7, "name": "train"}, {"id": 11, "name": "x"}]
    images = [{"id": i, "file_name": f"{i}.jpg"} for i in (5, 1, 9, 2, 8, 4, 6)]
    anns, dets = [], []

    def ann(image_id, cat, bb, area=None, crowd=0):
        area = bb[2] * bb[3] if area is None else area
        anns.append({"id": len(anns), "image_id": image_id, "category_id": cat, "bbox": bb,
                     "area": area, "iscrowd": crowd})  # fmt: skip

    def det(image_id, cat, bb, score):
        dets.append({"image_id": image_id, "category_id": cat, "bbox": bb, "score": score})

    # Image 5: the gt with id 0; identical gts (IoU ties go to the later one); duplicates.
    ann(5, 3, box(10, 10, 50, 40))
    ann(5, 3, box(100, 100, 30, 30))
    ann(5, 3, box(100, 100, 30, 30))
    det(5, 3, box(11, 10, 50, 40), 0.9)
    for _ in range(3):
        det(5, 3, box(100, 101, 30, 30), 0.8)  # duplicates with tied scores
    # Image 5, category 7: equal IoU with two gts; taking the later one lets the next
    # detection match the earlier one at every threshold.
    ann(5, 7, box(0, 200, 10, 10))
    ann(5, 7, box(2, 200, 10, 10))
    det(5, 7, box(1, 200, 10, 10), 0.9)
    det(5, 7, box(0, 200, 10, 10), 0.8)
    # Image 1: no annotations at all, only detections.
    det(1, 3, box(0, 0, 20, 20), 0.7)
    # Image 9: crowd only; many detections inside the crowd region.
    ann(9, 7, box(0, 0, 200, 200), crowd=1)
    for j in range(4):
        det(9, 7, box(10 * j, 10, 30, 30), 0.5)
    # Image 2: a crowd next to a regular object; detections of a category absent here.
    ann(2, 7, box(0, 0, 300, 300), crowd=1)
    ann(2, 7, box(20, 20, 60, 60))
    det(2, 7, box(21, 20, 60, 60), 0.6)
    det(2, 7, box(150, 150, 40, 40), 0.95)
    det(2, 11, box(20, 20, 60, 60), 0.99)
    # Image 8: 130 detections of one category, the good one ranked below 100; tied scores.
    ann(8, 11, box(50, 50, 80, 80))
    for j in range(129):
        det(8, 11, box(300 + j, 300, 10, 10), 0.5 if j % 3 else 0.4)
    det(8, 11, box(50, 50, 80, 80), 0.3)
    # Image 4: tiny and huge objects; areas on the range edges; area field differs from w*h.
    ann(4, 3, box(0, 0, 2, 2))
    ann(4, 3, box(10, 10, 32, 32), area=1024.0)
    ann(4, 3, box(100, 100, 96, 96), area=9216.0)
    ann(4, 3, box(0, 0, 2000, 1000))
    ann(4, 3, box(300, 300, 40, 40), area=500.0)
    for a in anns[-5:]:
        x, y, w, h = a["bbox"]
        det(4, 3, box(x + 0.1 * w, y, w, h * 1.05), float(rng.random()))
    det(4, 3, box(1, 1, 1, 1), 0.2)  # tiny false positive
    # Image 6: random clutter over all categories.
    for _ in range(8):
        ann(6, int(rng.choice([3, 7, 11])), box(*rng.uniform(0, 200, 2), *rng.uniform(5, 120, 2)),
            crowd=int(rng.random() < 0.2))  # fmt: skip
    for a in [a for a in anns if a["image_id"] == 6]:
        for _ in range(int(rng.integers(0, 4))):
            x, y, w, h = a["bbox"]
            j = rng.choice([0.0, 0.05, 0.2])
            det(6, a["category_id"], box(x + j * w * rng.normal(), y + j * h * rng.normal(), w, h),
                float(rng.choice([0.5, 0.25, rng.random()])))  # fmt: skip
    for _ in range(20):
        det(6, int(rng.choice([3, 7, 11])), box(*rng.uniform(0, 200, 2), *rng.uniform(1, 90, 2)),
            float(rng.random()))  # fmt: skip
    order = rng.permutation(len(dets))  # file order must not matter beyond tie-breaking
    dets = [dets[i] for i in order]
    return {"images": images, "categories": cats, "annotations": anns}, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_cases_match_pycocotools(seed, tmp_path):
    gt, dets = hard_case_set(seed)
    ev = ours(gt, dets, tmp_path)
    whole, per_image = reference(gt, dets)
    assert_parity(ev, whole, per_image)
    ap = dict(zip(ev.image_ids.tolist(), ev.ap.tolist(), strict=True))
    assert np.isnan(ap[1]) and np.isnan(ap[9])  # no annotations / crowd only: no AP
    assert ap[2] == ap[2] and ap[8] < 1.0  # absent-category FPs ignored; cut at maxDets 100
    assert ev.num_dets.tolist()[ev.image_ids.tolist().index(8)] == 130


def test_iou_is_bit_identical_to_pycocotools():
    rng = np.random.default_rng(0)
    dt = np.round(rng.uniform(0, 50, (40, 4)), 2)
    gt = np.round(rng.uniform(0, 50, (30, 4)), 2)
    gt[::3] = dt[:10]  # exact overlaps
    crowd = rng.random(30) < 0.3
    want = mask_utils.iou(dt.tolist(), gt.tolist(), crowd.astype(int).tolist())
    got = box_iou(dt[:, None, :], gt[None, :, :], crowd[None, :])
    assert np.array_equal(got, want)


@st.composite
def random_sets(draw):
    n_img = draw(st.integers(1, 4))
    n_cat = draw(st.integers(1, 3))
    coord = st.integers(0, 40).map(float)
    size = st.sampled_from([0.0, 1.0, 4.0, 8.0, 16.0, 32.0, 33.0, 96.0, 100.0])
    images = [{"id": 10 + 3 * i, "file_name": f"{i}.jpg"} for i in range(n_img)]
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(n_cat)]
    anns = []
    for i in range(draw(st.integers(0, 10))):
        w, h = draw(size), draw(size)
        anns.append({
            "id": i, "image_id": draw(st.sampled_from(images))["id"],
            "category_id": draw(st.integers(1, n_cat)), "bbox": [draw(coord), draw(coord), w, h],
            "area": draw(st.sampled_from([w * h, 1024.0, 9216.0, w * h / 2])),
            "iscrowd": int(draw(st.integers(0, 4)) == 0),
        })  # fmt: skip
    dets = []
    for _ in range(draw(st.integers(1, 25))):
        if anns and draw(st.booleans()):
            src = draw(st.sampled_from(anns))
            bb = [v + draw(st.sampled_from([0.0, 0.0, 1.0, -2.0])) for v in src["bbox"]]
            bb[2], bb[3] = abs(bb[2]), abs(bb[3])
            image_id, cat = src["image_id"], src["category_id"]
        else:
            bb = [draw(coord), draw(coord), draw(size), draw(size)]
            image_id, cat = draw(st.sampled_from(images))["id"], draw(st.integers(1, n_cat))
        score = draw(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0]))
        dets.append({"image_id": image_id, "category_id": cat, "bbox": bb, "score": score})
    return {"images": images, "categories": cats, "annotations": anns}, dets


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=random_sets())
def test_random_sets_match_pycocotools(data, tmp_path):
    gt, dets = data
    ev = ours(gt, dets, tmp_path)
    whole, per_image = reference(gt, dets)
    assert_parity(ev, whole, per_image)


def test_importing_the_engine_loads_neither_torch_nor_pycocotools():
    code = (
        "import sys, hfc_detect.evaluation, hfc_detect.evaluation.compare; "
        "print('torch' in sys.modules, 'pycocotools' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
