"""``EvalConfig``: the settings of one ``hfc-detect eval`` run, in one frozen object.

The CLI builds it from its options, :func:`~hfc_detect.pipeline.run.run_eval` takes it, and
``run.json`` is it as JSON (resolved: the dataset's files, the backend and the output folder
filled in). :data:`RESULT_FIELDS` are the settings that determine the results; a re-run on the
same folder must repeat them, the others (device, batch size, workers, threads) may change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from hfc_detect.evaluation.params import check_iou_type
from hfc_detect.frequency import check_pixel_mode
from hfc_detect.frequency.variant import (
    COMPONENTS,
    KINDS,
    check_radii,
    parse_band,
    parse_corruption,
    parse_kinds,
    parse_transform,
)
from hfc_detect.utils.errors import InputError

RESULT_FIELDS = ("radii", "variants", "bands", "corruptions", "transforms", "annotations",
                 "images", "backend", "config_file", "weights", "overrides", "pixel_mode",
                 "limit", "iou_type")  # fmt: skip
OPTIONAL_FIELDS = ("bands", "corruptions", "transforms")  # in results_key only when given


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how. Every field has the CLI option of the same name (``--set`` for
    ``overrides``, ``--radius`` for ``radii``); defaults are documented in docs/eval.md.

    ``dataset`` or ``annotations`` + ``images`` choose the data (neither: COCO val2017 where
    Detectron2 looks, else the bundled demo). ``backend`` (or a ready detector passed to
    ``run_eval``) is built with ``config_file``, ``weights``, ``overrides`` and ``device``.
    ``output`` None: a folder under ``runs/`` named after the settings, so the same command
    resumes. ``corruptions``: (name, severity) pairs (``--corruption NAME:SEVERITY``);
    ``transforms``: (NAME, package.module:function) pairs (``--transform``): the function's
    identity is a result setting, its code is not checked. ``iou_type`` (bbox, segm,
    keypoints): what the detections carry besides boxes and what is scored; one per run.
    ``num_workers`` / ``threads`` None: CPU defaults that do not oversubscribe the cores
    (:func:`hfc_detect.pipeline.environment.cpu_defaults`).
    """

    radii: tuple[float, ...]
    variants: tuple[str, ...] = KINDS
    bands: tuple[tuple[float, float], ...] = ()
    corruptions: tuple[tuple[str, int], ...] = ()
    transforms: tuple[tuple[str, str], ...] = ()
    dataset: str | None = None
    annotations: str | None = None
    images: str | None = None
    backend: str | None = None
    config_file: str | None = None
    weights: str | None = None
    overrides: tuple[str, ...] = ()
    pixel_mode: str = "raw"
    iou_type: str = "bbox"
    limit: int | None = None
    output: str | None = None
    resume: bool = False
    device: str | None = None
    batch_size: int = 1
    num_workers: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("variants", tuple(parse_kinds(self.variants)))
        split = any(kind in COMPONENTS for kind in self.variants)  # LFC/HFC need a radius
        put("radii", tuple(check_radii(self.radii, required=split)))
        bands = tuple(parse_band(b) if isinstance(b, str) else parse_band(f"{b[0]}:{b[1]}")
                      for b in self.bands)  # fmt: skip
        if len(set(bands)) != len(bands):
            raise InputError("a --band is given twice")
        put("bands", bands)
        corruptions = tuple(parse_corruption(c if isinstance(c, str) else f"{c[0]}:{c[1]}")
                            for c in self.corruptions)  # fmt: skip
        if len(set(corruptions)) != len(corruptions):
            raise InputError("a --corruption is given twice")
        put("corruptions", corruptions)
        transforms = tuple(parse_transform(t if isinstance(t, str) else f"{t[0]}={t[1]}")
                           for t in self.transforms)  # fmt: skip
        if len({name for name, _ in transforms}) != len(transforms):
            raise InputError("a --transform NAME is given twice")
        put("transforms", transforms)
        put("overrides", tuple(self.overrides))
        for name in ("annotations", "images", "output"):
            if getattr(self, name) is not None:
                put(name, str(getattr(self, name)))
        check_pixel_mode(self.pixel_mode)
        check_iou_type(self.iou_type)
        for name, low in (("batch_size", 1), ("num_workers", 0), ("threads", 1), ("limit", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                option = name.replace("_", "-")
                raise InputError(f"--{option} must be >= {low}, got {value}")

    def to_json(self) -> dict[str, Any]:
        """This config as a JSON object (lists for tuples)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        for name in OPTIONAL_FIELDS:
            out[name] = [list(item) for item in getattr(self, name)]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalConfig:
        """The config :meth:`to_json` wrote; TypeError/ValueError when it is not one."""
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not set(data) <= names:
            raise TypeError("not an EvalConfig")
        return cls(**data)

    def results_key(self) -> dict[str, Any]:
        """The settings that determine the results, as JSON (no ``bands``, ``corruptions`` or
        ``transforms`` entry where none is given, so the default folder of a run without them is
        the one earlier releases chose)."""
        return {k: v for k, v in self.to_json().items()
                if k in RESULT_FIELDS and (v or k not in OPTIONAL_FIELDS)}  # fmt: skip


def default_output(config: EvalConfig, annotations_sha256: str) -> Path:
    """``runs/eval-<data>-<backend>-r<radii>-<hash>`` (no ``-r<radii>`` in a run without radii):
    the same settings (and the same annotation content) always give the same folder, so
    re-running the same command resumes it."""
    key = json.dumps({**config.results_key(), "sha256": annotations_sha256}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    data = config.dataset or Path(config.annotations or "data").stem
    backend = re.split(r"[.:]", config.backend or "detector")[-1]
    radii = "-".join(f"{r:g}" for r in config.radii)
    split = f"-r{radii}" if radii else ""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"eval-{data}-{backend}{split}-{digest}")
    return Path("runs") / name


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
