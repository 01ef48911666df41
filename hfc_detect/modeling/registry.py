"""Detector backends by name, plus ``package.module:Class`` for user detectors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hfc_detect.modeling.base import Detector
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import load_object

BackendBuilder = Callable[..., Detector]
_BACKENDS: dict[str, tuple[str, str]] = {}  # name -> (module, builder function); loaded lazily
_NAMED_CLASSES: set[str] = set()  # backends whose models name their classes (see build_detector)


def register_backend(name: str, module: str, builder: str, *, names_classes: bool = False) -> None:
    """Register ``module.builder(**options) -> Detector`` as backend ``name`` (imported lazily).

    ``names_classes``: the model names its classes (Ultralytics, transformers) and the builder
    takes ``categories`` (the annotation file's category id -> name) to map them to ids.
    """
    _BACKENDS[name] = (module, builder)
    if names_classes:
        _NAMED_CLASSES.add(name)


def list_backends() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_BACKENDS)


def _load(spec: str) -> Callable[..., Any]:
    return load_object(spec, what=f"backend {spec!r}")


def build_detector(
    backend: str, *, categories: Mapping[int, str] | None = None, **options: Any
) -> Detector:
    """Build a detector by registered name, or from ``package.module:Class`` (called with the
    options as keyword arguments); the result must implement :class:`Detector`.

    ``categories``: the annotation file's category id -> name, passed on to the backends whose
    models name their classes (registered with ``names_classes``); the others ignore it.
    """
    if backend in _BACKENDS:
        module, builder = _BACKENDS[backend]
        factory = _load(f"{module}:{builder}")
        if backend in _NAMED_CLASSES:
            options["categories"] = categories
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
