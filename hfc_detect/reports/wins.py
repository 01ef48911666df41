"""Images where a variant (e.g. LFC) beats the baseline's per-image AP, and the objects why.

The paper (Sec. 7) finds 1684 val2017 images where RetinaNet does better on the low-frequency
image than on the original. :func:`find_wins` lists such images from a comparison folder, sorted
by gain, and for each one the ground-truth objects gained and lost (:mod:`.objects`) and,
where ``hfc-detect errors`` has written ``errors_per_image.csv``, how TIDE's error counts changed.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hfc_detect.analysis.errors import (
    PER_IMAGE_ERRORS_CSV,
    change_text,
    error_change,
    read_per_image_errors,
)
from hfc_detect.reports.objects import (
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_SCORE_THRESHOLD,
)
from hfc_detect.reports.sources import ObjectSources, load_sources
from hfc_detect.results import ComparisonFolder, load_comparison
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_json_atomic, write_text_atomic


@dataclass(frozen=True)
class Win:
    """One image where the variant's AP exceeds the baseline's by more than the margin."""

    image_id: int
    file_name: str
    num_gt: int
    ap_baseline: float
    ap_variant: float
    gained: list[dict[str, Any]] | None = None
    lost: list[dict[str, Any]] | None = None
    # TIDE's main errors whose count changed, variant minus baseline (None: not computed)
    error_change: dict[str, int] | None = None

    @property
    def delta(self) -> float:
        return self.ap_variant - self.ap_baseline


@dataclass(frozen=True)
class WinsResult:
    """All wins of ``variant`` over ``baseline`` (``count``) and the listed ones, best first."""

    comparison: Path
    baseline: str
    variant: str
    min_delta: float
    score_threshold: float
    iou_threshold: float
    count: int
    num_scored: int
    wins: list[Win] = field(default_factory=list)
    category_names: dict[int, str] = field(default_factory=dict)
    failed_images: list[dict[str, Any]] = field(default_factory=list)  # not scored in the run
    iou_type: str = "bbox"  # of the comparison: objects match by box IoU, mask IoU or OKS


def _check_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value}")
    return value


def rows_by_gain(comparison: ComparisonFolder, variant: str) -> list[dict[str, Any]]:
    """Per-image rows whose AP is defined for both the baseline and ``variant``, largest AP gain
    of ``variant`` first (ties by image id)."""
    base, var = f"ap_{comparison.baseline}", f"ap_{variant}"
    scored = [r for r in comparison.rows if r[base] is not None and r[var] is not None]
    scored.sort(key=lambda r: (-(r[var] - r[base]), r["image_id"]))
    return scored


def rank_wins(
    comparison: ComparisonFolder, variant: str, *, min_delta: float = 0.0
) -> tuple[list[Win], int]:
    """Wins of ``variant`` sorted by gain (ties by image id), and the number of images whose AP
    is defined in both (the others are left out)."""
    base, var = f"ap_{comparison.baseline}", f"ap_{variant}"
    scored = rows_by_gain(comparison, variant)
    wins = [
        Win(r["image_id"], r["file_name"], r["num_gt"], r[base], r[var])
        for r in scored
        if r[var] - r[base] > min_delta
    ]
    return wins, len(scored)


def attach_objects(
    wins: list[Win],
    sources: ObjectSources,
    baseline: str,
    variant: str,
    *,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
) -> list[Win]:
    """``wins`` with the ground-truth objects ``variant`` gains and loses against ``baseline``."""
    out = []
    for w in wins:
        diff = sources.object_diff(w.image_id, baseline, variant, score_threshold=score_threshold)
        out.append(replace(w, gained=diff.gained, lost=diff.lost))
    return out


def attach_error_changes(
    wins: list[Win], directory: Path, baseline: str, variant: str
) -> list[Win]:
    """``wins`` with the change of TIDE's error counts where ``DIR/errors_per_image.csv``
    (``hfc-detect errors``) holds both variants; unchanged without it."""
    path = directory / PER_IMAGE_ERRORS_CSV
    if not path.is_file():
        return wins
    try:
        counts = read_per_image_errors(path)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(
            f"{path}: unreadable ({exc}); rerun hfc-detect errors {directory}"
        ) from None
    out = []
    for w in wins:
        base, var = counts.get((w.image_id, baseline)), counts.get((w.image_id, variant))
        change = None if base is None or var is None else error_change(base, var)
        out.append(replace(w, error_change=change))
    return out


def find_wins(
    directory: str | Path,
    *,
    variant: str | None = None,
    min_delta: float = 0.0,
    top: int | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    objects: bool = True,
    iou_type: str | None = None,
) -> WinsResult:
    """Images of the comparison folder ``directory`` where ``variant`` (default: ``lfc``) has a
    per-image AP above the baseline's by more than ``min_delta``, best first.

    ``top`` keeps the N largest gains (``count`` still counts all). With ``objects``, each win
    lists the ground-truth objects gained and lost at ``score_threshold`` (IoU >= 0.5, with
    the folder's iouType: box IoU, mask IoU or OKS, as its AP); where the folder holds
    ``errors_per_image.csv``, each win says how TIDE's error counts changed (variant minus
    baseline). ``iou_type``: checked against
    the folder's (see :func:`~hfc_detect.results.load_comparison`).
    """
    min_delta = _check_finite("min-delta", min_delta)
    score_threshold = _check_finite("score-threshold", score_threshold)
    if top is not None and top < 1:
        raise InputError(f"top must be >= 1, got {top}")
    comparison = load_comparison(directory, iou_type)
    name = comparison.resolve_variant(variant)
    wins, scored = rank_wins(comparison, name, min_delta=min_delta)
    count = len(wins)
    listed = wins[:top] if top is not None else wins
    names: dict[int, str] = {}
    if objects and listed:
        sources = load_sources(comparison, [comparison.baseline, name])
        names = sources.category_names
        listed = attach_objects(
            listed, sources, comparison.baseline, name, score_threshold=score_threshold
        )
    listed = attach_error_changes(listed, comparison.root, comparison.baseline, name)
    return WinsResult(
        comparison=comparison.root,
        baseline=comparison.baseline,
        variant=name,
        min_delta=min_delta,
        score_threshold=score_threshold,
        iou_threshold=DEFAULT_IOU_THRESHOLD,
        count=count,
        num_scored=scored,
        wins=listed,
        category_names=names,
        failed_images=comparison.failed_images,
        iou_type=comparison.summary["iou_type"],
    )


def _object_record(obj: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": obj.get("id"),
        "category_id": obj["category_id"],
        "category": names.get(obj["category_id"], str(obj["category_id"])),
        "bbox": [float(v) for v in obj["bbox"]],
    }


def wins_records(result: WinsResult) -> list[dict[str, Any]]:
    """One JSON-ready dict per listed win (objects as lists of dicts, or None if not matched)."""
    records = []
    for w in result.wins:
        rec: dict[str, Any] = {
            "image_id": w.image_id,
            "file_name": w.file_name,
            "num_gt": w.num_gt,
            f"ap_{result.baseline}": w.ap_baseline,
            f"ap_{result.variant}": w.ap_variant,
            "delta_ap": w.delta,
            "error_change": w.error_change,
        }
        for key, objs in (("gained", w.gained), ("lost", w.lost)):
            rec[key] = (
                None if objs is None else [_object_record(o, result.category_names) for o in objs]
            )
        records.append(rec)
    return records


def _objects_cell(objs: list[dict[str, Any]] | None) -> str:
    """CSV form of an object list: ``category#annotation_id`` joined by ``;``."""
    return "" if objs is None else ";".join(f"{o['category']}#{o['id']}" for o in objs)


def wins_csv(result: WinsResult) -> str:
    """The listed wins as CSV text (objects as ``category#annotation_id;...``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["image_id", "file_name", "num_gt", f"ap_{result.baseline}", f"ap_{result.variant}"]
    header += ["delta_ap", "num_gained", "num_lost", "gained", "lost", "error_change"]
    writer.writerow(header)
    for rec in wins_records(result):
        gained, lost = rec["gained"], rec["lost"]
        writer.writerow(
            [
                rec["image_id"],
                rec["file_name"],
                rec["num_gt"],
                repr(rec[f"ap_{result.baseline}"]),
                repr(rec[f"ap_{result.variant}"]),
                repr(rec["delta_ap"]),
                "" if gained is None else len(gained),
                "" if lost is None else len(lost),
                _objects_cell(gained),
                _objects_cell(lost),
                "" if rec["error_change"] is None else change_text(rec["error_change"]),
            ]
        )
    return buf.getvalue()


def write_wins(result: WinsResult, directory: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``wins_<variant>.csv`` and ``.json`` into ``directory`` (default: the comparison
    folder), each atomically. Returns both paths."""
    out = Path(directory) if directory is not None else result.comparison
    payload = {
        "comparison": str(result.comparison.resolve()),
        "baseline": result.baseline,
        "variant": result.variant,
        "min_delta": result.min_delta,
        "score_threshold": result.score_threshold,
        "iou_threshold": result.iou_threshold,
        "num_images_scored": result.num_scored,
        "count": result.count,
        "listed": len(result.wins),
        "failed_images": result.failed_images,
        "wins": wins_records(result),
    }
    csv_path = write_text_atomic(out / f"wins_{result.variant}.csv", wins_csv(result))
    json_path = write_json_atomic(out / f"wins_{result.variant}.json", payload)
    return csv_path, json_path
