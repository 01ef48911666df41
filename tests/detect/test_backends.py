"""The bundled detector backends: protocol, coordinates, label maps, errors, and (where
detectron2 is installed) equality with Detectron2's own test-time path."""

from __future__ import annotations

import json
import sys
import urllib.error

import cv2
import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.modeling import Detections, Detector, build_detector
from hfc_detect.modeling.class_names import class_to_category, map_labels
from hfc_detect.modeling.common import COCO_CATEGORY_IDS, as_exact_uint8
from hfc_detect.modeling.torchvision_backend import TorchvisionDetector, build_torchvision
from hfc_detect.utils.errors import InputError

SUBSET = "data/coco-val2017-subset"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish random uint8 (H, W, 3) image (blobs give random detectors something)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(height // 8, 1), max(width // 8, 1), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()


def nearest_2x(image: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)


# ---------------------------------------------------------------------------------- common


def test_coco_category_ids_are_the_80_thing_ids():
    assert len(COCO_CATEGORY_IDS) == 80 == len(set(COCO_CATEGORY_IDS))
    assert list(COCO_CATEGORY_IDS) == sorted(COCO_CATEGORY_IDS)
    unused = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
    assert set(COCO_CATEGORY_IDS) == set(range(1, 91)) - unused


def test_coco_category_ids_match_the_real_annotations(shared_dir):
    gt = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    assert sorted(c["id"] for c in gt["categories"]) == list(COCO_CATEGORY_IDS)


def test_as_exact_uint8():
    image = np.array([[0.0, 17.0], [254.0, 255.0]], dtype=np.float32)
    assert as_exact_uint8(image).dtype == np.uint8
    np.testing.assert_array_equal(as_exact_uint8(image), image)
    assert as_exact_uint8(image + 0.25) is None
    assert as_exact_uint8(image - 1) is None
    assert as_exact_uint8(image + 1) is None


def test_class_names_map_to_categories_by_name():
    names = {0: "N/A", 1: "Person", 2: " bicycle ", 12: "N/A"}  # DETR's placeholders
    mapping = class_to_category(names, {1: "person", 2: "bicycle", 3: "car"}, backend="x")
    assert mapping == {1: 1, 2: 2}
    keep, ids = map_labels(np.array([1, 0, 2, 12, 2]), mapping)
    assert keep.tolist() == [0, 2, 4] and ids.tolist() == [1, 2, 2]
    with pytest.raises(InputError, match=r"x: 2 of the model's classes .*1:'car', 2:'bus'"):
        class_to_category({0: "person", 1: "car", 2: "bus"}, {1: "person"}, backend="x")
    with pytest.raises(InputError, match="two categories are named 'A'"):
        class_to_category({0: "a"}, {1: "a", 2: "A"}, backend="x")
    with pytest.raises(InputError, match=r"categories=\{id: name"):
        class_to_category({0: "a"}, None, backend="x")


def test_the_registry_refuses_what_a_backend_does_not_take_before_loading_it(monkeypatch):
    """Missing weights and a config file a backend does not read are one error line each,
    decided from the registry before the backend's module is imported."""
    from hfc_detect.modeling import registry

    def fail(spec):
        raise AssertionError(f"{spec} was loaded")

    monkeypatch.setattr(registry, "_load", fail)
    for backend, what in [("onnx-yolox", "PATH.onnx"), ("ultralytics", "MODEL.pt"),
                          ("transformers", "DIR or a Hub model id")]:  # fmt: skip
        with pytest.raises(InputError, match=f"the {backend} backend needs --weights {what}"):
            build_detector(backend, categories={1: "person"})
    for backend in ("torchvision", "onnx-yolox", "ultralytics", "transformers", "demo"):
        message = f"--config-file applies to the detectron2 backend only, not {backend}"
        with pytest.raises(InputError, match=message):
            build_detector(backend, weights="w", config_file="c.yaml", categories={})


@pytest.mark.parametrize(
    ("backend", "package"), [("ultralytics", "ultralytics"), ("transformers", "transformers")]
)
def test_framework_backends_need_weights_and_name_their_extra(backend, package, monkeypatch):
    with pytest.raises(InputError, match="needs --weights"):
        build_detector(backend, categories={1: "person"})
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(InputError, match=rf"pip install {package} \(or this project's") as info:
        build_detector(backend, weights="yolov8n.pt", categories={1: "person"})
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- torchvision


@pytest.fixture(scope="module")
def random_retinanet() -> torch.nn.Module:
    from torchvision.models.detection import retinanet_resnet50_fpn

    torch.manual_seed(0)
    return retinanet_resnet50_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=91,
        min_size=64,
        max_size=128,
        score_thresh=0.0,
        detections_per_img=50,
    ).eval()


def test_torchvision_detector_protocol_and_labels(random_retinanet):
    detector = TorchvisionDetector(random_retinanet, device="cpu")
    assert isinstance(detector, Detector)
    assert detector.channel_order == "RGB"
    images = [random_image(96, 160, seed=1), random_image(120, 80, seed=2)]
    results = detector.detect([as_tensor(im) for im in images])
    assert len(results) == 2 and all(isinstance(r, Detections) for r in results)
    for image, result in zip(images, results, strict=True):
        assert 0 < len(result) <= 50
        assert result.boxes.shape == (len(result), 4) and result.category_ids.dtype == np.int64
        # torchvision's labels are COCO category ids: passed through unchanged, in 1..90
        with torch.no_grad():
            raw = random_retinanet([as_tensor(image) / 255.0])[0]
        np.testing.assert_array_equal(result.category_ids, raw["labels"].numpy())
        assert result.category_ids.min() >= 1 and result.category_ids.max() <= 90
        h, w = image.shape[:2]
        assert result.boxes[:, [0, 2]].max() <= w and result.boxes[:, [1, 3]].max() <= h


def test_torchvision_boxes_are_in_original_coordinates(random_retinanet):
    """A 2x nearest-upsampled image is resized back to exactly the small one (bilinear, factor
    1/2, averaging equal pixels), so its detections must be the small image's, times two."""
    detector = TorchvisionDetector(random_retinanet, device="cpu")
    small = random_image(64, 96, seed=3)
    small_result, big_result = detector.detect([as_tensor(small), as_tensor(nearest_2x(small))])
    assert len(small_result) > 0
    assert small_result.boxes[:, 2].max() > 48  # not clipped to a half-size image
    np.testing.assert_allclose(big_result.boxes, 2 * small_result.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(big_result.scores, small_result.scores, rtol=1e-5)
    np.testing.assert_array_equal(big_result.category_ids, small_result.category_ids)


def test_torchvision_labels_are_coco_category_ids():
    from torchvision.models.detection import RetinaNet_ResNet50_FPN_Weights

    categories = RetinaNet_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    assert len(categories) == 91 and categories[0] == "__background__"
    named = [i for i, name in enumerate(categories) if name not in ("__background__", "N/A")]
    assert named == list(COCO_CATEGORY_IDS)


def test_torchvision_label_names_match_coco_annotations(shared_dir):
    from torchvision.models.detection import RetinaNet_ResNet50_FPN_Weights

    categories = RetinaNet_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    gt = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    assert {c["id"]: c["name"] for c in gt["categories"]} == {
        i: categories[i] for i in COCO_CATEGORY_IDS
    }


def test_torchvision_builder_loads_local_weights(random_retinanet, tmp_path):
    path = tmp_path / "retinanet.pth"
    torch.save({"model": random_retinanet.state_dict()}, path)  # reference-script layout
    detector = build_detector(
        "torchvision",
        weights=str(path),
        device="cpu",
        overrides=["min_size=64", "max_size=128", "score_thresh=0.0", "detections_per_img=50"],
    )
    image = as_tensor(random_image(80, 100, seed=4))
    expected = TorchvisionDetector(random_retinanet, device="cpu").detect([image])[0]
    got = detector.detect([image])[0]
    np.testing.assert_array_equal(got.boxes, expected.boxes)
    np.testing.assert_array_equal(got.category_ids, expected.category_ids)


def test_torchvision_builder_errors(tmp_path, monkeypatch):
    from torchvision.models.detection import RetinaNet_ResNet50_FPN_Weights

    with pytest.raises(InputError, match="does not exist"):
        build_torchvision(weights=tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="do not fit retinanet_resnet50_fpn"):
        build_torchvision(weights=bad)
    with pytest.raises(InputError, match="KEY=VALUE"):
        build_torchvision(weights=bad, overrides=["min_size"])
    with pytest.raises(InputError, match="applies to the detectron2 backend only, not torchvision"):
        build_detector("torchvision", config_file="x.yaml")

    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(type(RetinaNet_ResNet50_FPN_Weights.COCO_V1), "get_state_dict", offline)
    with pytest.raises(InputError, match="--weights PATH") as info:
        build_torchvision()
    assert "\n" not in str(info.value) and "retinanet_resnet50_fpn_coco" in str(info.value)


# ------------------------------------------------------------------------------ onnx-yolox


def test_onnx_yolox_needs_weights_and_onnxruntime(tmp_path, monkeypatch):
    with pytest.raises(InputError, match=r"--weights PATH\.onnx"):
        build_detector("onnx-yolox")
    with pytest.raises(InputError, match="does not exist"):
        build_detector("onnx-yolox", weights=str(tmp_path / "missing.onnx"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(InputError, match="pip install onnxruntime") as info:
        build_detector("onnx-yolox", weights=str(tmp_path / "missing.onnx"))
    assert "\n" not in str(info.value)


@pytest.fixture(scope="module")
def yolox(shared_dir):
    pytest.importorskip("onnxruntime")
    return build_detector("onnx-yolox", weights=str(shared_dir / "models/yolox_nano.onnx"))


def test_onnx_yolox_protocol_on_a_real_image(yolox, shared_dir):
    assert isinstance(yolox, Detector) and yolox.channel_order == "BGR"
    path = sorted((shared_dir / SUBSET / "val2017").glob("*.jpg"))[0]
    bgr = read_image(path)[:, :, ::-1]
    (result,) = yolox.detect([as_tensor(bgr)])
    assert 0 < len(result) <= 100
    assert set(result.category_ids) <= set(COCO_CATEGORY_IDS)
    assert np.all(np.diff(result.scores) <= 0) and result.scores.min() > 0.001
    h, w = bgr.shape[:2]
    assert result.boxes[:, 2].max() > 416 * w / max(h, w) / 2  # original scale, not letterbox


def test_onnx_yolox_boxes_are_in_original_coordinates(yolox):
    """416x208 needs no resize; its 2x nearest upsample is resized back to exactly it."""
    small = random_image(416, 208, seed=5)
    small_result, big_result = yolox.detect([as_tensor(small), as_tensor(nearest_2x(small))])
    assert len(small_result) > 0
    np.testing.assert_allclose(big_result.boxes, 2 * small_result.boxes, rtol=1e-6, atol=1e-3)
    np.testing.assert_array_equal(big_result.category_ids, small_result.category_ids)


def test_onnx_yolox_float_images_are_not_clipped(yolox):
    """LFC/HFC images (floats, may leave 0..255) go in unclipped, not cast to uint8."""
    image = random_image(100, 150, seed=6).astype(np.float32)
    shifted = image - 300.0  # far outside 0..255: clipping or uint8 casting would erase it
    (a,) = yolox.detect([as_tensor(image)])
    (b,) = yolox.detect([as_tensor(shifted)])
    assert len(a) != len(b) or not np.allclose(a.scores, b.scores)


# ------------------------------------------------------------------------------ detectron2


def test_missing_detectron2_error_is_one_line_with_install_source(monkeypatch):
    loaded = [m for m in sys.modules if m == "detectron2" or m.startswith("detectron2.")]
    for name in {"detectron2", *loaded}:  # also where another test imported it already
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InputError) as info:
        build_detector("detectron2")
    message = str(info.value)
    assert "\n" not in message
    assert "git+https://github.com/facebookresearch/detectron2.git" in message
    assert "--backend torchvision" in message and "onnx-yolox" in message


D2_SETTINGS = [
    "MODEL.WEIGHTS=",
    "MODEL.DEVICE=cpu",
    "INPUT.MIN_SIZE_TEST=96",
    "INPUT.MAX_SIZE_TEST=160",
    "MODEL.RETINANET.SCORE_THRESH_TEST=0.0",
]


@pytest.fixture(scope="module")
def detectron2_detector():
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    torch.manual_seed(0)
    # --set MODEL.DEVICE=cpu wins over eval's default device of another type
    return build_detector("detectron2", overrides=D2_SETTINGS, device="cuda:0")


def reference_detections(detector, path) -> dict:
    """Detectron2's own test path: DatasetMapper(is_train=False) on the file, then the model."""
    from detectron2.data import DatasetMapper

    h, w = read_image(path).shape[:2]
    mapper = DatasetMapper(detector.cfg, is_train=False)
    inputs = mapper({"file_name": str(path), "image_id": 0, "height": h, "width": w})
    with torch.no_grad():
        instances = detector.model([inputs])[0]["instances"]
    return {
        "boxes": instances.pred_boxes.tensor.double().numpy(),
        "scores": instances.scores.double().numpy(),
        "category_ids": detector.category_ids[instances.pred_classes.numpy()],
    }


def assert_same(result: Detections, expected: dict) -> None:
    assert len(result) > 0
    np.testing.assert_array_equal(result.boxes, expected["boxes"])
    np.testing.assert_array_equal(result.scores, expected["scores"])
    np.testing.assert_array_equal(result.category_ids, expected["category_ids"])


def test_detectron2_equals_its_own_test_path(detectron2_detector, tmp_path):
    detector = detectron2_detector
    assert isinstance(detector, Detector) and detector.channel_order == "BGR"
    assert detector.device == torch.device("cpu")
    assert list(detector.category_ids) == list(COCO_CATEGORY_IDS)
    path = tmp_path / "image.png"  # lossless, so both readers see the same pixels
    rgb = random_image(120, 200, seed=7)
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    (result,) = detector.detect([as_tensor(read_image(path)[:, :, ::-1])])
    assert result.boxes[:, 2].max() <= 200 and result.boxes[:, 2].max() > 160 / 2
    assert_same(result, reference_detections(detector, path))


def test_detectron2_equals_its_own_test_path_on_a_coco_jpeg(detectron2_detector, shared_dir):
    path = sorted((shared_dir / SUBSET / "val2017").glob("*.jpg"))[1]
    bgr = read_image(path)[:, :, ::-1]
    (result,) = detectron2_detector.detect([as_tensor(bgr)])
    assert_same(result, reference_detections(detectron2_detector, path))


def test_detectron2_float_images_take_the_float_path(detectron2_detector):
    image = as_tensor(random_image(60, 90, seed=8)) * 0.5 - 20.0
    inputs = detectron2_detector.model_input(image)
    assert inputs["image"].dtype == torch.float32 and (inputs["height"], inputs["width"]) == (
        60,
        90,
    )
    assert inputs["image"].shape[1:] == (96, 144) and inputs["image"].min() < 0


def test_detectron2_config_errors():
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    with pytest.raises(InputError, match="neither a file nor a Detectron2 model zoo config"):
        build_detector("detectron2", config_file="nope.yaml")
    with pytest.raises(InputError, match="NO_SUCH_KEY"):
        build_detector("detectron2", overrides=["MODEL.NO_SUCH_KEY=1"])
    with pytest.raises(InputError, match="does not exist"):
        build_detector("detectron2", weights="/nonexistent/model.pkl")


LAZY_CONFIG = "COCO-Detection/retinanet_R_50_FPN_1x.py"
LAZY_SETTINGS = [
    "dataloader.test.mapper.augmentations.0.short_edge_length=96",
    "dataloader.test.mapper.augmentations.0.max_size=160",
    "model.test_score_thresh=0.0",
    "model.head.norm=GN",
]


@pytest.mark.slow
def test_detectron2_lazyconfig_builds_runs_and_equals_its_own_test_path(
    shared_dir, one_torch_thread
):
    """A LazyConfig model-zoo ``.py`` with --set as LazyConfig.apply_overrides, compared with
    Detectron2's own LazyConfig test path: instantiate(dataloader.test.mapper), then the model."""
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    from detectron2.config import instantiate

    torch.manual_seed(0)
    detector = build_detector(
        "detectron2", config_file=LAZY_CONFIG, weights="", overrides=LAZY_SETTINGS, device="cpu"
    )
    assert isinstance(detector, Detector) and detector.channel_order == "BGR"
    assert detector.device == torch.device("cpu") and detector.cfg.train.device == "cpu"
    assert list(detector.category_ids) == list(COCO_CATEGORY_IDS)
    path = sorted((shared_dir / SUBSET / "val2017").glob("*.jpg"))[1]
    (result,) = detector.detect([as_tensor(read_image(path)[:, :, ::-1])])
    mapper = instantiate(detector.cfg.dataloader.test.mapper)
    h, w = read_image(path).shape[:2]
    inputs = mapper({"file_name": str(path), "image_id": 0, "height": h, "width": w})
    assert min(inputs["image"].shape[1:]) == 96  # the --set resize took effect
    with torch.no_grad():
        instances = detector.model([inputs])[0]["instances"]
    assert_same(
        result,
        {
            "boxes": instances.pred_boxes.tensor.double().numpy(),
            "scores": instances.scores.double().numpy(),
            "category_ids": detector.category_ids[instances.pred_classes.numpy()],
        },
    )


def test_detectron2_lazyconfig_errors(tmp_path):
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    with pytest.raises(InputError, match="neither a file nor a Detectron2 model zoo config"):
        build_detector("detectron2", config_file="COCO-Detection/nope.py")
    broken = tmp_path / "broken.py"
    broken.write_text("model = undefined_name\n")
    with pytest.raises(InputError, match=r"detectron2 config .*broken\.py: NameError"):
        build_detector("detectron2", config_file=str(broken))
    no_model = tmp_path / "no_model.py"
    no_model.write_text("train = dict(device='cpu')\n")
    with pytest.raises(InputError, match="has no model"):
        build_detector("detectron2", config_file=str(no_model))


class _RecordingDetector:
    """A ``package.module:Class`` backend that keeps the options its builder was given."""

    channel_order = "RGB"
    device = "cpu"

    def __init__(self, **options):
        self.options = options

    def detect(self, images):
        return []


def test_detector_settings_pass_only_the_options_given():
    """eval and heatmap build their detector from one DetectorSettings: the options given
    (overrides as a list), nothing for those left unset."""
    from hfc_detect.modeling.settings import DetectorSettings

    backend = f"{__name__}:_RecordingDetector"
    assert DetectorSettings(backend).build().options == {}
    built = DetectorSettings(backend, weights="w.pt", overrides=("a=1",), device="cpu").build()
    assert built.options == {"weights": "w.pt", "overrides": ["a=1"], "device": "cpu"}
