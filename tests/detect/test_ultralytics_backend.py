"""The ultralytics backend against Ultralytics' own ``predict``, with seeded random-weight
checkpoints built from Ultralytics' yolov8n configs (detect, segment, pose) and saved with COCO's
class names as a user's ``.pt`` would arrive. Skipped where ultralytics is not installed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.frequency import split
from hfc_detect.modeling import Detector, build_detector
from hfc_detect.utils.errors import InputError
from tests.detect.test_eval_segm_keypoints import assert_equals_pycocotools, run_on

SUBSET = "data/coco-val2017-subset"
IMGSZ = 256  # the checkpoints' training size: small, for fast tests
SETTINGS = {"conf": 0.001, "iou": 0.7, "max_det": 300}  # Ultralytics' validation settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_checkpoint(path, config: str, task: str, names: dict[int, str]):
    """``YOLO(config)`` with seeded random weights saved as a trained checkpoint: BatchNorm
    statistics from one batch of smooth noise (so outputs depend on the input) and class
    logits near -2 (so there are detections above conf 0.001, but not saturated ones)."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    yolo = YOLO(config)
    yolo.model.names = names
    for module in yolo.model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0
    yolo.model.train()
    noise = torch.rand(4, 3, IMGSZ // 8, IMGSZ // 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        yolo.model(torch.nn.functional.interpolate(noise, size=(IMGSZ, IMGSZ), mode="bilinear"))
        for branch in yolo.model.model[-1].cv3:  # the class-logit convolutions
            branch[-1].weight.mul_(0.1)
            branch[-1].bias.fill_(-2.0)
    yolo.model.eval()
    yolo.ckpt["train_args"] = {"imgsz": IMGSZ, "task": task}
    yolo.save(path)
    return path


@pytest.fixture(scope="module")
def coco_names() -> dict[int, str]:
    pytest.importorskip("ultralytics")
    from ultralytics.utils import YAML
    from ultralytics.utils.checks import check_yaml

    return YAML.load(check_yaml("coco.yaml"))["names"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, coco_names) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("yolo")
    return {
        "detect": str(make_checkpoint(folder / "det.pt", "yolov8n.yaml", "detect", coco_names)),
        "segment": str(make_checkpoint(folder / "seg.pt", "yolov8n-seg.yaml", "segment",
                                       coco_names)),
        "pose": str(make_checkpoint(folder / "pose.pt", "yolov8n-pose.yaml", "pose",
                                    {0: "person"})),
    }  # fmt: skip


@pytest.fixture(scope="module")
def categories(shared_dir) -> dict[int, str]:
    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    return {c["id"]: c["name"] for c in data["categories"]}


def first_images(shared_dir, n: int = 3):
    return sorted((shared_dir / SUBSET / "val2017").glob("*.jpg"))[:n]


def bgr_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) RGB array -> the BGR float (3, H, W) tensor eval hands a BGR backend."""
    return torch.from_numpy(np.ascontiguousarray(image[:, :, ::-1].transpose(2, 0, 1))).float()


def assert_same_detections(ours, boxes, scores, category_ids) -> None:
    """Image by image: same count, boxes IoU > 0.99, scores to 1e-4, same categories."""
    from torchvision.ops import box_iou

    assert len(ours) == len(scores) > 0
    ious = box_iou(torch.from_numpy(ours.boxes), torch.from_numpy(np.asarray(boxes, float)))
    assert ious.diagonal().min() > 0.99
    np.testing.assert_allclose(ours.scores, scores, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(ours.category_ids, category_ids)


def reference(path, weights: str, categories: dict[int, str]):
    """Ultralytics' own ``predict`` on the file, classes mapped by name."""
    from ultralytics import YOLO

    (result,) = YOLO(weights).predict(str(path), verbose=False, **SETTINGS, retina_masks=True)
    by_name = {name: cid for cid, name in categories.items()}
    ids = [by_name[result.names[int(c)]] for c in result.boxes.cls]
    return result, (result.boxes.xyxy.numpy(), result.boxes.conf.numpy(), ids)


@pytest.mark.parametrize("task", ["detect", "segment", "pose"])
def test_ultralytics_equals_its_own_predict_on_real_images(
    task, checkpoints, categories, shared_dir
):
    from pycocotools import mask as mask_utils

    detector = build_detector("ultralytics", weights=checkpoints[task], categories=categories,
                              device="cpu")  # fmt: skip
    assert isinstance(detector, Detector) and detector.channel_order == "BGR"
    for path in first_images(shared_dir):
        (ours,) = detector.detect([bgr_tensor(read_image(path))])
        result, expected = reference(path, checkpoints[task], categories)
        assert_same_detections(ours, *expected)
        if task == "segment":
            masks = mask_utils.decode(ours.masks).transpose(2, 0, 1)
            assert masks.shape[1:] == read_image(path).shape[:2]
            np.testing.assert_array_equal(masks, result.masks.data.numpy() > 0.5)
        if task == "pose":
            assert ours.keypoints.shape == (len(ours), 17, 3)
            np.testing.assert_allclose(ours.keypoints, result.keypoints.data.numpy(), atol=1e-3)


def test_ultralytics_float_path_equals_the_uint8_path_where_nothing_is_resized(
    checkpoints, categories, shared_dir
):
    """Without a resize (an image of the letterbox's size), Ultralytics' pipeline on a float32
    array holding the same integers gives exactly its uint8 result: padding, channel flip and
    scaling treat floats as they treat uint8."""
    detector = build_detector("ultralytics", weights=checkpoints["detect"], categories=categories)
    image = read_image(first_images(shared_dir)[0])[:IMGSZ, : IMGSZ * 3 // 4, ::-1].copy()
    as_uint8 = detector.to_detections(detector.predict(image))
    as_float = detector.to_detections(detector.predict(image.astype(np.float32)))
    assert_same_detections(as_float, as_uint8.boxes, as_uint8.scores, as_uint8.category_ids)
    # with a resize, the model inputs differ by less than one level (OpenCV's uint8 rounding)
    whole = read_image(first_images(shared_dir)[0])[:, :, ::-1].copy()
    predictor = detector.model.predictor
    inputs = [predictor.preprocess(predictor.pre_transform([x])) * 255
              for x in (whole, whole.astype(np.float32))]  # fmt: skip
    assert inputs[0].shape[-1] == IMGSZ and 0 < (inputs[0] - inputs[1]).abs().max() < 1


def test_ultralytics_lfc_reaches_the_model_unrounded(checkpoints, categories, shared_dir):
    """An LFC (floats, leaving 0..255) gives other detections than its uint8 rounding, and the
    letterboxed model input still holds non-integral and out-of-range values."""
    detector = build_detector("ultralytics", weights=checkpoints["detect"], categories=categories)
    rgb = read_image(first_images(shared_dir)[0]).astype(np.float64)
    lfc = split(rgb, 16)[0]
    assert lfc.min() < 0 or lfc.max() > 255
    (floats,) = detector.detect([bgr_tensor(lfc)])
    (rounded,) = detector.detect([bgr_tensor(np.clip(np.round(lfc), 0, 255))])
    assert len(floats) != len(rounded) or not np.allclose(floats.scores, rounded.scores)
    predictor = detector.model.predictor
    bgr = np.ascontiguousarray(lfc[:, :, ::-1], dtype=np.float32)
    model_input = predictor.preprocess(predictor.pre_transform([bgr])) * 255
    assert not torch.equal(model_input, model_input.round())
    assert model_input.min() < 0 or model_input.max() > 255


def test_ultralytics_class_names_must_match_categories(checkpoints, categories):
    renamed = {cid: ("motorbike" if name == "motorcycle" else name)
               for cid, name in categories.items()}  # fmt: skip
    with pytest.raises(InputError, match=r"1 of the model's classes .*3:'motorcycle'") as info:
        build_detector("ultralytics", weights=checkpoints["detect"], categories=renamed)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="categories="):
        build_detector("ultralytics", weights=checkpoints["detect"])
    # a person-only annotation file fits a pose model
    pose = build_detector("ultralytics", weights=checkpoints["pose"], categories={1: "person"})
    assert pose.category_of == {0: 1}


def test_ultralytics_options_and_errors(checkpoints, categories, tmp_path):
    detector = build_detector("ultralytics", weights=checkpoints["detect"], categories=categories,
                              overrides=["conf=0.25", "max_det=5", "imgsz=160"])  # fmt: skip
    assert (detector.settings.conf, detector.settings.max_det, detector.settings.imgsz) == (
        0.25,
        5,
        160,
    )
    for bad, message in [(["conf=2"], "0 <= conf < 1"), (["nms=0.5"], "options are conf, iou"),
                         (["max_det=x"], "not a int")]:  # fmt: skip
        with pytest.raises(InputError, match=message):
            build_detector("ultralytics", weights=checkpoints["detect"], categories=categories,
                           overrides=bad)  # fmt: skip
    with pytest.raises(InputError, match=r"needs --weights MODEL\.pt"):
        build_detector("ultralytics", categories=categories)
    with pytest.raises(InputError, match="do not exist"):
        build_detector("ultralytics", weights=str(tmp_path / "missing.pt"), categories=categories)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "iou_type", "field"),
    [("segment", "segm", "segmentation"), ("pose", "keypoints", "keypoints")],
)
def test_ultralytics_eval_segm_and_keypoints_equal_pycocotools(
    task, iou_type, field, checkpoints, categories, shared_dir, tmp_path
):
    detector = build_detector("ultralytics", weights=checkpoints[task], categories=categories)
    gt, result = run_on(shared_dir, tmp_path, detector, iou_type)
    assert_equals_pycocotools(gt, result, iou_type, field)


def run_cli_pipeline(backend: str, weights: str, shared_dir, tmp_path, iou_type: str) -> Path:
    """``eval`` with two radii on two real images, resumed after a simulated kill, then
    ``curve``, ``heatmap`` and the HTML ``export`` on the run, all through the CLI."""
    from typer.testing import CliRunner

    from hfc_detect.cli.app import app
    from hfc_detect.pipeline.inputs import write_subset_annotations

    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    ids = [img["id"] for img in data["images"][:2]]
    ann = write_subset_annotations(data, ids, tmp_path / "gt.json")
    out = tmp_path / "run"
    common = ["--annotations", str(ann), "--images", str(shared_dir / SUBSET / "val2017"),
              "--backend", backend, "--weights", weights]  # fmt: skip
    args = ["eval", *common, "--radius", "16", "--radius", "64", "--iou-type", iou_type,
            "--num-workers", "0", "--no-progress", "-o", str(out)]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [v["name"] for v in summary["variants"]] == [
        "original", "lfc_r16", "hfc_r16", "lfc_r64", "hfc_r64"
    ]  # fmt: skip
    full = {p.name: p.read_bytes() for p in (out / "predictions").iterdir()}
    assert all(json.loads(text) for text in full.values())
    progress = out / "progress.jsonl"  # a kill after the first image: one line, no summary
    progress.write_text(progress.read_text().splitlines(keepends=True)[0])
    (out / "summary.json").unlink()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in (out / "predictions").iterdir()} == full
    result = runner.invoke(app, ["curve", str(out), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    heatmap = ["heatmap", *common, "--grid", "2", "--step", "3", "--limit", "1",
               "-o", str(out / "heatmap")]  # fmt: skip
    result = runner.invoke(app, heatmap)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export", str(out), "--format", "html", "--resamples", "100"])
    assert result.exit_code == 0, result.output
    assert (out / "curve.csv").is_file() and (out / "heatmap" / "heatmap.npy").is_file()
    return out / "report"


@pytest.mark.slow
def test_ultralytics_cli_radii_resume_curve_heatmap_gallery(checkpoints, shared_dir, tmp_path):
    report = run_cli_pipeline("ultralytics", checkpoints["segment"], shared_dir, tmp_path, "segm")
    assert "Frequency response" in (report / "index.html").read_text()


@pytest.mark.slow
def test_ultralytics_under_torchrun_equals_one_process(checkpoints, shared_dir, tmp_path):
    """2 gloo CPU processes shard 3 real images and write a single process's files."""
    import os
    import subprocess

    from hfc_detect.pipeline.inputs import write_subset_annotations
    from hfc_detect.pipeline.run import EvalConfig, run_eval
    from tests.conftest import REPO_ROOT
    from tests.detect.test_eval_distributed import _outputs

    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    ids = [im["id"] for im in data["images"][:3]]
    ann = write_subset_annotations(data, ids, tmp_path / "a.json")
    options = dict(annotations=str(ann), images=str(shared_dir / SUBSET / "val2017"),
                   backend="ultralytics", weights=checkpoints["detect"], threads=1)  # fmt: skip
    run_eval(EvalConfig(radii=(16,), output=str(tmp_path / "single"), num_workers=0, **options))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "hfc_detect", "eval", "--radius", "16", "--annotations", str(ann), "--images",
           options["images"], "--backend", "ultralytics", "--weights", options["weights"],
           "--threads", "1", "--num-workers", "0", "--no-progress",
           "--output", str(tmp_path / "multi")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _outputs(tmp_path / "multi") == _outputs(tmp_path / "single")
