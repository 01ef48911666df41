"""Import optional dependencies lazily, failing with a one-line hint on how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

from hfc_detect.utils.errors import InputError


def require(module: str, *, purpose: str, install: str) -> ModuleType:
    """Import ``module`` or raise :class:`InputError` saying what needs it and how to get it.

    ``purpose`` names what needs the module (e.g. ``"the detectron2 backend"``) and ``install``
    says how to install it (and may name alternatives); both go into a single-line message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        if exc.name in (package, module):
            message = f"{purpose} needs {package!r}, which is not installed; {install}"
        else:
            message = f"{purpose} cannot import {module!r} ({exc}); {install}"
        raise InputError(" ".join(message.split())) from None
