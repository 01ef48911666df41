"""Render an ``hfc-detect export --format html`` report in headless Chromium and check it.

    python tools/check_report_chromium.py REPORT_DIR [--screenshot PATH] [--chromium BIN]

Checks, offline: the folder is self-contained (every ``src``/``href`` is a relative file that
exists, nothing starts with http(s):// or //); Chromium renders the page with the summary,
statistics, per-category table, histogram and gallery; no <img> fails to load (a copy of the
page, in a temporary copy of the folder, counts images whose naturalWidth is 0 after load); a
list of failed images, where the run had some, is drawn above the summary; gallery panels are
shown at no less than 90% of the size their labels were drawn for (``PANEL_MAX_WIDTH`` x
``PANEL_MAX_HEIGHT`` of ``hfc_detect.reports.draw``) and none wider than a third of its row;
where the page has a "Frequency response" section (``curve.png``, ``heatmap.png``), a "Where the
AP goes" section (``errors.png`` and its table) or a variant spectrum section (``spectrum.png``
and its table), each is rendered with its figures (counted in the images above).
One Chromium run dumps the DOM and writes a screenshot of the whole page (default
REPORT_DIR/../<name>_screenshot.png). Exit 0 if all checks pass, 1 otherwise (each failure on
one line), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from hfc_detect.reports.draw import PANEL_MAX_HEIGHT, PANEL_MAX_WIDTH

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
REQUIRED_IDS = ("meta", "summary", "stats", "histogram", "categories", "legend", "gallery")
_PROBE = (
    "<script>window.addEventListener('load', function () {"
    " var imgs = document.images, bad = 0, shrink = 1e9;"
    " for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0)"
    " bad++;"
    " var panels = document.querySelectorAll('.panels img');"
    " for (var j = 0; j < panels.length; j++) { var p = panels[j];"
    "  if (!p.naturalWidth) continue;"
    "  var designed = Math.min(%(w)d / p.naturalWidth, %(h)d / p.naturalHeight, 1);"
    "  shrink = Math.min(shrink, p.width / p.naturalWidth / designed); }"
    " var failed = document.getElementById('failed'), summary = document.getElementById('summary');"
    " document.body.setAttribute('data-failed-above', failed ?"
    "  String(failed.getBoundingClientRect().top < summary.getBoundingClientRect().top) : 'none');"
    " var widest = 0, cells = document.querySelectorAll('.panels > div');"
    " for (var k = 0; k < cells.length; k++) widest = Math.max(widest,"
    "  cells[k].getBoundingClientRect().width / cells[k].parentNode.getBoundingClientRect().width);"
    " document.body.setAttribute('data-panel-widest', widest.toFixed(3));"
    " document.body.setAttribute('data-panel-scale', panels.length ? shrink.toFixed(3) : 'none');"
    " document.body.setAttribute('data-images', imgs.length);"
    " document.body.setAttribute('data-broken', bad); });</script>"
)


class _Refs(HTMLParser):
    """Collect every src/href and the ids of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.imgs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and value is not None:
                self.refs.append(value)
                if tag == "img":
                    self.imgs.append(value)
            if key == "id" and value:
                self.ids.add(value)


def static_problems(report: Path) -> list[str]:
    """Self-containment problems of the report folder (empty list if none)."""
    index = report / "index.html"
    if not index.is_file():
        return [f"{index}: missing"]
    text = index.read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(text)
    problems = []
    remote = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", text)
    problems += [f"remote reference: {url}" for url in remote]
    for ref in parser.refs:
        if ref.startswith(("data:", "#")):
            continue
        if not (report / ref).is_file():
            problems.append(f"referenced file missing: {ref}")
    problems += [f"element #{i} missing" for i in REQUIRED_IDS if i not in parser.ids]
    if not parser.imgs:
        problems.append("no <img> in the page")
    return problems


def _chromium(binary: str, args: list[str], profile: Path, timeout: float) -> str:
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def render_problems(
    report: Path, screenshot: Path, binary: str, *, width: int = 1400, timeout: float = 120
) -> list[str]:
    """Render the page once in headless Chromium: DOM checks, broken images, screenshot."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="hfc-chromium-") as tmp:
        tmp_path = Path(tmp)
        probe_dir = tmp_path / "report"
        shutil.copytree(report, probe_dir)
        page = probe_dir / "index.html"
        text = page.read_text(encoding="utf-8")
        probe = _PROBE % {"w": PANEL_MAX_WIDTH, "h": PANEL_MAX_HEIGHT}
        page.write_text(text.replace("</body>", probe + "</body>"), encoding="utf-8")
        wins, panels = text.count('class="win"'), text.count('class="panel-caption"')
        rows = wins * math.ceil(panels / max(1, wins) / 3)  # three panels a row (bands add more)
        height = 1400 + 500 * rows + 1200 * len(_section_figures(text))
        dom = _chromium(
            binary,
            [
                "--virtual-time-budget=10000",
                f"--window-size={width},{height}",
                f"--screenshot={screenshot.resolve()}",
                "--dump-dom",
                page.as_uri(),
            ],
            tmp_path / "profile",
            timeout,
        )
    problems += [f"rendered DOM lacks #{i}" for i in REQUIRED_IDS if f'id="{i}"' not in dom]
    match = re.search(r'data-images="(\d+)"\s+data-broken="(\d+)"', dom)
    if not match:
        problems.append("image probe did not run (page did not finish loading)")
    elif int(match.group(2)):
        problems.append(f"{match.group(2)} of {match.group(1)} images failed to load")
    else:
        print(f"rendered: {match.group(1)} images loaded, none broken")
    problems += _section_problems(text, dom)
    failed = re.search(r'data-failed-above="(\w+)"', dom)
    if failed and failed.group(1) == "false":
        problems.append("the list of failed images is not above the summary")
    scale = re.search(r'data-panel-scale="([\d.]+)"', dom)
    if scale and float(scale.group(1)) < 0.9:
        problems.append(
            f"gallery panels shown at {float(scale.group(1)):.0%} of the size their labels "
            "were drawn for: labels may be unreadable"
        )
    elif scale:
        print(f"gallery panels shown at >= {float(scale.group(1)):.0%} of their design size")
    widest = re.search(r'data-panel-widest="([\d.]+)"', dom)
    if widest and float(widest.group(1)) > 0.34:
        problems.append(
            f"a gallery panel spans {float(widest.group(1)):.0%} of its row (three a row: a "
            "panel alone in its row must keep its column, its caption under it)"
        )
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        problems.append(f"no screenshot written to {screenshot}")
    return problems


_SECTIONS = {  # section id -> the ids of its figures and tables
    "variant-spectrum": ("spectrum", "spectrum-table"),
    "frequency-response": ("curve", "heatmap"),
    "where-the-ap-goes": ("errors", "errors-table"),
}


def _section_figures(page: str) -> list[str]:
    """The figure ids of the analysis sections in ``page`` (spectrum, curve, heatmap, errors)."""
    ids = [i for parts in _SECTIONS.values() for i in parts]
    return [i for i in ids if f'<img id="{i}"' in page]


def _section_problems(page: str, dom: str) -> list[str]:
    """The analysis sections the page has are in the rendered DOM with their parts."""
    problems = []
    for section, parts in _SECTIONS.items():
        if f'id="{section}"' not in page:
            continue
        present = [i for i in parts if f'id="{i}"' in page]
        missing = [i for i in (section, *present) if f'id="{i}"' not in dom]
        problems += [f"rendered DOM lacks #{i}" for i in missing]
        if not missing:
            title = section.replace("-", " ").replace(" ap ", " AP ")
            print(f"{title} section rendered: {', '.join(present) or 'table'}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="report folder (with index.html)")
    parser.add_argument("--screenshot", type=Path, help="PNG to write")
    parser.add_argument("--chromium", default=None, help="browser binary [default: on PATH]")
    args = parser.parse_args(argv)
    binary = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not args.report.is_dir():
        print(f"error: {args.report}: no such report folder", file=sys.stderr)
        return 2
    if binary is None:
        print("error: chromium not found on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    report = args.report.resolve()
    screenshot = args.screenshot or report.parent / f"{report.name}_screenshot.png"
    problems = static_problems(report)
    if not problems:
        problems = render_problems(report, screenshot, binary)
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(f"OK: {report} renders offline; screenshot {screenshot}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
