"""The Detectron2 backend's masks and keypoints (random-init R-18 Mask / keypoint R-CNN, real
COCO images): the COCO results ``eval`` writes from them equal Detectron2's own
``instances_to_coco_json`` on the same model output, and ``eval --iou-type segm|keypoints``
with them scores like pycocotools. Skips without Detectron2 or ../shared."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.pipeline.predictions import detections_to_rows, rows_to_coco

SUBSET = "data/coco-val2017-subset"
IMAGE = "000000404484.jpg"  # 320x240, persons
SMALL = ["MODEL.DEVICE=cpu", "INPUT.MIN_SIZE_TEST=128", "INPUT.MAX_SIZE_TEST=192",
         "MODEL.RESNETS.DEPTH=18", "MODEL.RESNETS.RES2_OUT_CHANNELS=64",
         "MODEL.ROI_HEADS.SCORE_THRESH_TEST=0.0", "TEST.DETECTIONS_PER_IMAGE=20"]  # fmt: skip
CASES = {
    "segm": ("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml", "segmentation"),
    "keypoints": ("COCO-Keypoints/keypoint_rcnn_R_50_FPN_1x.yaml", "keypoints"),
}


@pytest.mark.slow
@pytest.mark.parametrize("iou_type", list(CASES))
def test_masks_and_keypoints_equal_instances_to_coco_json(iou_type, shared_dir, one_torch_thread):
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    from detectron2.evaluation.coco_evaluation import instances_to_coco_json

    from hfc_detect.modeling.detectron2_backend import build_detectron2

    config_file, field = CASES[iou_type]
    torch.manual_seed(0)
    detector = build_detectron2(config_file=config_file, weights="", overrides=SMALL)
    rgb = read_image(shared_dir / SUBSET / "val2017" / IMAGE)
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1))).float()
    ours = rows_to_coco(7, detections_to_rows(detector.detect([bgr])[0], iou_type))
    with torch.inference_mode():
        instances = detector.model([detector.model_input(bgr)])[0]["instances"].to("cpu")
        theirs = instances_to_coco_json(instances, 7)
    assert len(ours) == len(theirs) > 0
    for o, t in zip(ours, theirs, strict=True):
        assert o["category_id"] == detector.category_ids[t["category_id"]]
        np.testing.assert_allclose(o["bbox"], t["bbox"], rtol=1e-6, atol=1e-4)
        if iou_type == "segm":
            assert o["segmentation"] == t["segmentation"]
            assert o["segmentation"]["size"] == list(rgb.shape[:2])
        else:  # float32-rounded, as every number eval writes; Detectron2's -0.5 shift included
            np.testing.assert_allclose(o[field], t[field], rtol=1e-6, atol=1e-4)
            assert len(o[field]) == 51


@pytest.mark.slow
@pytest.mark.parametrize("iou_type", list(CASES))
def test_detectron2_eval_scores_like_pycocotools(iou_type, shared_dir, tmp_path, one_torch_thread):
    """``run_eval`` with the Detectron2 Mask / keypoint R-CNN: per-image AP of original, LFC and
    HFC equal to pycocotools on the run's own predictions files."""
    pytest.importorskip("detectron2.config", reason="detectron2 is not installed")
    from hfc_detect.modeling.detectron2_backend import build_detectron2
    from tests.detect.test_eval_segm_keypoints import assert_equals_pycocotools, run_on

    torch.manual_seed(0)
    detector = build_detectron2(config_file=CASES[iou_type][0], weights="", overrides=SMALL)
    gt, result = run_on(shared_dir, tmp_path, detector, iou_type)
    assert_equals_pycocotools(gt, result, iou_type, CASES[iou_type][1])
