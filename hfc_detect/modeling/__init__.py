"""Detectors behind one small protocol, built by backend name."""

from hfc_detect.modeling.base import Detections, Detector
from hfc_detect.modeling.registry import build_detector, list_backends, register_backend

register_backend(
    "detectron2", "hfc_detect.modeling.detectron2_backend", "build_detectron2", config_files=True
)
register_backend("torchvision", "hfc_detect.modeling.torchvision_backend", "build_torchvision")
register_backend(
    "torchvision-maskrcnn", "hfc_detect.modeling.torchvision_backend", "build_torchvision_maskrcnn"
)
register_backend(
    "torchvision-keypointrcnn",
    "hfc_detect.modeling.torchvision_backend",
    "build_torchvision_keypointrcnn",
)
register_backend(
    "onnx-yolox",
    "hfc_detect.modeling.onnx_yolox",
    "build_onnx_yolox",
    needs_weights="PATH.onnx (no default download)",
)
register_backend(
    "ultralytics",
    "hfc_detect.modeling.ultralytics_backend",
    "build_ultralytics",
    names_classes=True,
    needs_weights="MODEL.pt",
)
register_backend(
    "transformers",
    "hfc_detect.modeling.transformers_backend",
    "build_transformers",
    names_classes=True,
    needs_weights="DIR or a Hub model id",
)
register_backend("demo", "hfc_detect.modeling.demo_detector", "build_demo_detector")

__all__ = ["Detections", "Detector", "build_detector", "list_backends", "register_backend"]
