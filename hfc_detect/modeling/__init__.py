"""Detectors behind one small protocol, built by backend name."""

from hfc_detect.modeling.base import Detections, Detector
from hfc_detect.modeling.registry import build_detector, list_backends, register_backend

__all__ = ["Detections", "Detector", "build_detector", "list_backends", "register_backend"]
