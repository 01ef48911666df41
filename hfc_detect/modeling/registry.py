"""Detector backends by name, plus ``package.module:Class`` for user detectors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hfc_detect.modeling.base import Detector
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import load_object

BackendBuilder = Callable[..., Detector]


@dataclass(frozen=True)
class _Backend:
    """A registered backend: where its builder is (imported lazily) and what it takes."""

    module: str
    builder: str
    names_classes: bool
    config_files: bool
    needs_weights: str | None


_BACKENDS: dict[str, _Backend] = {}


def register_backend(
    name: str,
    module: str,
    builder: str,
    *,
    names_classes: bool = False,
    config_files: bool = False,
    needs_weights: str | None = None,
) -> None:
    """Register ``module.builder(**options) -> Detector`` as backend ``name`` (imported lazily).

    ``names_classes``: the model names its classes (Ultralytics, transformers) and the builder
    takes ``categories`` (the annotation file's category id -> name) to map them to ids.
    ``config_files``: the builder takes ``config_file`` (elsewhere ``--config-file`` is refused
    before it is called). ``needs_weights``: what ``--weights`` must name where the backend
    has no default weights (e.g. ``"MODEL.pt"``; refused without it, before it is called).
    """
    _BACKENDS[name] = _Backend(module, builder, names_classes, config_files, needs_weights)


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
        entry = _BACKENDS[backend]
        _check_options(backend, entry, options)
        factory = _load(f"{entry.module}:{entry.builder}")
        if entry.names_classes:
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


def _check_options(name: str, entry: _Backend, options: Mapping[str, Any]) -> None:
    """InputError where ``options`` give a config file the backend does not take, or lack the
    weights it needs."""
    if options.get("config_file") is not None and not entry.config_files:
        takes = ", ".join(n for n, b in sorted(_BACKENDS.items()) if b.config_files)
        raise InputError(f"--config-file applies to the {takes} backend only, not {name}")
    if entry.needs_weights and options.get("weights") is None:
        raise InputError(f"the {name} backend needs --weights {entry.needs_weights}")
