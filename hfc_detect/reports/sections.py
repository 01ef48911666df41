"""The analysis sections of the HTML report, from the files found in the eval folder.

"Frequency response":

Read from the comparison folder ``DIR``, never recomputed:

- ``DIR/curve.csv`` and ``DIR/curve.png`` (``hfc-detect curve DIR``): the AP-versus-radius
  figure and a table of AP per kind and radius with the mean per-image AP difference against
  the original and its paired-bootstrap 95% CI, as the CSV holds them;
- ``DIR/heatmap/heatmap.png`` and ``heatmap.json`` (``hfc-detect heatmap ... --output
  DIR/heatmap``): the detector's Fourier heat map with its grid, step, eps and images.

"Where the AP goes": ``DIR/errors.csv`` and ``DIR/errors.png`` (``hfc-detect errors DIR``):
TIDE's errors per variant and, for each variant, the change of each error against the baseline.

A file that is absent gives no section (a curve without ``curve.png`` gives the table only); a
file that is present but unreadable gives a warning and no section. The figures are copied
into the report folder (``curve.png``, ``heatmap.png``, ``errors.png``), which is built in a
temporary folder and renamed into place, so the report still opens offline.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfc_detect.analysis.errors import (
    ERRORS_CSV,
    ERRORS_PNG,
    MAIN_ERRORS,
    SPECIAL_ERRORS,
    read_errors_csv,
)
from hfc_detect.reports.markup import escape, number_cell, table_row
from hfc_detect.results import ComparisonFolder

CURVE_CSV = "curve.csv"
CURVE_PNG = "curve.png"
HEATMAP_DIR = "heatmap"
_CURVE_COLUMNS = ("kind", "radius", "AP", "delta_ap_mean", "delta_ap_ci_low", "delta_ap_ci_high")
_HEATMAP_KEYS = ("grid", "step", "eps", "images")


@dataclass
class AnalysisSections:
    """The HTML of the section (empty: none found) and the warnings about unreadable files."""

    html: str = ""
    warnings: list[str] = field(default_factory=list)


def _number(cell: str) -> float | None:
    return float(cell) if cell.strip() else None


def read_curve_rows(path: Path) -> list[dict[str, Any]]:
    """The columns of ``curve.csv`` the report shows, numbers as floats (an empty AP: None);
    ``ValueError`` where a column or a number is missing."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in _CURVE_COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise ValueError(f"no rows or no column {', '.join(missing)}")
    return [
        {"kind": r["kind"], "AP": _number(r["AP"]), "num_pairs": r.get("num_pairs", "")}
        | {c: float(r[c]) for c in ("radius", *_CURVE_COLUMNS[3:])}
        | {"inner": _number(r.get("inner") or "")}  # a band's; files without bands lack it
        for r in rows
    ]


def _ci_cell(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["&ndash;"] * 3
    mean, low, high = (row[k] for k in _CURVE_COLUMNS[3:])
    return [number_cell(row["AP"]), f"{mean:+.4f}", f"[{low:+.4f}, {high:+.4f}]"]


def curve_table(rows: list[dict[str, Any]]) -> str:
    """One line per radius: LFC and HFC side by side (AP, mean per-image &Delta;AP, 95% CI)."""
    by_key = {(r["kind"], r["radius"]): r for r in rows if r["inner"] is None}
    radii = sorted({radius for _, radius in by_key})
    head = ["radius"] + [f"{k} {c}" for k in ("LFC", "HFC") for c in ("AP", "&Delta;AP", "95% CI")]
    lines = [table_row(head, header=True)]
    for radius in radii:
        cells = [f"{radius:g}"]
        cells += _ci_cell(by_key.get(("lfc", radius))) + _ci_cell(by_key.get(("hfc", radius)))
        lines.append(table_row(cells))
    return "\n".join(lines)


def band_table(rows: list[dict[str, Any]]) -> str:
    """One line per band, lowest first: R1-R2, AP, mean per-image &Delta;AP, 95% CI; ``""``
    without bands."""
    bands = sorted((r for r in rows if r["inner"] is not None), key=lambda r: r["radius"])
    if not bands:
        return ""
    lines = [table_row(["band R1-R2", "AP", "&Delta;AP", "95% CI"], header=True)]
    lines += [table_row([f"{r['inner']:g}-{r['radius']:g}", *_ci_cell(r)]) for r in bands]
    return "\n".join(lines)


def _curve_html(folder: Path, out_dir: Path, original_ap: float | None) -> str:
    rows = read_curve_rows(folder / CURVE_CSV)
    bands = band_table(rows)
    figure = ""
    if (folder / CURVE_PNG).is_file():
        shutil.copyfile(folder / CURVE_PNG, out_dir / CURVE_PNG)
        figure = f'<img id="curve" src="{CURVE_PNG}" alt="AP against radius">'
    pairs = rows[0].get("num_pairs", "")
    return (
        "<h3>AP against radius (hfc-detect curve)</h3>\n"
        f'{figure}\n<table id="curve-table">{curve_table(rows)}</table>\n'
        + (f'<table id="band-table">{bands}</table>\n' if bands else "")
        + f'<p class="note">From {CURVE_CSV} (all columns, APs/APm/APl included, are there). '
        f"Original AP {number_cell(original_ap)}. &Delta;AP: mean per-image AP(variant) &minus; "
        f"AP(original) over {escape(pairs)} images, with its paired-bootstrap 95% CI; LFC keeps "
        "frequencies inside the radius, HFC the rest"
        + (", a band R1-R2 those with R1 &le; d &lt; R2 (LFC(R2) &minus; LFC(R1))" if bands else "")
        + ".</p>"
    )


def _heatmap_html(folder: Path, out_dir: Path, annotations: str | None) -> str:
    info = json.loads((folder / "heatmap.json").read_text(encoding="utf-8"))
    other = ""
    if annotations and info.get("annotations") not in (None, annotations):
        other = f' <span class="warning">({escape(info["annotations"])}: not this run\'s)</span>'
    grid, step, eps, images = (info[k] for k in _HEATMAP_KEYS)
    shutil.copyfile(folder / "heatmap.png", out_dir / "heatmap.png")
    top = int(step) * (int(grid) // 2)
    backend = info.get("backend", "?")
    return (
        "<h3>Detector Fourier heat map (hfc-detect heatmap)</h3>\n"
        '<img id="heatmap" src="heatmap.png" alt="detector Fourier heat map">\n'
        f'<p class="note">{HEATMAP_DIR}/heatmap.json: grid {escape(grid)} x {escape(grid)}, step '
        f"{escape(step)} cycles per image (up to {top}), eps {float(eps):g} (L2 norm of the basis "
        f"image on the 0..255 scale), {escape(images)} images, backend {escape(backend)}, clean AP "
        f"{number_cell(info.get('clean_ap'))}. Each cell: the whole-set AP and the mean per-image "
        f"AP difference with that Fourier basis image added to every image.{other}</p>"
    )


def errors_table(rows: list[dict[str, Any]], baseline: str) -> str:
    """One line per variant: TIDE's AP50, main and special errors, and (other variants) the
    change of each main error against the baseline, in points."""
    kinds = (*MAIN_ERRORS, *SPECIAL_ERRORS)
    lines = [
        table_row(["variant", "AP50", *kinds, f"main errors vs {escape(baseline)}"], header=True)
    ]
    base = next((r for r in rows if r["variant"] == baseline), None)
    for r in rows:
        change = "&ndash;"
        if base is not None and r is not base:
            deltas = sorted(MAIN_ERRORS, key=lambda k: -abs(r[k] - base[k]))
            change = ", ".join(f"{k} {r[k] - base[k]:+.2f}" for k in deltas)
        lines.append(
            table_row([escape(r["variant"]), *(f"{r[k]:.2f}" for k in ("AP50", *kinds)), change])
        )
    return "\n".join(lines)


def _errors_html(folder: Path, out_dir: Path, baseline: str) -> str:
    rows = read_errors_csv(folder / ERRORS_CSV)
    figure = ""
    if (folder / ERRORS_PNG).is_file():
        shutil.copyfile(folder / ERRORS_PNG, out_dir / ERRORS_PNG)
        figure = (
            f'<img id="errors" src="{ERRORS_PNG}" alt="TIDE errors per variant" '
            'style="max-width: 100%; display: block">'
        )
    return (
        '<h2 id="where-the-ap-goes">Where the AP goes</h2>\n'
        f'{figure}\n<table id="errors-table">{errors_table(rows, baseline)}</table>\n'
        f'<p class="note">From {ERRORS_CSV} (hfc-detect errors): TIDE\'s error breakdown '
        "(Bolya et al., ECCV 2020; equal to its authors' tidecv). Each number is the AP50 in "
        "points the variant would gain if that one error type were fixed: Cls wrong class, "
        "Loc poorly placed (IoU 0.1 to 0.5), Both, Dupe duplicate, Bkg background (IoU &lt; "
        "0.1), Miss missed object; FalsePos and FalseNeg fix all false positives / all missed "
        "objects. "
        "The errors overlap, so they do not add up to the AP lost. The last column sorts the "
        "main errors by their change against the baseline (positive: the variant loses more "
        "AP50 to that error).</p>"
    )


def analysis_sections(comparison: ComparisonFolder, out_dir: Path) -> AnalysisSections:
    """The "Frequency response" and "Where the AP goes" sections for ``comparison``, their
    figures copied into ``out_dir``. A heat map of other annotations than the run's is shown
    with a warning."""
    folder = comparison.root
    original_ap = (comparison.variant(comparison.baseline).get("stats") or {}).get("AP")
    result = AnalysisSections()
    parts = []
    if (folder / CURVE_CSV).is_file():
        try:
            parts.append(_curve_html(folder, out_dir, original_ap))
        except (OSError, ValueError, KeyError) as exc:
            result.warnings.append(f"{folder / CURVE_CSV}: unreadable ({exc}); no curve section")
    heatmap = folder / HEATMAP_DIR
    if (heatmap / "heatmap.png").is_file() and (heatmap / "heatmap.json").is_file():
        try:
            parts.append(_heatmap_html(heatmap, out_dir, comparison.summary.get("annotations")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.warnings.append(f"{heatmap}: unreadable ({exc}); no heat map section")
    if parts:
        result.html = '<h2 id="frequency-response">Frequency response</h2>\n' + "\n".join(parts)
    if (folder / ERRORS_CSV).is_file():
        try:
            result.html += "\n" + _errors_html(folder, out_dir, comparison.baseline)
        except (OSError, ValueError, KeyError) as exc:
            result.warnings.append(f"{folder / ERRORS_CSV}: unreadable ({exc}); no errors section")
    return result
