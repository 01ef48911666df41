"""Why the AP changes: TIDE's error breakdown (Bolya et al., ECCV 2020) per variant and image.

For every variant of a results folder, TIDE splits the AP50 lost against a perfect detector into
six main errors, each the AP50 gained (in points, 0..100) by fixing only that error type:

- ``Cls``: right place (IoU >= 0.5 with an object), wrong class;
- ``Loc``: right class, poorly placed (0.1 <= IoU <= 0.5 with an object of its class);
- ``Both``: wrong class and poorly placed;
- ``Dupe``: right class and place, but the object was already taken by a higher score;
- ``Bkg``: on background (IoU <= 0.1 with every object);
- ``Miss``: an object no error above could have found;

and two special errors: ``FalsePos`` (all false positives scored 0) and ``FalseNeg`` (all missed
objects removed). Foreground IoU 0.5, background IoU 0.1, 100 detections per image, AP by
TIDE's own 101-point interpolation: everything as TIDE defines and reports it.

The numbers are computed by :mod:`hfc_detect.analysis.tide` (numpy, on
:mod:`hfc_detect.evaluation`'s validated loaders), equal to tidecv (TIDE's authors' package) to
1e-6, tested on the COCO API fixture and a YOLOX-Nano eval. Images are visited in the annotation
file's order, as tidecv's COCO loader visits them (TIDE breaks ties between detections of equal
score on different images by that order). Where we differ from tidecv's ``datasets.COCO``: no
masks are decoded (the box mode never reads them) and annotations of unknown images or
categories are left out, as COCOeval does. hotcoco's ``tide_errors`` is another definition
with other numbers; see docs/analyses.md.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.analysis.tide import MAIN_ERRORS, SPECIAL_ERRORS, tide_errors
from hfc_detect.evaluation import load_annotations, load_predictions
from hfc_detect.evaluation.json_io import read_json
from hfc_detect.frequency.variant import Variant
from hfc_detect.results import (
    PREDICTIONS_DIR,
    SUMMARY_FILE,
    ComparisonFolder,
    load_comparison,
    write_table_csv,
)
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.figures import pyplot, save_png

ERRORS_CSV = "errors.csv"
ERRORS_PNG = "errors.png"
PER_IMAGE_ERRORS_CSV = "errors_per_image.csv"


@dataclass(frozen=True)
class VariantErrors:
    """TIDE's numbers for one variant: AP50 and the main and special errors (delta AP50 in
    points), and the count of each main error per image id (images without errors absent);
    ``spec``: what the variant is, as its folder records it (None: not recorded)."""

    variant: str
    ap50: float
    main: dict[str, float]
    special: dict[str, float]
    per_image: dict[int, dict[str, int]]
    spec: Variant | None = None

    @property
    def counts(self) -> dict[str, int]:
        """How many errors of each main type the variant makes over all images."""
        return {t: sum(c.get(t, 0) for c in self.per_image.values()) for t in MAIN_ERRORS}


@dataclass(frozen=True)
class FolderErrors:
    """The errors of every variant of a results folder, in the folder's variant order."""

    root: Path
    baseline: str
    image_ids: list[int]
    variants: list[VariantErrors]


def predictions_path(folder: ComparisonFolder, name: str) -> Path:
    """The predictions file of variant ``name``: the one summary.json records (compare),
    else ``DIR/predictions/<name>.json`` (eval)."""
    recorded = folder.variant(name).get("predictions")
    candidates = [Path(recorded)] if recorded else []
    candidates.append(folder.root / PREDICTIONS_DIR / f"{name}.json")
    for path in candidates:
        if path.is_file():
            return path
    raise InputError(
        f"{folder.root / SUMMARY_FILE}: no predictions file for variant {name!r} "
        f"(looked for {', '.join(str(p) for p in candidates)})"
    )


def folder_errors(
    directory: str | Path, *, advance: Callable[[int], None] | None = None
) -> FolderErrors:
    """TIDE's errors of every variant of the results folder ``directory`` (bbox folders only:
    TIDE's mask mode is not implemented). ``advance(1)`` is called after each variant."""
    folder = load_comparison(directory)
    if folder.summary["iou_type"] != "bbox":
        raise InputError(
            f"{folder.root} holds {folder.summary['iou_type']} results; errors reads bbox folders"
        )
    annotations = folder.summary.get("annotations")
    if not annotations or not Path(annotations).is_file():
        raise InputError(f"{folder.root / SUMMARY_FILE}: annotations file not found")
    paths = {name: predictions_path(folder, name) for name in folder.variant_names}
    content = read_json(annotations, "annotations")
    gt = load_annotations(annotations, data=content)
    order = [image["id"] for image in content["images"]]  # TIDE visits images in file order
    results = []
    for name, path in paths.items():
        found = tide_errors(gt, load_predictions(path, gt, name=name), order)
        results.append(VariantErrors(name, found.ap50, found.main, found.special, found.per_image,
                                     folder.spec_or_none(name)))  # fmt: skip
        if advance is not None:
            advance(1)
    return FolderErrors(
        root=folder.root,
        baseline=folder.baseline,
        image_ids=gt.image_ids.tolist(),
        variants=results,
    )


# ------------------------------------------------------------------------------------ files


def errors_table(result: FolderErrors) -> tuple[list[str], list[list[Any]]]:
    """``errors.csv``'s columns and rows: per variant TIDE's AP50, the main and special errors
    (delta AP50 in points) and the count of each main error (``n_<type>``)."""
    header = ["variant", "AP50", *MAIN_ERRORS, *SPECIAL_ERRORS]
    header += [f"n_{t}" for t in MAIN_ERRORS]
    rows = []
    for v in result.variants:
        counts = v.counts
        rows.append([v.variant, v.ap50, *v.main.values(), *v.special.values(),
                     *(counts[t] for t in MAIN_ERRORS)])  # fmt: skip
    return header, rows


def per_image_errors_table(result: FolderErrors) -> tuple[list[str], list[list[Any]]]:
    """``errors_per_image.csv``'s columns and rows: per image and variant the count of each
    main error (every image of the annotations, zeros included)."""
    rows = [
        [image_id, v.variant, *(v.per_image.get(image_id, {}).get(t, 0) for t in MAIN_ERRORS)]
        for image_id in result.image_ids
        for v in result.variants
    ]
    return ["image_id", "variant", *MAIN_ERRORS], rows


def write_errors(directory: str | Path, result: FolderErrors) -> list[Path]:
    """Write ``errors.png``, ``errors_per_image.csv`` and ``errors.csv`` (last) into
    ``directory``, each atomically (floats as ``repr``); return their paths."""
    directory = Path(directory)
    paths = [directory / ERRORS_PNG, directory / PER_IMAGE_ERRORS_CSV, directory / ERRORS_CSV]
    plot_errors(paths[0], result, f"TIDE errors: {result.root.resolve().name}")
    write_table_csv(paths[1], *per_image_errors_table(result))
    write_table_csv(paths[2], *errors_table(result))
    return paths


def read_errors_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``errors.csv``: ``variant`` and floats; ``ValueError`` where a column or a
    number is missing."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    needed = ("variant", "AP50", *MAIN_ERRORS, *SPECIAL_ERRORS)
    if not rows or any(c not in rows[0] for c in needed):
        raise ValueError(f"no rows or not the columns {', '.join(needed)}")
    return [{"variant": r["variant"]} | {c: float(r[c]) for c in needed[1:]} for r in rows]


def read_per_image_errors(path: str | Path) -> dict[tuple[int, str], dict[str, int]]:
    """``errors_per_image.csv`` as ``{(image_id, variant): {type: count}}``; ``ValueError``
    where a column or a number is missing."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        needed = ("image_id", "variant", *MAIN_ERRORS)
        if reader.fieldnames is None or any(c not in reader.fieldnames for c in needed):
            raise ValueError(f"not the columns {', '.join(needed)}")
        return {
            (int(r["image_id"]), r["variant"]): {t: int(r[t]) for t in MAIN_ERRORS} for r in reader
        }


def error_change(baseline: dict[str, int], variant: dict[str, int]) -> dict[str, int]:
    """The main errors whose count differs, variant minus baseline, in TIDE's order."""
    change = {t: variant.get(t, 0) - baseline.get(t, 0) for t in MAIN_ERRORS}
    return {t: d for t, d in change.items() if d}


def change_text(change: dict[str, int]) -> str:
    """``{"Loc": -1, "Miss": 2}`` as ``Loc -1, Miss +2`` (one Loc error fewer, two missed
    objects more); ``same errors`` when nothing changed."""
    return ", ".join(f"{kind} {d:+d}" for kind, d in change.items()) or "same errors"


def plot_errors(path: str | Path, result: FolderErrors, title: str) -> Path:
    """Grouped bars per variant: the main errors (left) and the special errors (right), delta
    AP50 in points; each variant in its colour of every figure
    (:mod:`hfc_detect.reports.colours`)."""
    from hfc_detect.reports.colours import variant_styles

    styles = variant_styles({v.variant: v.spec for v in result.variants})
    rows = [
        {"variant": v.variant, "colour": styles[v.variant][0], **v.main, **v.special}
        for v in result.variants
    ]
    plt = pyplot()
    with plt.style.context("default"):  # the same bars whatever style a caller has set
        fig, axes = plt.subplots(
            1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [len(MAIN_ERRORS), 2.6]}
        )
        _draw_bars(axes, rows)
        fig.suptitle(title)
        fig.tight_layout()
    return save_png(fig, path)


def _draw_bars(axes: Any, rows: Sequence[dict[str, Any]]) -> None:
    width = 0.8 / len(rows)
    for ax, kinds, label in ((axes[0], MAIN_ERRORS, "main"), (axes[1], SPECIAL_ERRORS, "special")):
        x = np.arange(len(kinds))
        for i, row in enumerate(rows):
            values = [row[k] for k in kinds]
            bars = ax.bar(
                x + (i - (len(rows) - 1) / 2) * width,
                values,
                width,
                label=row["variant"],
                color=row["colour"],
            )
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        ax.set_xticks(x, kinds)
        ax.set_title(f"TIDE {label} errors")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.margins(y=0.12)
    axes[0].set_ylabel("delta AP50 (points) if fixed")
    axes[0].legend(title="variant", fontsize=8)
