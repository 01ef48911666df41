"""Detector backends by name, plus ``package.module:Class`` for user detectors."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from hfc_detect.modeling.base import Detector
from hfc_detect.utils.errors import InputError

BackendBuilder = Callable[..., Detector]
_BACKENDS: dict[str, tuple[str, str]] = {}  # name -> (module, builder function); loaded lazily


def register_backend(name: str, module: str, builder: str) -> None:
    """Register ``module.builder(**options) -> Detector`` as backend ``name`` (imported lazily)."""
    _BACKENDS[name] = (module, builder)


def list_backends() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_BACKENDS)


def _load(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"backend {spec!r}: cannot import {module_name!r} ({exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise InputError(f"backend {spec!r}: {module_name!r} has no attribute {attr!r}") from None


def build_detector(backend: str, **options: Any) -> Detector:
    """Build a detector by registered name, or from ``package.module:Class`` (called with the
    options as keyword arguments); the result must implement :class:`Detector`."""
    if backend in _BACKENDS:
        module, builder = _BACKENDS[backend]
        factory = _load(f"{module}:{builder}")
    elif ":" in backend:
        factory = _load(backend)
    else:
        raise InputError(
            f"unknown backend {backend!r}; choose one of {', '.join(list_backends())} "
            "or give package.module:Class"
        )
    detector = factory(**options)
    if not isinstance(detector, Detector):
        raise InputError(f"backend {backend!r} did not build a Detector (see hfc_detect.modeling)")
    return detector
