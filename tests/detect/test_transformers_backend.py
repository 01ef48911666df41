"""The transformers backend against transformers' own processor + model +
``post_process_object_detection``, with a small seeded random-weight RT-DETR (``RTDetrConfig``)
saved with ``save_pretrained`` and its image processor, COCO's class names in ``id2label``.
Skipped where transformers is not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.frequency import split
from hfc_detect.modeling import Detector, build_detector
from hfc_detect.utils.errors import InputError
from tests.detect.test_ultralytics_backend import (
    assert_same_detections,
    first_images,
    run_cli_pipeline,
)

SUBSET = "data/coco-val2017-subset"
SIZE = 256  # the processor's square input size: small, for fast tests

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def categories(shared_dir) -> dict[int, str]:
    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    return {c["id"]: c["name"] for c in data["categories"]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, categories) -> str:
    """A small RT-DETR (ResNet backbone of depth 1 per stage, one encoder/decoder layer, 100
    queries) with seeded random weights and COCO's 80 names, saved as a user's folder."""
    transformers = pytest.importorskip("transformers")

    names = dict(enumerate(categories.values()))
    backbone = transformers.RTDetrResNetConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[64, 128, 256, 512], embedding_size=32,
        out_features=["stage2", "stage3", "stage4"],
    )  # fmt: skip
    config = transformers.RTDetrConfig(
        backbone_config=backbone, encoder_in_channels=[128, 256, 512], encoder_hidden_dim=64,
        d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128, encoder_layers=1, decoder_layers=1,
        decoder_in_channels=[64, 64, 64], num_queries=100, id2label=names,
        label2id={name: i for i, name in names.items()},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.RTDetrForObjectDetection(config).eval()
    folder = tmp_path_factory.mktemp("rtdetr")
    model.save_pretrained(folder)
    transformers.RTDetrImageProcessor(size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def detector(model_dir, categories):
    return build_detector("transformers", weights=model_dir, categories=categories, device="cpu")


def rgb_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()


def reference(path, model_dir: str, categories: dict[int, str]):
    """transformers' own path on the file: PIL image -> processor -> model ->
    post_process_object_detection(threshold=0), the 100 best, labels mapped by name."""
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForObjectDetection

    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForObjectDetection.from_pretrained(model_dir).eval()
    image = Image.open(path).convert("RGB")
    with torch.no_grad():
        outputs = model(**processor(images=image, return_tensors="pt"))
    (result,) = processor.post_process_object_detection(
        outputs, threshold=0.0, target_sizes=[(image.height, image.width)]
    )
    order = torch.argsort(result["scores"], descending=True, stable=True)[:100]
    by_name = {name: cid for cid, name in categories.items()}
    ids = [by_name[model.config.id2label[int(k)]] for k in result["labels"][order]]
    return result["boxes"][order].numpy(), result["scores"][order].numpy(), ids


def test_transformers_equals_its_own_pipeline_on_real_images(
    detector, model_dir, categories, shared_dir
):
    assert isinstance(detector, Detector) and detector.channel_order == "RGB"
    for path in first_images(shared_dir):
        (ours,) = detector.detect([rgb_tensor(read_image(path))])
        assert len(ours) == 100
        assert_same_detections(ours, *reference(path, model_dir, categories))


def test_transformers_float_path_equals_the_uint8_path_where_nothing_is_resized(
    detector, shared_dir
):
    """At the processor's own size (no resize) a float32 tensor holding the same integers gives
    exactly the uint8 result: rescaling and normalising treat floats as they treat uint8."""
    image = read_image(first_images(shared_dir)[0])[:SIZE, :SIZE]
    pixels = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    as_uint8 = detector.to_detections(detector.predict(pixels))
    as_float = detector.to_detections(detector.predict(pixels.float()))
    assert_same_detections(as_float, as_uint8.boxes, as_uint8.scores, as_uint8.category_ids)
    # with a resize, the model inputs differ by less than one level (torchvision's uint8 rounding)
    whole = rgb_tensor(read_image(first_images(shared_dir)[0]))
    inputs = [detector.processor(images=[x], return_tensors="pt",
                                 input_data_format="channels_first")["pixel_values"] * 255
              for x in (whole.to(torch.uint8), whole)]  # fmt: skip
    assert 0 < (inputs[0] - inputs[1]).abs().max() < 1


def test_transformers_lfc_reaches_the_model_unrounded(detector, shared_dir):
    rgb = read_image(first_images(shared_dir)[0]).astype(np.float64)
    lfc = split(rgb, 16)[0]
    assert lfc.min() < 0 or lfc.max() > 255
    (floats,) = detector.detect([rgb_tensor(lfc)])
    (rounded,) = detector.detect([rgb_tensor(np.clip(np.round(lfc), 0, 255))])
    assert not np.allclose(floats.scores, rounded.scores)
    inputs = detector.processor(images=[rgb_tensor(lfc - 300.0)], return_tensors="pt",
                                input_data_format="channels_first")  # fmt: skip
    assert inputs["pixel_values"].max() < 0  # neither clipped nor wrapped to uint8


def test_transformers_labels_map_by_name(detector, categories):
    from hfc_detect.modeling.transformers_backend import TransformersDetector

    assert detector.category_of == dict(enumerate(categories))
    renamed = {cid: name.upper() if name != "cat" else "kitty" for cid, name in categories.items()}
    with pytest.raises(InputError, match=r"1 of the model's classes .*15:'cat'") as info:
        TransformersDetector(detector.model, detector.processor, renamed)  # case is ignored
    assert "\n" not in str(info.value)


def test_transformers_options_and_errors(model_dir, categories, tmp_path):
    detector = build_detector("transformers", weights=model_dir, categories=categories,
                              overrides=["max_detections=7", "threshold=0.01"])  # fmt: skip
    (result,) = detector.detect([torch.full((3, 50, 70), 100.0)])
    assert len(result) <= 7 and (result.scores > 0.01).all()
    with pytest.raises(InputError, match="options are threshold, max_detections"):
        build_detector("transformers", weights=model_dir, categories=categories,
                       overrides=["top_k=3"])  # fmt: skip
    with pytest.raises(InputError, match="needs --weights DIR"):
        build_detector("transformers", categories=categories)
    with pytest.raises(InputError, match="cannot load transformers model") as info:
        build_detector("transformers", weights=str(tmp_path / "missing"), categories=categories)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_transformers_cli_radii_resume_curve_heatmap_gallery(model_dir, shared_dir, tmp_path):
    report = run_cli_pipeline("transformers", model_dir, shared_dir, tmp_path, "bbox")
    assert (report / "index.html").is_file()
