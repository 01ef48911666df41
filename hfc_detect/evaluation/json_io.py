"""Reading COCO JSON files and checking their values: one :class:`InputError` per problem,
naming the file and what is wrong."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.evaluation import columnar
from hfc_detect.utils.errors import InputError


def read_json(path: str | Path, what: str) -> Any:
    """The JSON file ``path`` (a ``what`` file: annotations, predictions, ...), parsed fast;
    InputError naming the file when it is missing, unreadable or not valid JSON."""
    path = Path(path)
    return parse_json(read_bytes(path, what), path, what)


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of the ``what`` file ``path``; InputError when it is missing or unreadable."""
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what} file ({exc})") from None


def parse_json(data: bytes, path: Path, what: str) -> Any:
    """``data`` (the bytes of ``path``) parsed; InputError when it is not valid JSON."""
    try:
        with columnar.paused_gc():
            return _parse_json(data)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read {what} file ({exc})") from None


def _parse_json(data: bytes) -> Any:
    """orjson where installed (several times faster on big results files), else json.

    Text orjson rejects is handed to json, which also reads NaN/Infinity (then rejected as
    non-finite numbers with a precise message) and reports the position of real syntax errors.
    """
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_box(box: Any, where: str) -> None:
    if not isinstance(box, (list, tuple, np.ndarray)) or len(box) != 4:
        raise InputError(f"{where}: 'bbox' must be a list [x, y, width, height], got {box!r}")
    if not all(is_number(v) and math.isfinite(v) for v in box):
        raise InputError(f"{where}: 'bbox' must hold 4 finite numbers, got {box!r}")
    if box[2] < 0 or box[3] < 0:
        raise InputError(f"{where}: 'bbox' width and height must be >= 0, got {box!r}")


def json_records(data: dict, key: str, source: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise InputError(f"{source}: missing the '{key}' list of a COCO annotation file")
    return value


def reject_duplicates(ids: Sequence[int] | np.ndarray, what: str) -> None:
    arr = np.array(ids, dtype=np.int64)
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"{what} {int(uniq[counts > 1][0])} appears more than once")


def json_type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string"}.get(type(value), type(value).__name__)
