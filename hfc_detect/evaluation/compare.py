"""Score several prediction files against one ground truth and write the comparison folder.

The folder layout is the contract in docs/per_image_ap.md: ``per_image.csv`` (+ ``.jsonl``,
+ ``.parquet`` when pyarrow is installed) with one row per image, and ``summary.json``. Every
input is read and validated before anything is written, and each file is written atomically,
``summary.json`` last.
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
from hfc_detect.evaluation.coco import GroundTruth, Predictions, load_annotations, load_predictions
from hfc_detect.evaluation.cocoeval import Evaluation, evaluate
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, write_json_atomic, write_text_atomic

PER_IMAGE_STEM = "per_image"
SUMMARY_NAME = "summary.json"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CORE_KEYS = ("hfc_version", "created", "annotations", "images_dir", "iou_type", "baseline",
              "num_images", "num_images_scored", "variants", "kpt_oks_sigmas")  # fmt: skip


def parse_variant_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` (as given to ``--predictions``) -> (name, path)."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise InputError(
            f"--predictions expects NAME=PATH (e.g. original=preds.json), got {spec!r}"
        )
    _check_name(name)
    return name, Path(path)


def _check_name(name: str) -> None:
    if not _NAME_PATTERN.match(name):
        raise InputError(
            f"variant name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_', '.', '-' (it becomes a column name)"
        )


@dataclass(frozen=True)
class Comparison:
    """A scored comparison in memory: what :func:`write_comparison` writes."""

    gt: GroundTruth  # the (possibly subset) ground truth that was scored
    predictions: dict[str, Predictions]  # in order; the first is the baseline
    results: dict[str, Evaluation]  # same keys and order


def score(
    gt: GroundTruth, predictions: Mapping[str, Predictions | Sequence[dict] | str | Path]
) -> Comparison:
    """Score each variant per image and for the whole set (pure: reads files, writes nothing).

    ``predictions`` maps variant names, in order (the first is the baseline), to loaded
    :class:`Predictions`, COCO results files, or in-memory lists of detections (empty allowed).
    The iouType (bbox, segm, keypoints) is the one ``gt`` was loaded for.
    """
    if not predictions:
        raise InputError("no predictions given: pass at least one NAME=PATH")
    for name in predictions:
        _check_name(name)
    loaded = {
        name: src if isinstance(src, Predictions) else load_predictions(src, gt, name=name)
        for name, src in predictions.items()
    }
    results = {name: evaluate(gt, preds, gt.iou_type) for name, preds in loaded.items()}
    return Comparison(gt, loaded, results)


def write_comparison(
    output: str | Path,
    comparison: Comparison,
    *,
    images_dir: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Write ``per_image.*`` and ``summary.json`` (last) into ``output``; return the summary.

    ``extra`` adds keys to ``summary.json`` after its own (it must not replace them).
    """
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
    summary = _summary(comparison, images_dir, extra)
    output.mkdir(parents=True, exist_ok=True)
    _write_per_image(output, columns)
    write_json_atomic(output / SUMMARY_NAME, summary)
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
) -> dict:
    """Load the annotations, :func:`score` the predictions and :func:`write_comparison` them;
    return the summary. Every input is read and checked before anything is written.
    ``iou_type`` (bbox, segm, keypoints) and ``kpt_oks_sigmas`` are as in
    :func:`load_annotations`."""
    gt = load_annotations(annotations, iou_type, kpt_oks_sigmas=kpt_oks_sigmas)
    comparison = score(gt, predictions)
    return write_comparison(output, comparison, images_dir=images_dir, extra=extra)


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


def _summary(comparison: Comparison, images_dir: str | Path | None, extra: dict) -> dict:
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
