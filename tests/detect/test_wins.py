"""``hfc-detect wins``: object gained/lost matching, wins against the per-image table, bootstrap."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.reports.bootstrap import paired_bootstrap_ci
from hfc_detect.reports.objects import found_objects, object_diff
from hfc_detect.reports.wins import find_wins
from hfc_detect.utils.errors import InputError

CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 7, "name": "car"}]
GAIN_IMAGE, LOSS_IMAGE = 100, 101  # hand-made: the LFC variant gains / loses one cat


def _gt(ann_id: int, cat: int, box: list[float], crowd: int = 0) -> dict:
    return {"id": ann_id, "category_id": cat, "bbox": box, "iscrowd": crowd}


def _det(cat: int, box: list[float], score: float) -> dict:
    return {"category_id": cat, "bbox": box, "score": score}


# ----------------------------------------------------------------- object matching, by hand


def test_found_objects_greedy_by_score_and_category() -> None:
    gts = [_gt(1, 1, [0, 0, 10, 10]), _gt(2, 1, [1, 0, 10, 10]), _gt(3, 2, [50, 50, 10, 10])]
    # One detection overlapping both cats: it takes only the one it overlaps most (gt 1).
    assert found_objects(gts, [_det(1, [0, 0, 10, 10], 0.9)]).tolist() == [True, False, False]
    # Right box, wrong category: nothing found.
    assert not found_objects(gts, [_det(1, [50, 50, 10, 10], 0.9)]).any()
    # Below the score threshold: ignored; at it: counts.
    assert not found_objects(gts, [_det(2, [50, 50, 10, 10], 0.49)]).any()
    assert found_objects(gts, [_det(2, [50, 50, 10, 10], 0.5)]).tolist() == [False, False, True]
    assert not found_objects(gts, [_det(2, [50, 50, 10, 10], 0.7)], score_threshold=0.8).any()
    # Two detections on two cats: the higher score matches first and takes gt 1, the second
    # then takes gt 2 although it overlaps gt 1 more.
    dets = [_det(1, [1, 0, 10, 10], 0.6), _det(1, [0, 0, 10, 10], 0.9)]
    assert found_objects(gts, dets).tolist() == [True, True, False]


def test_found_objects_iou_threshold_and_crowd() -> None:
    gt = [_gt(1, 1, [0, 0, 10, 10])]
    # IoU exactly 0.5 (box of area 50 inside the gt) counts; just below does not.
    assert found_objects(gt, [_det(1, [0, 0, 10, 5], 0.9)]).tolist() == [True]
    assert not found_objects(gt, [_det(1, [0, 0, 10, 4.9], 0.9)]).any()
    # Crowd regions are never objects, even under a perfect detection.
    crowd = [_gt(1, 1, [0, 0, 10, 10], crowd=1), _gt(2, 1, [30, 30, 10, 10])]
    assert found_objects(crowd, [_det(1, [0, 0, 10, 10], 0.9)]).tolist() == [False, False]
    assert not found_objects([], [_det(1, [0, 0, 10, 10], 0.9)]).any()


def test_found_objects_iou_tie_goes_to_the_later_object(tmp_path: Path) -> None:
    gts = [_gt(1, 1, [0, 0, 10, 10]), _gt(2, 1, [2, 0, 10, 10])]
    # The first detection overlaps both equally (IoU 0.818): COCOeval gives it the later one,
    # which leaves the first object to the second detection (IoU 0.54 with it, 0.33 with gt 2).
    dets = [_det(1, [1, 0, 10, 10], 0.9), _det(1, [-3, 0, 10, 10], 0.8)]
    assert found_objects(gts, dets).tolist() == [True, True]
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "dets.json"
    images = [{"id": 1, "file_name": "a.png", "height": 20, "width": 20}]
    anns = [{**g, "image_id": 1, "area": 100.0} for g in gts]
    gt_path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES})
    )
    pred_path.write_text(json.dumps([{**d, "image_id": 1} for d in dets]))
    assert _cocoeval_found(gt_path, pred_path, 0.5) == {1: {1, 2}}


def test_found_objects_counts_top_100_detections_per_category() -> None:
    gt = [_gt(1, 1, [0, 0, 10, 10])]
    same_cat = [_det(1, [50, 50, 5, 5], 0.9)] * 100
    other_cat = [_det(2, [50, 50, 5, 5], 0.9)] * 150
    # As COCOeval's maxDets: the 101st detection of a category is dropped ...
    assert not found_objects(gt, [*same_cat, _det(1, [0, 0, 10, 10], 0.8)]).any()
    assert found_objects(gt, [*same_cat[:99], _det(1, [0, 0, 10, 10], 0.8)]).all()
    # ... while detections of other categories do not count against it.
    assert found_objects(gt, [*other_cat, _det(1, [0, 0, 10, 10], 0.8)]).all()


def test_object_diff_gained_and_lost() -> None:
    gts = [
        _gt(1, 1, [0, 0, 10, 10]),
        _gt(2, 2, [20, 0, 10, 10]),
        _gt(3, 7, [40, 0, 10, 10]),
        _gt(4, 7, [60, 0, 10, 10], crowd=1),
    ]
    base = [_det(1, [0, 0, 10, 10], 0.9), _det(2, [20, 0, 10, 10], 0.9)]
    variant = [
        _det(2, [20, 0, 10, 10], 0.8),
        _det(7, [40, 0, 10, 10], 0.7),
        _det(7, [60, 0, 10, 10], 1),
    ]
    diff = object_diff(gts, base, variant)
    assert [g["id"] for g in diff.gained] == [3]
    assert [g["id"] for g in diff.lost] == [1]
    same = object_diff(gts, base, base)
    assert same.gained == [] and same.lost == []


# ----------------------------------------------------------------- a real comparison folder


def _png(path: Path, height: int, width: int, seed: int) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([xx * 4 % 256, yy * 5 % 256, rng.integers(0, 256, (height, width))], -1)
    cv2.imwrite(str(path), img.astype(np.uint8))


def make_dataset(root: Path, *, num_images: int = 24, seed: int = 0) -> tuple[Path, Path]:
    """A small COCO set with PNG images on disk: random objects, an image without objects
    (id 1), a crowd-only image (id 2), and the hand-made GAIN_IMAGE / LOSS_IMAGE."""
    rng = np.random.default_rng(seed)
    images_dir = root / "images"
    images_dir.mkdir(parents=True)
    images, anns = [], []
    for i in [*range(1, num_images + 1), GAIN_IMAGE, LOSS_IMAGE]:
        h, w = int(rng.integers(40, 72)), int(rng.integers(48, 96))
        images.append({"id": i, "file_name": f"img_{i:03d}.png", "height": h, "width": w})
        _png(images_dir / f"img_{i:03d}.png", h, w, i)
        if i in (GAIN_IMAGE, LOSS_IMAGE):
            boxes = [(1, [4.0, 4.0, 20.0, 16.0], 0)]
        else:
            count = 0 if i == 1 else int(rng.integers(1, 5))
            boxes = []
            for _ in range(count):
                bw, bh = rng.uniform(8, w / 2), rng.uniform(8, h / 2)
                box = [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]
                boxes.append((int(rng.choice([1, 2, 7])), [round(v, 2) for v in box], int(i == 2)))
        for cat, box, crowd in boxes:
            ann = _gt(len(anns) + 1, cat, box, crowd)
            anns.append({**ann, "image_id": i, "area": box[2] * box[3]})
    path = root / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES}))
    return path, images_dir


def make_predictions(gt_path: Path, root: Path, *, seed: int = 0) -> dict[str, Path]:
    """Jittered ground truth as detections: original finds most objects, LFC fewer, HFC few;
    on GAIN_IMAGE only LFC finds the cat, on LOSS_IMAGE only the original does."""
    gt = json.loads(gt_path.read_text())
    sizes = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    out = {}
    for k, (name, keep, jitter) in enumerate(
        [("original", 0.8, 0.05), ("lfc", 0.65, 0.1), ("hfc", 0.3, 0.2)]
    ):
        rng = np.random.default_rng(seed + k)
        dets = []
        for a in gt["annotations"]:
            if a["image_id"] in (GAIN_IMAGE, LOSS_IMAGE) or rng.random() > keep:
                continue
            x, y, w, h = a["bbox"]
            box = [x + rng.normal(0, jitter) * w, y + rng.normal(0, jitter) * h, w, h]
            dets.append(
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "bbox": [round(v, 2) for v in box],
                    "score": round(rng.uniform(0.3, 1), 3),
                }
            )
        for image_id, (w, h) in sizes.items():
            box = [rng.uniform(0, w / 2), rng.uniform(0, h / 2), w / 3, h / 3]
            dets.append(
                {
                    "image_id": image_id,
                    "category_id": 2,
                    "bbox": box,
                    "score": round(rng.uniform(0.05, 0.9), 3),
                }
            )
        finder = {"original": LOSS_IMAGE, "lfc": GAIN_IMAGE}.get(name)
        for image_id in (GAIN_IMAGE, LOSS_IMAGE):
            cat = 1 if image_id == finder else 2  # the other variant sees a dog there
            dets.append(
                {
                    "image_id": image_id,
                    "category_id": cat,
                    "bbox": [4.0, 4.0, 20.0, 16.0],
                    "score": 0.9,
                }
            )
        path = root / f"{name}.json"
        path.write_text(json.dumps(dets))
        out[name] = path
    return out


def make_comparison(root: Path, *, radius: float | None = 8, **extra) -> Path:
    """A comparison folder written by the real ``hfc_detect.results.compare``."""
    from hfc_detect.results import compare

    gt_path, images_dir = make_dataset(root / "data")
    preds = make_predictions(gt_path, root / "data")
    out = root / "cmp"
    if radius is not None:
        extra["radius"] = radius
    compare(gt_path, preds, out, images_dir=images_dir, extra=extra)
    return out


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_comparison(tmp_path_factory.mktemp("wins"))


def _per_image(directory: Path) -> list[dict]:
    with (directory / "per_image.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _ap(cell: str) -> float:
    return math.nan if cell == "" else float(cell)


def test_wins_count_equals_summary(comparison: Path) -> None:
    summary = json.loads((comparison / "summary.json").read_text())
    expected = {v["name"]: v["wins_over_baseline"] for v in summary["variants"]}
    for variant in ("lfc", "hfc"):
        result = find_wins(comparison, variant=variant, objects=False)
        assert result.count == expected[variant]
        assert result.num_scored == summary["num_images_scored"]
    assert expected["lfc"] > 2  # the data must make the test meaningful


@pytest.mark.parametrize("min_delta", [0.0, 0.05, 0.3])
def test_wins_against_the_per_image_table(comparison: Path, min_delta: float) -> None:
    rows = _per_image(comparison)
    base = np.array([_ap(r["ap_original"]) for r in rows])
    lfc = np.array([_ap(r["ap_lfc"]) for r in rows])
    defined = np.isfinite(base) & np.isfinite(lfc)
    expected = {
        int(r["image_id"])
        for r, d, ok in zip(rows, lfc - base, defined, strict=True)
        if ok and d > min_delta
    }
    result = find_wins(comparison, variant="lfc", min_delta=min_delta, objects=False)
    got = [w.image_id for w in result.wins]
    assert set(got) == expected and len(got) == len(expected) == result.count
    gains = [w.delta for w in result.wins]
    assert gains == sorted(gains, reverse=True)
    assert all(g > min_delta for g in gains)
    assert 1 not in got and 2 not in got  # undefined AP (no / crowd-only ground truth)
    top = find_wins(comparison, variant="lfc", min_delta=min_delta, top=2, objects=False)
    assert [w.image_id for w in top.wins] == got[:2] and top.count == result.count


def test_wins_objects_gained_and_lost(comparison: Path) -> None:
    gt = json.loads((comparison.parent / "data" / "gt.json").read_text())
    cat_on = {a["image_id"]: a["id"] for a in gt["annotations"] if a["image_id"] >= GAIN_IMAGE}
    result = find_wins(comparison, variant="lfc")
    by_id = {w.image_id: w for w in result.wins}
    assert by_id[GAIN_IMAGE].delta == pytest.approx(1.0)
    assert [g["id"] for g in by_id[GAIN_IMAGE].gained] == [cat_on[GAIN_IMAGE]]
    assert by_id[GAIN_IMAGE].lost == []
    assert LOSS_IMAGE not in by_id
    losses = find_wins(comparison, variant="lfc", min_delta=-2)
    lost = {w.image_id: w for w in losses.wins}[LOSS_IMAGE]
    assert [g["id"] for g in lost.lost] == [cat_on[LOSS_IMAGE]] and lost.gained == []
    # every listed object is a real non-crowd annotation of its image
    anns = {a["id"]: a for a in gt["annotations"]}
    for w in losses.wins:
        for obj in (w.gained or []) + (w.lost or []):
            assert anns[obj["id"]]["image_id"] == w.image_id and not anns[obj["id"]]["iscrowd"]


def _cocoeval_found(
    gt_path: Path, pred_path: Path, score_threshold: float, iou_type: str = "bbox"
) -> dict[int, set]:
    """Reference: the ground-truth ids pycocotools' COCOeval (``iou_type``) matches at IoU 0.5
    (area all, most detections) with the detections of score >= the threshold, per image."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dets = [d for d in json.loads(pred_path.read_text()) if d["score"] >= score_threshold]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.params.iouThrs = np.array([0.5])
        ev.evaluate()
    found: dict[int, set] = {i: set() for i in gt.getImgIds()}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != ev.params.areaRng[0]:
            continue
        for gid, match, ignore in zip(e["gtIds"], e["gtMatches"][0], e["gtIgnore"], strict=True):
            if match > 0 and not ignore:
                found[e["image_id"]].add(gid)
    return found


@pytest.mark.parametrize("score_threshold", [0.0, 0.5, 0.8])
def test_found_objects_equal_cocoeval_matches(comparison: Path, score_threshold: float) -> None:
    from hfc_detect.reports.sources import load_sources
    from hfc_detect.results import load_comparison

    data = comparison.parent / "data"
    sources = load_sources(load_comparison(comparison), ["original", "lfc", "hfc"])
    total = 0
    for variant in ("original", "lfc", "hfc"):
        expected = _cocoeval_found(data / "gt.json", data / f"{variant}.json", score_threshold)
        total += sum(map(len, expected.values()))
        for image_id, ids in expected.items():
            gts = sources.image_gts(image_id)
            dets = sources.image_dets(variant, image_id)
            mask = found_objects(gts, dets, score_threshold=score_threshold)
            assert {g["id"] for g, f in zip(gts, mask, strict=True) if f} == ids
            array_mask = sources.found(variant, image_id, score_threshold=score_threshold)
            assert array_mask.tolist() == mask.tolist()
    assert total > 10  # the data must make the test meaningful


def test_found_objects_equal_cocoeval_on_crowded_images(tmp_path: Path) -> None:
    """Hard cases against pycocotools: > 100 detections of a category, tied scores and IoUs,
    overlapping objects, crowd regions."""
    rng = np.random.default_rng(5)
    images, anns, dets = [], [], []
    for image_id in range(1, 9):
        images.append({"id": image_id, "file_name": f"{image_id}.png", "height": 60, "width": 60})
        for _ in range(12):
            box = [float(v) for v in rng.integers(0, 40, 2)] + [10.0, 10.0]
            anns.append(
                {
                    **_gt(len(anns) + 1, int(rng.choice([1, 2])), box, int(rng.random() < 0.1)),
                    "image_id": image_id,
                    "area": 100.0,
                }
            )
        for _ in range(260):
            box = [float(v) for v in rng.integers(0, 45, 2)] + [10.0, float(rng.choice([8, 10]))]
            score = float(rng.choice([0.3, 0.6, 0.6, 0.9]))
            dets.append({"image_id": image_id, **_det(int(rng.choice([1, 2])), box, score)})
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "dets.json"
    gt_path.write_text(
        json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES})
    )
    pred_path.write_text(json.dumps(dets))
    for threshold in (0.0, 0.5):
        expected = _cocoeval_found(gt_path, pred_path, threshold)
        assert sum(map(len, expected.values())) > 20
        for image_id, ids in expected.items():
            gts = [a for a in anns if a["image_id"] == image_id]
            mask = found_objects(
                gts, [d for d in dets if d["image_id"] == image_id], score_threshold=threshold
            )
            assert {g["id"] for g, f in zip(gts, mask, strict=True) if f} == ids


def test_wins_cli_writes_csv_and_json(comparison: Path) -> None:
    result = CliRunner().invoke(app, ["wins", str(comparison), "--variant", "lfc", "--top", "3"])
    assert result.exit_code == 0, result.output
    payload = json.loads((comparison / "wins_lfc.json").read_text())
    summary = json.loads((comparison / "summary.json").read_text())
    assert payload["count"] == summary["variants"][1]["wins_over_baseline"]
    assert payload["listed"] == len(payload["wins"]) == 3
    assert payload["score_threshold"] == 0.5 and payload["iou_threshold"] == 0.5
    with (comparison / "wins_lfc.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["image_id"]) for r in rows] == [w["image_id"] for w in payload["wins"]]
    for r, w in zip(rows, payload["wins"], strict=True):
        assert float(r["delta_ap"]) == w["delta_ap"] == w["ap_lfc"] - w["ap_original"]
        assert int(r["num_gained"]) == len(w["gained"])
    assert f"{payload['count']} of {summary['num_images_scored']}" in " ".join(
        result.output.split()
    )


def test_wins_default_variant_is_lfc(comparison: Path) -> None:
    assert find_wins(comparison, objects=False).variant == "lfc"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["wins", "{missing}"], "no such comparison folder"),
        (["wins", "{empty}"], "summary.json: missing"),
        (["wins", "{cmp}", "--variant", "blur"], "unknown variant 'blur'"),
        (["wins", "{cmp}", "--variant", "original"], "is the baseline"),
        (["wins", "{cmp}", "--min-delta", "nan"], "min-delta must be a finite number"),
    ],
)
def test_wins_bad_input(comparison: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in comparison.iterdir())
    paths = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "cmp": comparison}
    result = CliRunner().invoke(app, [a.format(**paths) for a in args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert sorted(p.name for p in comparison.iterdir()) == before
    assert list((tmp_path / "empty").iterdir()) == []


# ----------------------------------------------------------------- paired bootstrap


def test_bootstrap_contains_mean_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 300)
    var = np.clip(base + rng.normal(-0.05, 0.2, 300), 0, 1)
    var[::17] = np.nan  # undefined AP: the pair is dropped
    ci = paired_bootstrap_ci(base, var, resamples=2000, seed=7)
    diff = (var - base)[np.isfinite(var)]
    assert ci.num_pairs == diff.size and ci.mean == pytest.approx(diff.mean(), abs=1e-15)
    assert ci.low < ci.mean < ci.high
    assert paired_bootstrap_ci(base, var, resamples=2000, seed=7) == ci
    other = paired_bootstrap_ci(base, var, resamples=2000, seed=8)
    assert (other.low, other.high) != (ci.low, ci.high)
    # The percentile interval of a mean is close to the normal one for n = 280.
    half = 1.959964 * diff.std(ddof=1) / math.sqrt(diff.size)
    assert ci.low == pytest.approx(diff.mean() - half, abs=0.25 * half)
    assert ci.high == pytest.approx(diff.mean() + half, abs=0.25 * half)


def test_bootstrap_is_independent_of_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    import hfc_detect.reports.bootstrap as bootstrap

    rng = np.random.default_rng(0)
    base, var = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    whole = paired_bootstrap_ci(base, var, resamples=500, seed=1)
    # A reference with explicit index draws, one resample per row.
    idx = np.random.default_rng(1).integers(0, 50, size=(500, 50))
    means = (var - base)[idx].mean(axis=1)
    assert whole.low == pytest.approx(np.quantile(means, 0.025), abs=1e-15)
    assert whole.high == pytest.approx(np.quantile(means, 0.975), abs=1e-15)
    monkeypatch.setattr(bootstrap, "_MAX_CELLS", 50 * 7)  # 7 resamples per chunk
    assert paired_bootstrap_ci(base, var, resamples=500, seed=1) == whole


def test_bootstrap_of_one_pair_is_that_pair() -> None:
    ci = paired_bootstrap_ci(np.array([0.25, np.nan]), np.array([0.5, 0.75]), resamples=100)
    assert ci.num_pairs == 1 and ci.low == ci.mean == ci.high == 0.25


def _triangle_rle(points: list[float], size: int = 40) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.merge(mask_utils.frPyObjects([points], size, size))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def test_segm_wins_match_objects_by_mask_iou_as_cocoeval(tmp_path: Path) -> None:
    """A detection with the object's box but the other half of it (box IoU 1, mask IoU ~0)
    does not find it in a segm comparison: the gain is the mask, as COCOeval(segm) matches."""
    from hfc_detect.results import compare

    triangle, other_half = [0, 0, 30, 0, 0, 30], [30, 0, 30, 30, 0, 30]
    square = [20, 20, 35, 20, 35, 35, 20, 35]
    gt = {
        "images": [{"id": 1, "file_name": "1.png", "height": 40, "width": 40}],
        "categories": CATEGORIES,
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [0, 0, 30, 30],
                "area": 450.0,
                "segmentation": [triangle],
            },
            {
                "id": 6,
                "image_id": 1,
                "category_id": 2,
                "iscrowd": 0,
                "bbox": [20, 20, 15, 15],
                "area": 225.0,
                "segmentation": [square],
            },
        ],
    }
    paths = {"original": other_half, "lfc": triangle}
    for name, points in paths.items():
        dets = [{"image_id": 1, "category_id": 1, "segmentation": _triangle_rle(points),
                 "bbox": [0, 0, 30, 30], "score": 0.9},
                {"image_id": 1, "category_id": 2, "segmentation": _triangle_rle(square),
                 "bbox": [20, 20, 15, 15], "score": 0.8}]  # fmt: skip
        (tmp_path / f"{name}.json").write_text(json.dumps(dets))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    out = tmp_path / "cmp"
    compare(tmp_path / "gt.json", {n: tmp_path / f"{n}.json" for n in paths}, out,
            iou_type="segm")  # fmt: skip
    result = find_wins(out, variant="lfc", score_threshold=0.5)
    assert result.iou_type == "segm" and result.count == 1
    (win,) = result.wins
    expected = {n: _cocoeval_found(tmp_path / "gt.json", tmp_path / f"{n}.json", 0.5, "segm")[1]
                for n in paths}  # fmt: skip
    assert expected == {"original": {6}, "lfc": {5, 6}}
    assert [o["id"] for o in win.gained] == sorted(expected["lfc"] - expected["original"])
    assert win.lost == []
    with pytest.raises(InputError, match="holds segm results, not bbox"):
        find_wins(out, variant="lfc", iou_type="bbox")
