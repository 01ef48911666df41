"""The HTML report's "Frequency response" section: numbers as curve.csv holds them, the heat
map's settings as heatmap.json holds them, figures copied; absent files give no section."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from tests.detect.test_eval_pipeline import BACKEND, make_coco

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _invoke(args: list[str]) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval folder with two radii and a band, its curve and a 2 x 2 heat map in
    run/heatmap."""
    root = tmp_path_factory.mktemp("analyses")
    ann, img = make_coco(root / "data")
    out = root / "run"
    data = ["--annotations", ann, "--images", img, "--backend", BACKEND]
    _invoke(["eval", *data, "--radius", "6", "--radius", "20", "--band", "6:20",
             "--num-workers", "0", "--no-progress", "-o", out])  # fmt: skip
    _invoke(["curve", out, "--resamples", "300"])
    _invoke(["heatmap", *data, "--grid", "2", "--step", "3", "--eps", "500", "--limit", "3",
             "-o", out / "heatmap"])  # fmt: skip
    return out


def _export(folder: Path, target: Path) -> str:
    output = _invoke(["export", folder, "--format", "html", "--top", "2", "--output", target])
    assert (target / "index.html").is_file()
    return output


class _Table(HTMLParser):
    """The cell texts of the table with a given id, row by row."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.in_cell, self.rows = table_id, False, False, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", self.table_id) in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        self.in_cell = self.in_cell and tag not in ("td", "th")
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.rows[-1][-1] += data


def _table(page: str, table_id: str) -> list[list[str]]:
    parser = _Table(table_id)
    parser.feed(page)
    return parser.rows


def test_section_shows_curve_csv_and_heatmap_json(run: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    _export(run, report)
    page = (report / "index.html").read_text(encoding="utf-8")
    assert page.count('id="frequency-response"') == 1
    with (run / "curve.csv").open(newline="") as f:
        expected = {(r["kind"], r["radius"], r["inner"]): r for r in csv.DictReader(f)}
    rows = _table(page, "curve-table")
    assert rows[0][0] == "radius" and len(rows) == 1 + 2  # radii 6 and 20, not the band's
    bands = _table(page, "band-table")
    assert bands[0][0] == "band R1-R2" and [r[0] for r in bands[1:]] == ["6-20"]
    checks = [(("band", "20", "6"), bands[1][1:4])]
    for row in rows[1:]:
        checks += [((kind, row[0], ""), cells) for kind, cells in (("lfc", row[1:4]),
                                                                  ("hfc", row[4:7]))]  # fmt: skip
    for key, cells in checks:
        want = expected[key]
        assert float(cells[0]) == pytest.approx(float(want["AP"]), abs=5e-4)
        assert float(cells[1]) == pytest.approx(float(want["delta_ap_mean"]), abs=5e-5)
        low, high = (float(x) for x in cells[2].strip("[]").split(","))
        assert low == pytest.approx(float(want["delta_ap_ci_low"]), abs=5e-5)
        assert high == pytest.approx(float(want["delta_ap_ci_high"]), abs=5e-5)
    info = json.loads((run / "heatmap" / "heatmap.json").read_text())
    note = re.search(r"heatmap/heatmap\.json: ([^<]*)", page).group(1)
    assert f"grid {info['grid']} x {info['grid']}, step {info['step']} " in note
    assert f"eps {info['eps']:g} " in note and f"{info['images']} images" in note
    for name, source in (("curve.png", run), ("heatmap.png", run / "heatmap")):
        assert (report / name).read_bytes() == (source / name).read_bytes()
        assert f'src="{name}"' in page


def test_section_reads_curve_csv_and_does_not_recompute(run: Path, tmp_path: Path) -> None:
    """A curve.csv whose numbers differ from summary.json: the report shows the CSV's."""
    folder = tmp_path / "run"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns("heatmap", "report"))
    text = (folder / "curve.csv").read_text()
    lines = text.splitlines()
    head = lines[0].split(",")
    cells = lines[1].split(",")
    cells[head.index("AP")] = "0.123456"
    cells[head.index("delta_ap_mean")] = "-0.777700"
    (folder / "curve.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    (folder / "curve.png").unlink()  # the table stays, without a figure
    report = tmp_path / "report"
    _export(folder, report)
    page = (report / "index.html").read_text(encoding="utf-8")
    row = next(r for r in _table(page, "curve-table")[1:] if float(r[0]) == float(cells[1]))
    column = 1 if cells[0] == "lfc" else 4
    assert row[column : column + 2] == ["0.123", "-0.7777"]
    assert 'id="curve"' not in page and not (report / "curve.png").exists()
    assert 'id="heatmap"' not in page and not (report / "heatmap.png").exists()


def test_no_analysis_files_no_section(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    ignored = shutil.ignore_patterns("heatmap", "report", "curve*", "variant_spectrum*")
    shutil.copytree(run, folder, ignore=ignored)
    report = tmp_path / "report"
    output = _export(folder, report)
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "frequency-response" not in page and "Frequency response" not in page
    assert "variant-spectrum" not in page
    assert sorted(p.name for p in report.iterdir()) == ["histogram.png", "images", "index.html"]
    assert "warning" not in output


def test_unreadable_curve_csv_warns_and_leaves_the_section_out(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns("heatmap", "report"))
    (folder / "curve.csv").write_text("kind,radius\nlfc,6\n")
    report = tmp_path / "report"
    output = " ".join(_export(folder, report).split())  # the terminal wraps lines
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "frequency-response" not in page
    assert "curve.csv: unreadable" in output and "curve.csv: unreadable" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_section_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    _export(run, report)
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_report_chromium.py"), str(report),
         "--screenshot", str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frequency response section rendered: curve, heatmap" in proc.stdout
