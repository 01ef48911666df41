"""CPU defaults of ``eval`` that do not oversubscribe the cores, and the versions it records."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata

from hfc_detect import __version__

VERSIONED = ("torch", "torchvision", "detectron2", "numpy", "pycocotools", "onnxruntime")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def cpu_defaults(
    num_workers: int | None, threads: int | None, *, on_cpu: bool, cpus: int | None = None
) -> tuple[int, int | None]:
    """(DataLoader workers, torch/onnxruntime intra-op threads) for a run.

    Given values are kept. Otherwise workers = min(2, cpus - 1) (decoding overlaps inference
    without taking the model's core on a 1- or 2-core machine), and, when the model runs on the
    CPU, threads = cpus - workers, at least 1: one busy thread per core in all. torch's own
    default (every core) plus 2 workers plus onnxruntime's own spinning pool made a 206-image
    YOLOX run on 2 cores take 19.3 s against 13.4 s with 1 thread. On a GPU threads stay
    torch's choice (None).
    """
    cpus = usable_cpus() if cpus is None else cpus
    if num_workers is None:
        num_workers = max(0, min(2, cpus - 1))
    if threads is None and on_cpu:
        threads = max(1, cpus - num_workers)
    return num_workers, threads


def versions(extra: Sequence[str] = ()) -> dict[str, str | None]:
    """Versions of Python, this toolkit and the libraries a run depends on (None: absent), and
    of the ``extra`` distributions (by their pip names) this run uses.

    Package metadata first; a module without it (Detectron2 built from source in place, on
    ``PYTHONPATH``) falls back to its ``__version__``, importing it only when it is installed.
    """
    out: dict[str, str | None] = {"hfc-toolkit": __version__, "python": platform.python_version()}
    for name in (*VERSIONED, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = _module_version(name)
    return out


def _module_version(name: str) -> str | None:
    module = sys.modules.get(name)
    if module is None:
        if importlib.util.find_spec(name) is None:
            return None
        try:
            module = importlib.import_module(name)
        except Exception:  # a broken install records no version rather than failing the run
            return None
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None
