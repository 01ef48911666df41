"""Import optional dependencies lazily, failing with a one-line hint on how to install them;
and load a user's ``package.module:attribute``."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

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


def load_object(spec: str, *, what: str) -> Any:
    """The attribute ``spec`` (``package.module:attribute``) names; InputError starting with
    ``what`` (e.g. ``"backend 'pkg.mod:Cls'"``) when its module cannot be imported (missing,
    or failing as it loads: a syntax error, an exception at its top level) or lacks it."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"{what}: cannot import {module_name!r} ({exc})") from None
    except Exception as exc:  # the user's module failed as it ran: one line, not a traceback
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise InputError(f"{what}: cannot import {module_name!r} ({reason})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise InputError(f"{what}: {module_name!r} has no attribute {attr!r}") from None
