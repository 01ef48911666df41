"""hfc_detect.integrations.detectron2 inside Detectron2's own loop.

Reference: ``hfc-detect eval --backend detectron2`` with the same (random, seeded) weights gives
the same detections and the same ``per_image.csv`` as ``inference_on_dataset`` with
``FrequencySplit`` + ``PerImageCOCOEvaluator``, and the evaluator's metrics equal Detectron2's
own ``COCOEvaluator`` (pycocotools) on the same pass. Skips cleanly without Detectron2 or
../shared.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from hfc_detect.frequency import split
from hfc_detect.frequency.variant import Variant
from hfc_detect.modeling.detectron2_backend import DEFAULT_CONFIG, zoo_config_file
from hfc_detect.pipeline.inputs import write_subset_annotations
from tests.detect.test_frequency import reference_band

SUBSET = "data/coco-val2017-subset"
RADIUS = 16
NUM_IMAGES = 3
SETTINGS = [
    "MODEL.DEVICE=cpu",
    "INPUT.MIN_SIZE_TEST=128",
    "INPUT.MAX_SIZE_TEST=192",
    "MODEL.RETINANET.SCORE_THRESH_TEST=0.0",
    "MODEL.RESNETS.DEPTH=18",
    "MODEL.RESNETS.RES2_OUT_CHANNELS=64",
    "MODEL.RETINANET.NORM=GN",  # keeps the random head's outputs sane (no exploding logits)
    "DATALOADER.NUM_WORKERS=0",
]


def test_import_without_detectron2_is_one_clear_line(monkeypatch):
    for name in ["detectron2", *(m for m in sys.modules if m.startswith("detectron2."))]:
        monkeypatch.setitem(sys.modules, name, None)  # also where other tests imported it
    monkeypatch.delitem(sys.modules, "hfc_detect.integrations.detectron2", raising=False)
    with pytest.raises(ImportError) as info:
        import hfc_detect.integrations.detectron2  # noqa: F401
    message = str(info.value)
    assert "\n" not in message and message.startswith("hfc_detect.integrations.detectron2 ")
    assert "git+https://github.com/facebookresearch/detectron2.git" in message


@pytest.fixture(scope="module")
def d2():
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    import hfc_detect.integrations.detectron2 as d2

    return d2


def test_frequency_split_replaces_the_image_and_keeps_geometry(d2):
    from detectron2.data import transforms as T

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    boxes = np.array([[1.0, 2.0, 30.0, 20.0]])
    aug_input = T.AugInput(image, boxes=boxes, sem_seg=np.ones((40, 60), dtype=np.uint8))
    transforms = T.AugmentationList([d2.FrequencySplit("hfc", 8)])(aug_input)
    low, high = split(image, 8)  # numpy float64 reference
    assert aug_input.image.dtype == np.float32
    np.testing.assert_allclose(aug_input.image, high, atol=1e-3)
    np.testing.assert_array_equal(aug_input.boxes, boxes)
    np.testing.assert_array_equal(aug_input.sem_seg, np.ones((40, 60)))
    keypoints = np.array([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(transforms.inverse().apply_coords(keypoints), keypoints)
    clipped = d2.FrequencySplit("lfc", 8, pixel_mode="clip").get_transform(image)
    np.testing.assert_allclose(clipped.apply_image(image), np.clip(low, 0, 255), atol=1e-3)
    with pytest.raises(ValueError, match="not a variant name"):
        d2.FrequencySplit("mfc", 8)
    with pytest.raises(ValueError, match="LFC, HFC or band"):
        d2.FrequencySplit("original")
    spec = d2.FrequencySplit(Variant("hfc", 8)).get_transform(image)  # the spec, as the name
    np.testing.assert_array_equal(spec.apply_image(image), aug_input.image)
    assert d2.FrequencySplit("lfc_r8i").variant == Variant("lfc", 8, inclusive=True)
    with pytest.raises(ValueError):
        d2.FrequencySplit("lfc", -1)


@pytest.mark.parametrize("inclusive", [False, True])
def test_frequency_split_makes_a_band_as_a_plain_numpy_annulus(d2, inclusive):
    """A band by name (with --inclusive's edges) or by spec is LFC(R2) - LFC(R1), the annulus
    of an independent numpy FFT; pixel modes apply as to an HFC; frequency_variants plans it."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    ref = reference_band(image, 4, 12, inclusive)
    split_ = d2.FrequencySplit("band_r4-12", inclusive=inclusive)
    assert split_.variant == Variant("band", 12, inclusive=inclusive, inner=4)
    out = split_.get_transform(image).apply_image(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-3)
    clip = d2.FrequencySplit(split_.variant, pixel_mode="clip").get_transform(image)
    np.testing.assert_allclose(clip.apply_image(image), np.clip(ref, 0, 255), atol=1e-3)
    gray = image[:, :, 0]
    gray_out = split_.get_transform(gray).apply_image(gray)
    np.testing.assert_allclose(gray_out, ref[:, :, 0], atol=1e-3)  # channels are split alone
    plan = d2.frequency_variants(8, bands=["4:12", (12, 20)])
    assert list(plan) == ["original", "lfc", "hfc", "band_r4-12", "band_r12-20"]
    assert d2.variant_of(plan["band_r4-12"]) == Variant("band", 12, inner=4)


@pytest.fixture(scope="module")
def dataset(d2, shared_dir, tmp_path_factory):
    """The first few real COCO images, registered in Detectron2 from their own json."""
    from detectron2.data.datasets import register_coco_instances

    source = shared_dir / SUBSET / "instances_val2017_subset.json"
    data = json.loads(source.read_text())
    ids = sorted(im["id"] for im in data["images"])[:NUM_IMAGES]
    annotations = write_subset_annotations(
        data, ids, tmp_path_factory.mktemp("gt") / "instances.json"
    )
    name = f"hfc_test_{uuid.uuid4().hex}"
    register_coco_instances(name, {}, str(annotations), str(shared_dir / SUBSET / "val2017"))
    return name, annotations, shared_dir / SUBSET / "val2017"


@pytest.fixture(scope="module")
def checkpoint(d2, tmp_path_factory):
    """A random, seeded RetinaNet saved as a Detectron2 checkpoint, and its config. Its head
    favours class 0 (person, prior 0.5 instead of 0.01), so that its 100 detections per image
    find some people and per-image AP is not zero everywhere."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    cfg = get_cfg()
    cfg.merge_from_file(zoo_config_file(DEFAULT_CONFIG))
    cfg.merge_from_list([x for item in SETTINGS for x in item.split("=", 1)])
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.head.cls_score.bias.view(-1, cfg.MODEL.RETINANET.NUM_CLASSES)[:, 0] = 0.0
    folder = tmp_path_factory.mktemp("checkpoint")
    DetectionCheckpointer(model, save_dir=str(folder)).save("random")
    cfg.MODEL.WEIGHTS = str(folder / "random.pth")
    cfg.freeze()
    return cfg


@pytest.fixture(scope="module")
def eval_output(dataset, checkpoint, tmp_path_factory, shared_dir):
    """``hfc-detect eval --backend detectron2`` on the same images and weights."""
    output = tmp_path_factory.mktemp("eval")
    command = [
        sys.executable, "-m", "hfc_detect", "eval", "--backend", "detectron2",
        "--annotations", str(dataset[1]), "--images", str(shared_dir / SUBSET / "val2017"),
        "--radius", str(RADIUS), "--variants", "original,lfc", "--weights",
        checkpoint.MODEL.WEIGHTS, "--num-workers", "0", "--threads", "1", "--no-progress",
        "--output", str(output),
        *[arg for item in SETTINGS for arg in ("--set", item)],
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output


@pytest.fixture(scope="module")
def loop_output(d2, dataset, checkpoint, tmp_path_factory, one_torch_thread):
    """Detectron2's own loop: one inference_on_dataset pass per variant, the mapper starting
    with FrequencySplit, PerImageCOCOEvaluator beside COCOEvaluator (pycocotools)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetMapper, build_detection_test_loader
    from detectron2.data.detection_utils import build_augmentation
    from detectron2.evaluation import COCOEvaluator, DatasetEvaluators, inference_on_dataset
    from detectron2.modeling import build_model

    name = dataset[0]
    model = build_model(checkpoint)
    DetectionCheckpointer(model).load(checkpoint.MODEL.WEIGHTS)
    output = tmp_path_factory.mktemp("loop")
    results = {}
    for variant, split_first in d2.frequency_variants(RADIUS).items():
        if variant == "hfc":
            continue
        augmentations = [*split_first, *build_augmentation(checkpoint, is_train=False)]
        mapper = DatasetMapper(checkpoint, is_train=False, augmentations=augmentations)
        loader = build_detection_test_loader(checkpoint, name, mapper=mapper)
        evaluator = DatasetEvaluators(
            [
                COCOEvaluator(name, use_fast_impl=False),
                d2.PerImageCOCOEvaluator(
                    name, output, variant=d2.variant_of(split_first), name=variant
                ),
            ]
        )
        results[variant] = inference_on_dataset(model, loader, evaluator)
    return output, results


@pytest.mark.slow
def test_detectron2_loop_equals_eval(eval_output, loop_output):
    output, _ = loop_output
    for variant in ("original", "lfc"):
        ours = (output / "predictions" / f"{variant}.json").read_text()
        theirs = (eval_output / "predictions" / f"{variant}.json").read_text()
        assert len(json.loads(ours)) > 0
        assert ours == theirs, variant
    assert (output / "predictions" / "original.json").read_text() != (
        output / "predictions" / "lfc.json"
    ).read_text()
    table = (output / "per_image.csv").read_text()
    assert table.splitlines()[0].startswith("image_id,file_name,num_gt,ap_original,")
    assert "ap_lfc" in table.splitlines()[0]
    assert table == (eval_output / "per_image.csv").read_text()
    summary = json.loads((output / "summary.json").read_text())
    assert [v["name"] for v in summary["variants"]] == ["original", "lfc"]
    assert all(v["stats"]["AP"] > 0 for v in summary["variants"])  # not vacuously equal


@pytest.mark.slow
def test_evaluator_metrics_equal_coco_evaluator(loop_output):
    _, results = loop_output
    for variant, result in results.items():
        reference, ours = result["bbox"], result[f"bbox_{variant}"]
        assert set(ours) == set(reference)
        for key, value in reference.items():
            assert ours[key] == pytest.approx(value, abs=1e-7, nan_ok=True), (variant, key)


@pytest.mark.slow
def test_wins_and_export_read_the_folder(loop_output, tmp_path):
    from hfc_detect.results import load_comparison

    output, _ = loop_output
    comparison = load_comparison(output)
    assert comparison.baseline == "original" and comparison.resolve_variant(None) == "lfc"
    for command in (
        ["wins", str(output), "--min-delta", "-1"],
        ["export", str(output), "--format", "json", "--output", str(tmp_path / "report.json")],
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "hfc_detect", *command], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert (output / "wins_lfc.csv").is_file()
    assert (tmp_path / "report.json").is_file()


RECIPES = Path(__file__).resolve().parents[2] / "configs" / "detectron2"


@pytest.mark.slow
def test_yacs_recipe_unchanged_equals_eval(dataset, checkpoint, eval_output, tmp_path):
    """configs/detectron2/train_net_hfc.py, run as a user runs it (the dataset as Detectron2's
    builtin coco_2017_val under $DETECTRON2_DATASETS), writes eval's per_image.csv."""
    root = tmp_path / "datasets"
    (root / "coco" / "annotations").mkdir(parents=True)
    (root / "coco" / "annotations" / "instances_val2017.json").write_bytes(dataset[1].read_bytes())
    (root / "coco" / "val2017").symlink_to(dataset[2])
    opts = [x for item in SETTINGS for x in item.split("=", 1)]
    command = [
        sys.executable, str(RECIPES / "train_net_hfc.py"), "--radius", str(RADIUS),
        "--variants", "original,lfc", "--config-file", zoo_config_file(DEFAULT_CONFIG),
        *opts, "MODEL.WEIGHTS", checkpoint.MODEL.WEIGHTS, "OUTPUT_DIR", str(tmp_path / "out"),
    ]  # fmt: skip
    env = {**os.environ, "DETECTRON2_DATASETS": str(root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    output = tmp_path / "out" / "hfc" / "coco_2017_val"
    assert (output / "per_image.csv").read_text() == (eval_output / "per_image.csv").read_text()
    assert "copypaste: Task: bbox_lfc" in done.stderr + done.stdout


def test_lazyconfig_recipe_puts_the_split_first_and_restores_the_config(d2, dataset):
    """configs/detectron2/lazyconfig_hfc.py's loader for a variant: FrequencySplit first, then
    the config's own resize; the config itself is left as it was."""
    from detectron2.config import LazyConfig

    spec = importlib.util.spec_from_file_location("lazyconfig_hfc", RECIPES / "lazyconfig_hfc.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    cfg = LazyConfig.load(zoo_config_file("COCO-Detection/retinanet_R_50_FPN_1x.py"))
    cfg.dataloader.test.dataset.names = dataset[0]
    cfg.dataloader.test.num_workers = 0
    before = str(cfg.dataloader.test.mapper.augmentations)
    loader = recipe.split_test_loader(cfg, d2.frequency_variants(RADIUS)["hfc"])
    assert str(cfg.dataloader.test.mapper.augmentations) == before
    (item,) = next(iter(loader))
    assert item["image"].dtype == torch.float32 and item["image"].min() < 0  # an HFC image
    assert min(item["image"].shape[1:]) == 800  # the config's own resize came after the split


TWO_RADII = (8, 16)


@pytest.fixture(scope="module")
def two_radii_outputs(d2, dataset, checkpoint, tmp_path_factory, one_torch_thread):
    """The same detector at two radii through Detectron2's own loop (``evaluate_variants``:
    FrequencySplit first in each mapper, PerImageCOCOEvaluator recording each variant) and
    through ``hfc-detect eval``."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetMapper, build_detection_test_loader
    from detectron2.data.detection_utils import build_augmentation
    from detectron2.modeling import build_model

    name, annotations, images = dataset
    model = build_model(checkpoint)
    DetectionCheckpointer(model).load(checkpoint.MODEL.WEIGHTS)

    def build_loader(splits):
        augmentations = [*splits, *build_augmentation(checkpoint, is_train=False)]
        mapper = DatasetMapper(checkpoint, is_train=False, augmentations=augmentations)
        return build_detection_test_loader(checkpoint, name, mapper=mapper)

    loop = tmp_path_factory.mktemp("loop2")
    d2.evaluate_variants(model, build_loader, name, loop, radius=list(TWO_RADII))
    ours = tmp_path_factory.mktemp("eval2")
    command = [
        sys.executable, "-m", "hfc_detect", "eval", "--backend", "detectron2",
        "--annotations", str(annotations), "--images", str(images),
        *[a for r in TWO_RADII for a in ("--radius", str(r))], "--weights",
        checkpoint.MODEL.WEIGHTS, "--num-workers", "0", "--threads", "1", "--no-progress",
        "--output", str(ours), *[arg for item in SETTINGS for arg in ("--set", item)],
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return loop, ours


@pytest.mark.slow
def test_curve_reads_the_detectron2_loop_folder_as_evals(two_radii_outputs):
    from hfc_detect.results import load_comparison

    loop, ours = two_radii_outputs
    folder = load_comparison(loop)
    expected = [f"{k}_r{r}" for r in TWO_RADII for k in ("lfc", "hfc")]
    assert folder.variant_names == ["original", *expected]
    assert [folder.spec(n) for n in expected] == [Variant(n[:3], float(n[5:])) for n in expected]
    for name in ("original", *expected):  # the same detections through both paths
        assert (loop / "predictions" / f"{name}.json").read_text() == (
            ours / "predictions" / f"{name}.json"
        ).read_text(), name
    for folder_path in (loop, ours):
        done = subprocess.run(
            [sys.executable, "-m", "hfc_detect", "curve", str(folder_path), "--resamples", "200"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    curve = (loop / "curve.csv").read_text()
    assert len(curve.splitlines()) == 1 + 2 * len(TWO_RADII)
    assert curve == (ours / "curve.csv").read_text()
