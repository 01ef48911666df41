"""Models registered by name, so that configs, checkpoints and the CLI can name them."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from hfc_detect.utils.errors import InputError

ModelBuilder = Callable[..., nn.Module]
_REGISTRY: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder(num_classes=..., **options) -> nn.Module`` under ``name``."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = builder
        return builder

    return decorator


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def build_model(name: str, **options) -> nn.Module:
    """Build the model registered as ``name``; unknown names raise :class:`InputError`."""
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise InputError(
            f"unknown architecture {name!r}; choose one of: {', '.join(list_models())}"
        ) from None
    return builder(**options)
