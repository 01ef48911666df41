"""torchvision's Mask R-CNN and keypoint R-CNN backends (random weights, offline): their masks
and keypoints, and per-image segm AP of their original/LFC/HFC predictions equal to pycocotools.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hfc_detect.evaluation import evaluate, load_annotations, load_predictions
from hfc_detect.frequency import split
from hfc_detect.modeling import build_detector
from tests.detect.test_cocoeval_parity import reference

pytest.importorskip("torchvision")
SUBSET = "data/coco-val2017-subset"
SMALL = ["min_size=160", "max_size=224", "box_score_thresh=0.0", "box_detections_per_img=25"]


def variants(image: np.ndarray) -> dict[str, torch.Tensor]:
    """Original, LFC and HFC (r = 16) of an (H, W, 3) uint8 image as (3, H, W) float tensors."""
    low, high = split(image, 16)
    return {name: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float()
            for name, x in (("original", image), ("lfc", low), ("hfc", high))}  # fmt: skip


@pytest.mark.slow
def test_maskrcnn_segm_ap_per_image_equals_pycocotools(shared_dir, tmp_path, one_torch_thread):
    import cv2

    torch.manual_seed(0)
    detector = build_detector("torchvision-maskrcnn", weights="random", overrides=SMALL)
    data = json.loads((shared_dir / SUBSET / "instances_val2017_subset.json").read_text())
    images = [img for img in data["images"] if img["id"] in (139, 285)]
    ids = {img["id"] for img in images}
    gt = {"images": images, "categories": data["categories"],
          "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    annotations = load_annotations(tmp_path / "gt.json", "segm")
    known = set(annotations.category_ids.tolist())
    results: dict[str, list[dict]] = {"original": [], "lfc": [], "hfc": []}
    for img in images:
        bgr = cv2.imread(str(shared_dir / SUBSET / "val2017" / img["file_name"]))
        for name, tensor in variants(bgr[:, :, ::-1].copy()).items():
            dets = detector.detect([tensor])[0]
            assert len(dets.masks) == len(dets) > 0
            assert all(m["size"] == [img["height"], img["width"]] for m in dets.masks)
            results[name] += [
                {"image_id": img["id"], "category_id": int(c), "segmentation": m,
                 "score": float(s)}
                for c, m, s in zip(dets.category_ids, dets.masks, dets.scores, strict=True)
                if c in known  # random weights also predict the 10 ids COCO never used
            ]  # fmt: skip
    for dets in results.values():
        ev = evaluate(annotations, load_predictions(dets, annotations), "segm")
        whole, per_image = reference(gt, dets, iou_type="segm")
        np.testing.assert_allclose(ev.stats, whole.stats, rtol=0, atol=1e-9)
        for i, image_id in enumerate(ev.image_ids.tolist()):
            np.testing.assert_allclose([ev.ap[i], ev.ap50[i], ev.ap75[i]], per_image[image_id],
                                       rtol=0, atol=1e-9)  # fmt: skip


@pytest.mark.slow
def test_keypointrcnn_gives_person_keypoints(one_torch_thread):
    torch.manual_seed(0)
    detector = build_detector("torchvision-keypointrcnn", weights="random", overrides=SMALL)
    image = torch.rand(3, 120, 160) * 255
    dets = detector.detect([image])[0]
    assert len(dets) > 0 and dets.masks is None
    assert dets.keypoints.shape == (len(dets), 17, 3)
    assert set(dets.category_ids.tolist()) == {1}  # person, COCO category id 1
    # in original coordinates: within each detection's box (up to a heatmap cell)
    x0, y0, x1, y1 = (dets.boxes[:, None, i] for i in range(4))
    cell = np.maximum(x1 - x0, y1 - y0) / 56 + 1
    x, y = dets.keypoints[:, :, 0], dets.keypoints[:, :, 1]
    assert ((x >= x0 - cell) & (x <= x1 + cell) & (y >= y0 - cell) & (y <= y1 + cell)).all()
