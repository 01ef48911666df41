"""The bundled demo: deterministic, valid COCO data and a shipped detector that really detects."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from hfc_detect.data import demo
from hfc_detect.modeling import Detector, build_detector, list_backends
from hfc_detect.modeling.demo_detector import WEIGHTS_FILE, load_metadata
from hfc_detect.utils.errors import InputError

NUM_TEST_IMAGES = 6
AP_FLOOR = 0.35  # these 6 images score 0.439 with the shipped weights, all 32 score 0.418


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _quiet_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


@pytest.fixture(scope="module")
def eval_subset(tmp_path_factory) -> tuple[Path, Path]:
    """The first held-out evaluation images, as ``hfc-detect eval`` sees them."""
    root = tmp_path_factory.mktemp("demo-eval")
    return demo.make_demo_dataset(root, num_images=NUM_TEST_IMAGES, seed=demo.EVAL_SEED)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector("demo")


def test_same_seed_gives_identical_bytes_and_prefixes(tmp_path):
    a = demo.make_demo_dataset(tmp_path / "a", num_images=2, seed=5)
    demo.make_demo_dataset(tmp_path / "b", num_images=2, seed=5)
    demo.make_demo_dataset(tmp_path / "c", num_images=1, seed=5)
    demo.make_demo_dataset(tmp_path / "d", num_images=2, seed=6)
    files = {k: _files(tmp_path / k) for k in "abcd"}
    assert a == (tmp_path / "a" / "annotations.json", tmp_path / "a" / "images")
    assert files["a"] == files["b"]
    first = "images/demo_s5_00000.png"
    assert files["c"][first] == files["a"][first]  # image i depends only on (seed, i)
    gt_a, gt_c = (json.loads(files[k]["annotations.json"]) for k in "ac")
    assert gt_c["annotations"] == [x for x in gt_a["annotations"] if x["image_id"] == 1]
    other = files["d"]["images/demo_s6_00000.png"]
    assert other != files["a"][first]


def test_dataset_is_valid_coco_with_lossless_images(eval_subset):
    ann_path, images_dir = eval_subset
    raw = json.loads(ann_path.read_text())
    assert {"images", "annotations", "categories"} <= raw.keys()
    assert raw["categories"] == demo.CATEGORIES
    gt = _quiet_coco(ann_path)
    assert sorted(gt.getImgIds()) == list(range(1, NUM_TEST_IMAGES + 1))
    assert sorted(gt.getCatIds()) == sorted(demo.CATEGORY_IDS)
    sizes = []
    for image_id in gt.getImgIds():
        info = gt.imgs[image_id]
        rgb, objects = demo.render_demo_image(demo.EVAL_SEED, image_id - 1)
        np.testing.assert_array_equal(_read_rgb(images_dir / info["file_name"]), rgb)
        anns = gt.imgToAnns[image_id]
        assert 3 <= len(anns) == len(objects) <= 8
        for a in anns:
            assert set(a) >= {"id", "image_id", "category_id", "bbox", "area", "iscrowd"}
            x, y, w, h = a["bbox"]
            assert a["iscrowd"] == 0 and 0 < a["area"] <= w * h
            assert x >= 0 and y >= 0 and x + w <= info["width"] and y + h <= info["height"]
            sizes.append(np.sqrt(a["area"]))
    assert (info["height"], info["width"]) == (demo.IMAGE_HEIGHT, demo.IMAGE_WIDTH)
    assert min(sizes) < 32 < max(sizes)  # COCO small objects and larger ones


def test_texture_lies_beyond_radius_128():
    """The fine texture that tells striped from plain discs (and checkered from plain squares)
    sits in the HFC at r = 128: inside textured objects the HFC varies, the LFC hardly does."""
    from hfc_detect.frequency import split

    checked = set()
    for index in range(3):
        rgb, objects = demo.render_demo_image(demo.TRAIN_SEED, index)
        low, high = split(rgb.astype(np.float64), 128)
        for o in objects:
            if o.category_id in (12, 22) and o.bbox[2] > 24:
                x, y, w, h = (round(v) for v in o.bbox)
                inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
                high_std = high[inner].std(axis=(0, 1)).mean()
                assert high_std > 25 and high_std > 3 * low[inner].std(axis=(0, 1)).mean()
                checked.add(o.category_id)
    assert checked == {12, 22}


def test_bad_arguments_raise_input_error(tmp_path):
    for kwargs in ({"num_images": 0}, {"num_images": 1.5}, {"seed": -1}):
        with pytest.raises(InputError):
            demo.make_demo_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()  # validated before writing anything


def test_cache_is_generated_once_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_EVAL_IMAGES", 2)
    monkeypatch.setenv("HFC_CACHE", str(tmp_path / "cache"))
    assert demo.demo_cache_root() == tmp_path / "cache"
    ann, images = demo.ensure_demo_dataset()
    assert ann == tmp_path / "cache" / demo.DEMO_VERSION / "annotations.json"
    assert len(list(images.glob("*.png"))) == 2
    stamp = ann.stat().st_mtime_ns
    assert demo.ensure_demo_dataset() == (ann, images)
    assert ann.stat().st_mtime_ns == stamp  # reused, not regenerated
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [demo.DEMO_VERSION]
    broken = tmp_path / "broken"
    (broken / demo.DEMO_VERSION).mkdir(parents=True)
    with pytest.raises(InputError, match="delete it"):
        demo.ensure_demo_dataset(broken)


def test_backend_is_registered_and_implements_the_protocol(detector):
    assert "demo" in list_backends()
    assert isinstance(detector, Detector)
    assert detector.channel_order == "RGB"
    assert detector.device == torch.device("cpu")
    assert detector.detect([]) == []


def test_shipped_weights_are_small_and_documented():
    meta = load_metadata()
    weights = Path(demo.__file__).parents[1] / "assets" / WEIGHTS_FILE
    assert weights.stat().st_size < 3_000_000
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == meta["weights_sha256"]
    assert meta["categories"] == list(demo.CATEGORY_IDS)
    assert meta["training"]["dataset_seed"] == demo.TRAIN_SEED != demo.EVAL_SEED
    assert meta["evaluation"]["dataset_seed"] == demo.EVAL_SEED
    assert meta["evaluation"]["metrics"]["original"]["AP"] >= 0.3


def test_shipped_detector_detects_held_out_images(detector, eval_subset):
    """pycocotools AP on held-out images, COCO category ids, boxes inside the image."""
    ann_path, images_dir = eval_subset
    gt = _quiet_coco(ann_path)
    ids = sorted(gt.getImgIds())
    images = [
        torch.from_numpy(_read_rgb(images_dir / gt.imgs[i]["file_name"]).copy())
        .permute(2, 0, 1)
        .float()
        for i in ids
    ]
    dets = detector.detect(images[:3]) + detector.detect(images[3:])
    assert len(dets) == len(ids)
    results = []
    for image_id, d in zip(ids, dets, strict=True):
        assert d.boxes.shape == (len(d), 4) and len(d) <= 100
        assert set(d.category_ids.tolist()) <= set(demo.CATEGORY_IDS)
        assert (d.boxes[:, 2] >= d.boxes[:, 0]).all() and (d.boxes[:, 3] >= d.boxes[:, 1]).all()
        assert d.boxes.min() >= 0 and d.boxes[:, 2].max() <= demo.IMAGE_WIDTH
        for (x0, y0, x1, y1), s, c in zip(d.boxes, d.scores, d.category_ids, strict=True):
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(c),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "score": float(s),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] >= AP_FLOOR


def test_boxes_come_back_in_original_image_coordinates(detector):
    """An image twice the demo size is scaled down to it inside the detector; its boxes must be
    those found on that downscaled image, times two, and lie inside the large image."""
    rgb, _ = demo.render_demo_image(demo.EVAL_SEED, 0)
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float()
    big = x.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)
    down = torch.nn.functional.interpolate(
        big[None], size=x.shape[-2:], mode="bilinear", align_corners=False, antialias=True
    )[0]
    (small,), (large,) = detector.detect([down]), detector.detect([big])
    assert (small.scores > 0.3).sum() >= 2
    np.testing.assert_allclose(large.scores, small.scores, rtol=1e-6)
    np.testing.assert_array_equal(large.category_ids, small.category_ids)
    np.testing.assert_allclose(large.boxes, 2 * small.boxes, atol=1e-3)
    assert large.boxes[:, 2].max() <= big.shape[-1] and large.boxes[:, 3].max() <= big.shape[-2]


def test_missing_weights_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        build_detector("demo", weights=tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"something": 1}, bad)
    with pytest.raises(InputError, match="not a demo detector checkpoint"):
        build_detector("demo", weights=bad)


def test_options_the_demo_backend_lacks_are_refused():
    with pytest.raises(InputError, match="no settings"):
        build_detector("demo", overrides=["INPUT.MIN_SIZE_TEST=320"])
    with pytest.raises(InputError, match="--config-file"):
        build_detector("demo", config_file="cfg.yaml")
