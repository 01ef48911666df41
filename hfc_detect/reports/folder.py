"""Read a comparison folder (``summary.json`` + ``per_image.csv``) written by ``compare``/``eval``.

The format is described in ``docs/reports.md``; this module only reads and validates it, so that
``wins`` and ``export`` fail with one clear line on a folder that is missing or incomplete.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.evaluation.coco import read_json
from hfc_detect.evaluation.compare import is_integer_column
from hfc_detect.evaluation.params import check_iou_type
from hfc_detect.reports.defaults import PAPER_RADIUS
from hfc_detect.utils.errors import InputError


@dataclass(frozen=True)
class ComparisonFolder:
    """A loaded comparison folder: its summary and its per-image table (one dict per image)."""

    root: Path
    summary: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]

    @property
    def baseline(self) -> str:
        return self.summary["baseline"]

    @property
    def variant_names(self) -> list[str]:
        return [v["name"] for v in self.summary["variants"]]

    def variant(self, name: str) -> dict[str, Any]:
        """The summary entry of variant ``name``."""
        for entry in self.summary["variants"]:
            if entry["name"] == name:
                return entry
        raise InputError(
            f"{self.root}: unknown variant {name!r} (known: {', '.join(self.variant_names)})"
        )

    @property
    def failed_images(self) -> list[dict[str, Any]]:
        """The images the run could not score (``failed_images`` in summary.json: image_id,
        file_name, error); they are in no number of the folder."""
        failed = self.summary.get("failed_images") or []
        return [f for f in failed if isinstance(f, dict)] if isinstance(failed, list) else []

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as float64, NaN where the cell is empty (undefined AP)."""
        if name not in self.columns:
            raise InputError(f"{self.root / 'per_image.csv'}: no column {name!r}")
        return np.array(
            [math.nan if r[name] is None else float(r[name]) for r in self.rows], dtype=np.float64
        )

    def variant_radius(self, variant: str) -> float | None:
        """The radius a variant was made at: from eval's ``variant_kinds``, else a ``_r<r>``
        name; None when neither says."""
        kinds = self.summary.get("variant_kinds") or {}
        if isinstance(kinds.get(variant), dict) and kinds[variant].get("radius") is not None:
            return float(kinds[variant]["radius"])
        match = re.search(r"_r(\d+(?:\.\d+)?)$", variant)
        return float(match.group(1)) if match else None

    def resolve_variant(self, name: str | None) -> str:
        """``name`` checked against the folder; ``None`` picks ``lfc``, else the ``lfc*``
        variant whose radius is nearest the paper's 128 (e.g. ``lfc_r128`` of a sweep), else the
        first non-baseline variant."""
        others = [v for v in self.variant_names if v != self.baseline]
        if name is not None:
            if name == self.baseline:
                raise InputError(f"variant {name!r} is the baseline of {self.root}; pick another")
            self.variant(name)
            return name
        if not others:
            raise InputError(
                f"{self.root}: only the baseline {self.baseline!r}, nothing to compare"
            )
        if "lfc" in others:
            return "lfc"
        lfcs = [v for v in others if v.startswith("lfc")]
        if not lfcs:
            return others[0]
        radii = [self.variant_radius(v) for v in lfcs]
        return min(
            zip(lfcs, radii, strict=True),
            key=lambda vr: math.inf if vr[1] is None else abs(vr[1] - PAPER_RADIUS),
        )[0]


def failed_image_text(failed: dict[str, Any]) -> str:
    """One failed image on one line: ``file (image id): reason``."""
    name = failed.get("file_name") or "?"
    return f"{name} (image {failed.get('image_id', '?')}): {failed.get('error') or 'failed'}"


def _parse_cell(column: str, value: str) -> Any:
    if column == "file_name":
        return value
    if value == "":
        return None
    if is_integer_column(column):
        return int(value)
    return float(value)


def check_comparison_folder(directory: str | Path) -> Path:
    """``directory`` as a Path if it is a folder; else :class:`InputError` that says it is an
    input (the folder that eval or compare wrote), found or not, file or missing."""
    root = Path(directory)
    if root.is_file():
        raise InputError(
            f"{root}: is a file; give the folder that hfc-detect eval or compare wrote"
        )
    if not root.is_dir():
        raise InputError(
            f"{root}: no such comparison folder (written by hfc-detect eval or compare)"
        )
    return root


def load_comparison(directory: str | Path, iou_type: str | None = None) -> ComparisonFolder:
    """Load and validate the comparison folder ``directory``; :class:`InputError` if unusable.

    A folder holds the results of one iouType (``summary.json``'s ``iou_type``, bbox for
    folders written before it was recorded); ``iou_type``, when given, must be that one."""
    root = check_comparison_folder(directory)
    summary_path = root / "summary.json"
    if not summary_path.is_file():
        raise InputError(f"{summary_path}: missing (not a comparison folder written by compare)")
    summary = read_json(summary_path, "summary")
    if (
        not isinstance(summary, dict)
        or not isinstance(summary.get("variants"), list)
        or not summary["variants"]
        or not all(isinstance(v, dict) and "name" in v for v in summary["variants"])
        or "baseline" not in summary
    ):
        raise InputError(f"{summary_path}: expected 'baseline' and a non-empty 'variants' list")
    held = summary.setdefault("iou_type", "bbox")
    if iou_type is not None and check_iou_type(iou_type) != held:
        raise InputError(
            f"{root} holds {held} results, not {iou_type} (one iouType per folder: run compare "
            f"or eval with --iou-type {iou_type} into another folder)"
        )
    table_path = root / "per_image.csv"
    if not table_path.is_file():
        raise InputError(f"{table_path}: missing (not a comparison folder written by compare)")
    with table_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        columns = next(reader, None)
        if not columns:
            raise InputError(f"{table_path}: empty file")
        try:
            rows = [
                {c: _parse_cell(c, v) for c, v in zip(columns, line, strict=True)}
                for line in reader
            ]
        except ValueError as exc:
            raise InputError(f"{table_path}: malformed row ({exc})") from None
    needed = ["image_id", "file_name", "num_gt"]
    needed += [f"ap_{v['name']}" for v in summary["variants"]]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"{table_path}: missing columns {', '.join(missing)}")
    return ComparisonFolder(root=root, summary=summary, columns=columns, rows=rows)
