"""The results folder: its files, writing it, reading it back.

A results folder (``hfc-detect compare``, ``eval`` and Detectron2's
:class:`~hfc_detect.integrations.detectron2.PerImageCOCOEvaluator` write one) holds:

- ``per_image.csv`` (+ ``.jsonl``, + ``.parquet`` when pyarrow is installed): one row per image,
  columns ``ap_<variant>``, ``ap50_``, ``ap75_``, ``num_dets_`` and ``delta_ap_`` (against the
  baseline, the first variant);
- ``summary.json``: the whole-set numbers per variant, each variant recorded once with what it is
  (``spec``: ``{"kind": "lfc", "radius": 128.0}``, :class:`~hfc_detect.frequency.variant.Variant`;
  null for a name that is no variant, e.g. a model's label given to ``compare``);
- ``predictions/<variant>.json`` (COCO results) where the folder's writer ran the detector, and
  ``eval``'s own files: ``run.json``, ``progress.jsonl``, ``annotations_scored.json``.

The format is the contract in docs/per_image_ap.md and docs/reports.md. Writing: every input is
read and checked before anything is written, each file atomically, ``summary.json`` last.
Reading: :func:`load_comparison` validates, so that ``wins``, ``export`` and ``curve`` fail with
one clear line on a folder that is missing or incomplete; folders of earlier releases (which
recorded ``radius``, ``radii`` and ``variant_kinds`` instead of ``spec``) load too.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect import __version__
from hfc_detect.evaluation.cocoeval import Evaluation
from hfc_detect.evaluation.compare import Comparison, score
from hfc_detect.evaluation.json_io import read_json
from hfc_detect.evaluation.loaders import GroundTruth, load_annotations
from hfc_detect.evaluation.params import check_iou_type
from hfc_detect.frequency.variant import COMPONENTS, Variant
from hfc_detect.reports.defaults import PAPER_RADIUS
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, write_json_atomic, write_text_atomic

SUMMARY_FILE = "summary.json"
PER_IMAGE_STEM = "per_image"
PER_IMAGE_CSV = f"{PER_IMAGE_STEM}.csv"
PREDICTIONS_DIR = "predictions"
RUN_FILE = "run.json"
PROGRESS_FILE = "progress.jsonl"
LOCK_FILE = ".eval.lock"
SCORED_ANNOTATIONS = "annotations_scored.json"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CORE_KEYS = ("hfc_version", "created", "annotations", "images_dir", "iou_type", "baseline",
              "num_images", "num_images_scored", "variants", "kpt_oks_sigmas")  # fmt: skip


def check_variant_name(name: str) -> str:
    """``name`` as a results-folder variant name (it becomes column and file names)."""
    if not _NAME_PATTERN.match(name):
        raise InputError(
            f"variant name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_', '.', '-' (it becomes a column name)"
        )
    return name


# ---------------------------------------------------------------------------------- writing


def write_comparison(
    output: str | Path,
    comparison: Comparison,
    *,
    variants: Mapping[str, Variant] | None = None,
    images_dir: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Write ``per_image.*`` and ``summary.json`` (last) into ``output``; return the summary.

    ``variants``: what each variant name stands for, recorded as its ``spec``; a name not in it
    is read as a variant name (``original``, ``lfc_r64``), else recorded as no variant (null).
    ``extra`` adds keys to ``summary.json`` after its own (it must not replace them).
    """
    for name in comparison.results:
        check_variant_name(name)
    specs = {name: (variants or {}).get(name) or Variant.parse_or_none(name)
             for name in comparison.results}  # fmt: skip
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(_CORE_KEYS))
    if clash:
        raise ValueError(f"extra must not replace the summary's own keys: {clash}")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"--output {output} exists and is not a directory")
    if images_dir is not None and not Path(images_dir).is_dir():
        raise InputError(f"images directory not found: {images_dir}")
    columns = per_image_columns(comparison.gt, comparison.results)
    summary = _summary(comparison, specs, images_dir, extra)
    output.mkdir(parents=True, exist_ok=True)
    _write_per_image(output, columns)
    write_json_atomic(output / SUMMARY_FILE, summary)
    return summary


def compare(
    annotations: str | Path,
    predictions: Mapping[str, str | Path | Sequence[dict]],
    output: str | Path,
    *,
    images_dir: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
    iou_type: str = "bbox",
    kpt_oks_sigmas: Sequence[float] | Mapping[int, Sequence[float]] | None = None,
    variants: Mapping[str, Variant] | None = None,
) -> dict:
    """Load the annotations, :func:`score` the predictions and :func:`write_comparison` them;
    return the summary. Every input is read and checked before anything is written.
    ``iou_type`` (bbox, segm, keypoints) and ``kpt_oks_sigmas`` are as in
    :func:`load_annotations`; ``variants`` as in :func:`write_comparison`."""
    for name in predictions:
        check_variant_name(name)
    gt = load_annotations(annotations, iou_type, kpt_oks_sigmas=kpt_oks_sigmas)
    comparison = score(gt, predictions)
    return write_comparison(
        output, comparison, variants=variants, images_dir=images_dir, extra=extra
    )


def per_image_columns(gt: GroundTruth, results: Mapping[str, Evaluation]) -> dict[str, list]:
    """The per-image table as ordered columns; missing AP values are None."""
    names = list(results)
    base = results[names[0]]
    columns: dict[str, list] = {
        "image_id": gt.image_ids.tolist(),
        "file_name": list(gt.file_names),
        "num_gt": gt.num_gt_per_image().tolist(),
    }
    for i, name in enumerate(names):
        ev = results[name]
        columns[f"ap_{name}"] = _nullable(ev.ap)
        columns[f"ap50_{name}"] = _nullable(ev.ap50)
        columns[f"ap75_{name}"] = _nullable(ev.ap75)
        columns[f"num_dets_{name}"] = ev.num_dets.tolist()
        if i > 0:
            columns[f"delta_ap_{name}"] = _nullable(ev.ap - base.ap)
    return columns


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _summary(
    comparison: Comparison,
    specs: Mapping[str, Variant | None],
    images_dir: str | Path | None,
    extra: dict,
) -> dict:
    gt, loaded, results = comparison.gt, comparison.predictions, comparison.results
    names = list(results)
    base = results[names[0]]
    variants = []
    for i, name in enumerate(names):
        ev, preds = results[name], loaded[name]
        cat_ap = ev.per_category_ap()
        variants.append(
            {
                "name": name,
                "spec": None if specs[name] is None else specs[name].to_json(),
                "predictions": str(preds.path) if preds.path is not None else None,
                "num_detections": len(preds),
                "stats": ev.stats_dict(),
                "per_category_ap": {
                    str(cid): {"name": cname, "ap": None if math.isnan(ap) else float(ap)}
                    for cid, cname, ap in zip(
                        gt.category_ids.tolist(), gt.category_names, cat_ap.tolist(), strict=True
                    )
                },
                "wins_over_baseline": 0 if i == 0 else int(np.count_nonzero(ev.ap > base.ap)),
            }
        )
    return {
        "hfc_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "annotations": str(gt.path),
        "images_dir": str(Path(images_dir).resolve()) if images_dir is not None else None,
        "iou_type": gt.iou_type,
        **_sigmas_entry(gt),
        "baseline": names[0],
        "num_images": gt.num_images,
        "num_images_scored": int(np.count_nonzero(~np.isnan(base.ap))),
        "variants": variants,
        **extra,
    }


def _sigmas_entry(gt: GroundTruth) -> dict[str, Any]:
    """keypoints: the OKS sigmas scored with, by category id, so reports match objects with the
    same OKS as the AP (:func:`~hfc_detect.evaluation.load_annotations` takes them back)."""
    if gt.iou_type != "keypoints":
        return {}
    rows = zip(gt.category_ids.tolist(), gt.category_sigmas, strict=True)
    return {"kpt_oks_sigmas": {str(c): s.tolist() for c, s in rows if np.isfinite(s).all()}}


def _write_per_image(output: Path, columns: dict[str, list]) -> None:
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    write_table_csv(output / f"{PER_IMAGE_STEM}.csv", names, rows)
    lines = (json.dumps(dict(zip(names, row, strict=True))) for row in rows)
    write_text_atomic(output / f"{PER_IMAGE_STEM}.jsonl", "".join(line + "\n" for line in lines))
    parquet = output / f"{PER_IMAGE_STEM}.parquet"
    try:
        write_table_parquet(parquet, columns)
    except ImportError:
        parquet.unlink(missing_ok=True)  # never leave a stale table from an earlier run


def write_table_csv(path: Path, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A per-image table as CSV (empty cell for an undefined value), written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    write_text_atomic(path, buf.getvalue())


def is_integer_column(column: str) -> bool:
    """Whether a per-image column holds integers (ids, counts); the others but ``file_name``
    hold AP values (floats, or None where undefined)."""
    return column in ("image_id", "num_gt") or column.startswith("num_dets_")


def _arrow_type(column: str) -> Any:
    import pyarrow as pa

    if column == "file_name":
        return pa.string()
    return pa.int64() if is_integer_column(column) else pa.float64()


def write_table_parquet(path: Path, columns: Mapping[str, list]) -> None:
    """A per-image table (column name -> values) as Parquet, written atomically; ImportError
    without pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, _arrow_type(name)) for name in columns])
    table = pa.table(dict(columns), schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


# ---------------------------------------------------------------------------------- reading


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
            raise InputError(f"{self.root / PER_IMAGE_CSV}: no column {name!r}")
        return np.array(
            [math.nan if r[name] is None else float(r[name]) for r in self.rows], dtype=np.float64
        )

    def spec(self, name: str) -> Variant | None:
        """What variant ``name`` is: its recorded ``spec``. Where none is recorded (folders of
        earlier releases, or names ``compare`` could not read): eval's ``variant_kinds``, else
        ``lfc``/``hfc`` at the folder's one ``radius``, else the name read as a variant name
        (``lfc_r64``). None for a name that is no variant."""
        entry = self.variant(name)
        if entry.get("spec") is not None:
            return Variant.from_json(entry["spec"])
        legacy = (self.summary.get("variant_kinds") or {}).get(name)
        if isinstance(legacy, dict):
            return Variant.from_json(legacy)
        return Variant.parse_or_none(name, radius=self.summary.get("radius"))

    def spec_or_none(self, name: str) -> Variant | None:
        """:meth:`spec`, or None where the recorded spec cannot be read (a kind of a later
        release): for what only draws a variant (its colour), not for what computes with it."""
        try:
            return self.spec(name)
        except InputError:
            return None

    @property
    def radii(self) -> list[float]:
        """The radii of the folder's LFC/HFC variants, in the order they first appear."""
        specs = (self.spec(name) for name in self.variant_names)
        return list(
            dict.fromkeys(s.radius for s in specs if s is not None and s.kind in COMPONENTS)
        )

    def resolve_variant(self, name: str | None) -> str:
        """``name`` checked against the folder; ``None`` picks ``lfc``, else the LFC variant
        whose radius is nearest the paper's 128 (e.g. ``lfc_r128`` of a sweep), else the first
        non-baseline variant."""
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
        lfcs = [(v, spec) for v in others if (spec := self.spec(v)) and spec.kind == "lfc"]
        if not lfcs:
            return others[0]
        return min(lfcs, key=lambda vs: abs(vs[1].radius - PAPER_RADIUS))[0]


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
    summary_path = root / SUMMARY_FILE
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
    table_path = root / PER_IMAGE_CSV
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
