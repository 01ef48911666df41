"""Reports users can trust: failed images stated, variants without detections, a gallery that
shows the HFC, draws boxes of a weak detector, captions every panel, and labels one can read."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.reports.draw import STYLES, draw_objects
from hfc_detect.reports.objects import object_diff
from hfc_detect.results import compare
from tests.detect.test_wins import make_comparison, make_dataset, make_predictions

REPO = Path(__file__).resolve().parents[2]

FAILED = {
    "image_id": 424242,
    "file_name": "broken_000424242.jpg",
    "error": "decoded 320x240, annotations say 640x480",
}


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _html(directory: Path, *args: str) -> str:
    out = directory / "report"
    result = _invoke("export", directory, "--format", "html", "--output", out, *args)
    assert result.exit_code == 0, result.output
    return (out / "index.html").read_text()


# ------------------------------------------------------------------------ failed images


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_comparison(tmp_path_factory.mktemp("partial"), failed_images=[FAILED])


def test_html_report_states_failed_images_first(partial: Path) -> None:
    page = _html(partial, "--top", "1")
    box = page.index('id="failed"')
    assert box < page.index('id="summary"')  # above every number
    failed = page[box : page.index("</div>", box)]
    assert "1 image(s) failed and are not scored" in failed
    assert FAILED["file_name"] in failed and FAILED["error"] in failed
    # a report outlives the run it shows: the box says how a resume fixes it and how to
    # refresh the page (issue 19, item 7)
    assert "Running the same eval command again retries them" in failed
    assert f"hfc-detect export {partial} --format html" in failed


def test_wins_and_exports_state_failed_images(partial: Path, tmp_path: Path) -> None:
    for args in (
        ["wins", partial, "--top", "2"],
        ["export", partial, "--format", "csv", "--output", tmp_path / "t.csv"],
        ["export", partial, "--format", "html", "--top", "1", "--output", tmp_path / "r"],
    ):
        result = _invoke(*args)
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert "1 image(s) failed in this run" in text, args
        assert f"{FAILED['file_name']} (image {FAILED['image_id']}): {FAILED['error']}" in text
    saved = json.loads((partial / "wins_lfc.json").read_text())
    assert saved["failed_images"] == [FAILED]


def test_complete_run_says_nothing_about_failures(tmp_path: Path) -> None:
    cmp = make_comparison(tmp_path)
    assert 'id="failed"' not in _html(cmp, "--top", "1")
    assert "failed" not in _invoke("wins", cmp).output


# ------------------------------------------------------------ a variant with no detections


@pytest.fixture(scope="module")
def blind_hfc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A comparison whose HFC variant detected nothing: its predictions file is ``[]``."""
    root = tmp_path_factory.mktemp("blind")
    gt_path, images_dir = make_dataset(root / "data")
    preds = make_predictions(gt_path, root / "data")
    preds["hfc"].write_text("[]\n")
    out = root / "cmp"
    compare(gt_path, preds, out, images_dir=images_dir, extra={"radius": 8})
    return out


@pytest.mark.parametrize("variant", ["hfc", "lfc"])
def test_wins_on_a_variant_without_detections(blind_hfc: Path, variant: str) -> None:
    result = _invoke("wins", blind_hfc, "--variant", variant)
    assert result.exit_code == 0, result.output
    saved = json.loads((blind_hfc / f"wins_{variant}.json").read_text())
    if variant == "hfc":  # AP 0 everywhere: it never beats the original, loses what it found
        assert saved["count"] == 0


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "html"])
@pytest.mark.parametrize("variant", ["hfc", "lfc"])
def test_export_on_a_variant_without_detections(
    blind_hfc: Path, tmp_path: Path, fmt: str, variant: str
) -> None:
    out = tmp_path / ("report" if fmt == "html" else f"t.{fmt}")
    result = _invoke(
        "export", blind_hfc, "--format", fmt, "--variant", variant, "--output", out, "--top", "3"
    )
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = list(csv.DictReader(out.open()))
        assert rows and all(float(r["ap_hfc"]) == 0.0 for r in rows if r["ap_hfc"])
        assert all(r["num_dets_hfc"] == "0" for r in rows)
    if fmt == "html":
        page = (out / "index.html").read_text()
        hfc_captions = re.findall(r"<b>HFC r=8</b>: boxes of <b>hfc</b>: AP ([^;<]*)", page)
        if variant == "hfc":  # no wins: an empty gallery, said in words
            assert not hfc_captions and "No image where the variant gains" in page
        else:
            assert hfc_captions
            assert all(c.endswith("(no detection at all)") for c in hfc_captions), hfc_captions


# ------------------------------------------------------------------------------ the gallery


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cmp = make_comparison(tmp_path_factory.mktemp("gallery"))
    return cmp, _html(cmp, "--top", "30")


def test_hfc_panels_are_visible_and_say_how(report: tuple[Path, str]) -> None:
    cmp, page = report
    assert "HFC shown as 128 + HFC, clipped to 0..255" in page
    gt = json.loads((cmp.parent / "data" / "gt.json").read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    panels = sorted((cmp / "report" / "images").glob("*_hfc.png"))
    assert panels
    for panel in panels:
        pixels = cv2.imread(str(panel), cv2.IMREAD_COLOR)
        image_id = int(panel.name.split("_")[0])
        assert pixels.shape[:2] == sizes[image_id]
        # mid-grey + a zero-mean component: the median sits near 128 (clipping made it ~0)
        assert abs(float(np.median(pixels)) - 128) < 12, panel.name


@pytest.fixture(scope="module")
def band_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path, Path]:
    """A comparison with a band whose detections are the HFC's, its report written by export:
    (comparison folder, page, annotations, images folder)."""
    from hfc_detect.frequency.variant import Variant

    root = tmp_path_factory.mktemp("band_report")
    gt_path, images_dir = make_dataset(root / "data")
    preds = make_predictions(gt_path, root / "data")
    preds["band_r2-6"] = preds["hfc"]
    specs = {"lfc": Variant("lfc", 8), "hfc": Variant("hfc", 8),
             "band_r2-6": Variant("band", 6, inner=2)}  # fmt: skip
    compare(gt_path, preds, root / "cmp", images_dir=images_dir, variants=specs)
    return root / "cmp", _html(root / "cmp", "--top", "4"), gt_path, images_dir


def test_band_panels_are_shown_as_the_hfc(band_report) -> None:
    """A run with a band gets a band panel per gallery image, after original | LFC | HFC, named
    and captioned like the others, its pixels 128 + the band of an independent numpy FFT
    (rounded, clipped). The band's detections are the HFC's here, so both panels have the same
    drawings: the pixels the HFC panel shows undrawn (equal to 128 + the numpy HFC) must be
    exact in the band panel too."""
    from hfc_detect.data.images import read_image
    from tests.detect.test_frequency import reference_band, reference_split

    folder, page, gt_path, images_dir = band_report
    captions = _panel_captions(page)
    assert captions and all(len(c) == 4 for c in captions)
    assert all(
        c[3].startswith("<b>band r=2-6</b>: boxes of <b>band_r2-6</b>: AP") for c in captions
    )
    assert "a frequency band, where the run has one, as the HFC: 128 + band" in page
    panels = sorted((folder / "report" / "images").glob("*_band_r2-6.png"))
    assert len(panels) == len(captions)
    gt = json.loads(gt_path.read_text())
    files = {im["id"]: im["file_name"] for im in gt["images"]}

    def shown(path: Path) -> np.ndarray:
        return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].astype(int)

    for panel in panels:
        image = read_image(images_dir / files[int(panel.name.split("_")[0])])
        hfc = np.clip(np.rint(128 + reference_split(image, 8)[1]), 0, 255)
        undrawn = (np.abs(shown(panel.with_name(panel.name.replace("band_r2-6", "hfc"))) - hfc)
                   <= 1).all(axis=-1)  # fmt: skip
        assert undrawn.mean() > 0.2, panel.name
        want = np.clip(np.rint(128 + reference_band(image, 2, 6)), 0, 255)
        assert (np.abs(shown(panel) - want)[undrawn] <= 1).all(), panel.name


def test_a_ranked_transform_gets_its_own_panel_made_as_eval_made_it(tmp_path: Path) -> None:
    """Ranked by a transform (``--variant mix``), each gallery image gets a fourth panel: the
    function's output on the decoded image, its detections and caption. Its detections are the
    LFC's here, so the pixels the LFC panel shows undrawn (equal to the numpy LFC) must equal
    the function's output, rounded and clipped, in the transform's panel."""
    from hfc_detect.data.images import read_image
    from hfc_detect.frequency.variant import TRANSFORM, Variant
    from tests.detect.test_eval_transforms import HERE, mix
    from tests.detect.test_frequency import reference_split

    gt_path, images_dir = make_dataset(tmp_path / "data")
    preds = make_predictions(gt_path, tmp_path / "data")
    preds["mix"] = preds["lfc"]
    specs = {"lfc": Variant("lfc", 8), "hfc": Variant("hfc", 8),
             "mix": Variant(TRANSFORM, label="mix", function=f"{HERE}:mix")}  # fmt: skip
    compare(gt_path, preds, tmp_path / "cmp", images_dir=images_dir, variants=specs)
    page = _html(tmp_path / "cmp", "--variant", "mix", "--top", "3")
    captions = _panel_captions(page)
    assert captions and all(len(c) == 4 for c in captions)
    assert all(c[3].startswith("<b>mix</b>: boxes of <b>mix</b>: AP") for c in captions)
    panels = sorted((tmp_path / "cmp" / "report" / "images").glob("*_mix.png"))
    assert len(panels) == len(captions)
    files = {im["id"]: im["file_name"] for im in json.loads(gt_path.read_text())["images"]}

    def shown(path: Path) -> np.ndarray:
        return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].astype(int)

    for panel in panels:
        image = read_image(images_dir / files[int(panel.name.split("_")[0])]).astype(np.float32)
        low = np.clip(np.rint(reference_split(image, 8)[0]), 0, 255)
        undrawn = (np.abs(shown(panel.with_name(panel.name.replace("mix", "lfc"))) - low)
                   <= 1).all(axis=-1)  # fmt: skip
        assert undrawn.mean() > 0.2, panel.name
        want = np.clip(np.rint(mix(image)), 0, 255)
        off = (np.abs(shown(panel) - want) > 1).any(axis=-1)[undrawn]
        assert off.mean() < 0.005, panel.name  # anti-aliased label edges blend with another
        # background than in the LFC panel (a pixel or two an image)


@pytest.mark.parametrize("inclusive", [False, True])
def test_lfc_panels_split_with_the_runs_disk_convention(tmp_path: Path, inclusive: bool) -> None:
    """A run that split with the disk d <= r (``--inclusive``) shows that LFC, not d < r's (on
    these images the two differ by more than 1 grey level almost everywhere)."""
    from hfc_detect.data.images import read_image
    from hfc_detect.frequency.variant import Variant
    from tests.detect.test_frequency import reference_split

    gt_path, images_dir = make_dataset(tmp_path / "data")
    preds = make_predictions(gt_path, tmp_path / "data")
    specs = {k: Variant(k, 8, inclusive=inclusive) for k in ("lfc", "hfc")}
    compare(gt_path, preds, tmp_path / "cmp", images_dir=images_dir, variants=specs)
    _html(tmp_path / "cmp", "--top", "3")
    files = {im["id"]: im["file_name"] for im in json.loads(gt_path.read_text())["images"]}
    panels = sorted((tmp_path / "cmp" / "report" / "images").glob("*_lfc.png"))
    assert panels
    for panel in panels:
        image = read_image(images_dir / files[int(panel.name.split("_")[0])])
        shown = cv2.imread(str(panel), cv2.IMREAD_COLOR)[..., ::-1].astype(int)
        lows = {disk: np.clip(np.rint(reference_split(image, 8, disk)[0]), 0, 255)
                for disk in (False, True)}  # fmt: skip
        # the share of pixels that show each LFC (those not drawn over)
        share = {d: (np.abs(shown - low) <= 1).all(axis=-1).mean() for d, low in lows.items()}
        assert share[inclusive] > 0.2 and share[not inclusive] < 0.05, panel.name


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not on PATH")
def test_a_band_panel_keeps_its_column_in_chromium(band_report, tmp_path: Path) -> None:
    """Four panels make a row of three and one alone: it stays a column wide, its caption
    under it (it once stretched across the row, its caption at the far left)."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_report_chromium.py"),
         str(band_report[0] / "report"), "--screenshot", str(tmp_path / "shot.png")],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gallery panels shown at >= " in proc.stdout


def _panel_captions(page: str) -> list[list[str]]:
    figures = re.findall(r'<figure class="win">(.*?)</figure>', page, flags=re.S)
    return [re.findall(r'<p class="panel-caption">(.*?)</p>', f, flags=re.S) for f in figures]


def _objects(caption: str, key: str) -> list[str]:
    found = re.search(rf"{key}: ([^;<]*)", caption).group(1).strip()
    return [] if found == "none" else sorted(found.split(", "))


def test_every_panel_is_captioned_with_its_own_objects(report: tuple[Path, str]) -> None:
    """Each panel names its variant, its per-image AP, and (LFC, HFC) the objects it gains and
    loses against the original, recomputed here from the raw JSON files."""
    cmp, page = report
    data = cmp.parent / "data"
    gt = json.loads((data / "gt.json").read_text())
    names = {c["id"]: c["name"] for c in gt["categories"]}
    dets = {v: json.loads((data / f"{v}.json").read_text()) for v in ("original", "lfc", "hfc")}
    rows = {int(r["image_id"]): r for r in csv.DictReader((cmp / "per_image.csv").open())}
    threshold = float(re.search(r"Detections with score &ge; ([0-9.]+) are drawn", page)[1])
    figures = re.findall(r'<figure class="win"><figcaption>#\d+ image (\d+)', page)
    captions = _panel_captions(page)
    assert len(figures) == len(captions) > 3
    saw_hfc_loss = False
    for image_id, panel_captions in zip(map(int, figures), captions, strict=True):
        assert len(panel_captions) == 3
        gts = [a for a in gt["annotations"] if a["image_id"] == image_id]
        mine = {v: [d for d in ds if d["image_id"] == image_id] for v, ds in dets.items()}
        for caption, variant in zip(panel_captions, ("original", "lfc", "hfc"), strict=True):
            assert (
                f"boxes of <b>{variant}</b>: AP {float(rows[image_id][f'ap_{variant}']):.3f}"
                in (caption)
            )
            # the AP scores every detection; the caption says so and how many are drawn
            total = len(mine[variant])
            drawn = sum(d["score"] >= threshold for d in mine[variant])
            if total:
                assert f"from all {total} detection{'s' if total != 1 else ''}; " in caption
                assert f"; {drawn} drawn (score &ge; {threshold:g})" in caption
            else:
                assert "(no detection at all)" in caption
            if variant == "original":
                assert "gained" not in caption
                continue
            diff = object_diff(gts, mine["original"], mine[variant], score_threshold=threshold)
            assert _objects(caption, "gained") == sorted(
                names[g["category_id"]] for g in diff.gained
            )
            assert _objects(caption, "lost") == sorted(names[g["category_id"]] for g in diff.lost)
            saw_hfc_loss |= variant == "hfc" and bool(diff.lost)
    assert saw_hfc_loss  # the case the old, LFC-only caption hid


def _box_pixels(panel: Path) -> int:
    """Pixels of a panel painted exactly in the detection colour (boxes and label fills)."""
    bgr = cv2.imread(str(panel), cv2.IMREAD_COLOR)
    return int((bgr[..., ::-1] == np.array(STYLES["det"][0])).all(axis=-1).sum())


def test_weak_detector_still_shows_boxes_and_the_threshold_is_stated(tmp_path: Path) -> None:
    """A detector whose scores never reach the default 0.5 (as the demo's) still gets boxes."""
    gt_path, images_dir = make_dataset(tmp_path / "data")
    preds = make_predictions(gt_path, tmp_path / "data")
    for path in preds.values():
        weak = [{**d, "score": round(d["score"] * 0.4, 4)} for d in json.loads(path.read_text())]
        path.write_text(json.dumps(weak))
    cmp = tmp_path / "cmp"
    compare(gt_path, preds, cmp, images_dir=images_dir, extra={"radius": 8})
    page = _html(cmp, "--top", "4")
    threshold = float(re.search(r"Detections with score &ge; ([0-9.]+) are drawn", page)[1])
    assert 0 < threshold < 0.4 and "lowered from the default 0.5" in page
    originals = sorted((cmp / "report" / "images").glob("*_original.png"))
    assert sum(_box_pixels(p) > 0 for p in originals) >= len(originals) / 2
    explicit = _html(cmp, "--top", "4", "--score-threshold", "0.9")
    assert "Detections with score &ge; 0.9 are drawn</b> (--score-threshold)" in explicit
    assert all(_box_pixels(p) == 0 for p in (cmp / "report" / "images").glob("*_original.png"))


@pytest.mark.parametrize(("height", "width"), [(480, 640), (427, 640), (640, 480), (300, 400)])
def test_box_labels_are_readable_at_the_page_size(
    report: tuple[Path, str], height: int, width: int
) -> None:
    """A label, shrunk as the page's own stylesheet shrinks its panel, is >= 14 CSS px tall
    (12 px letters in their coloured box); the old fixed 0.35 font scale gave about 9 px."""
    _, page = report
    css = re.search(r"\.panels img \{([^}]*)\}", page)[1]
    width_px = re.search(r"max-width: min\(100%, (\d+)px\)", css)
    max_w = float(width_px[1]) if width_px else 1500 / 3  # else: a third of the 1500 px page
    max_h = float(re.search(r"max-height: (\d+)px", css)[1])
    canvas = np.zeros((height, width, 3), np.uint8)
    det = {"category_id": 1, "bbox": [60.0, 150.0, 120.0, 80.0], "score": 0.9}
    drawn = draw_objects(canvas, dets=[det], category_names={1: "person"})
    label = (drawn[:150] == np.array(STYLES["det"][0])).all(axis=-1).sum(axis=1) >= 10
    shrink = min(max_w / width, max_h / height, 1.0)
    assert label.sum() * shrink >= 14


def test_baseline_row_has_no_wins_over_itself(report: tuple[Path, str]) -> None:
    _, page = report
    table = page[page.index('id="summary"') : page.index("</table>", page.index('id="summary"'))]
    rows = {r.split("</td>")[0]: r for r in re.findall(r'<tr><td class="text">(.*?)</tr>', table)}
    cells = re.findall(r"<td>(.*?)</td>", rows["original (baseline)"])
    assert cells[4] == "&ndash;"  # AP, AP50, AP75, detections, wins over baseline
    assert re.fullmatch(r"\d+", re.findall(r"<td>(.*?)</td>", rows["lfc"])[4])


@pytest.mark.parametrize("counts_as_text", [True, False])
def test_gallery_draws_mask_outlines_and_keypoints(counts_as_text: bool) -> None:
    from pycocotools import mask as mask_utils

    from hfc_detect.reports.draw import STYLES, draw_objects

    triangle = mask_utils.merge(mask_utils.frPyObjects([[4, 4, 36, 4, 4, 36]], 48, 48))
    if counts_as_text:
        triangle["counts"] = triangle["counts"].decode("ascii")
    gt = {"category_id": 1, "bbox": [4, 4, 32, 32], "segmentation": triangle}
    point = {"category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9,
             "keypoints": [[40, 40, 2], [0, 0, 0]]}  # fmt: skip
    canvas = draw_objects(np.zeros((48, 48, 3), np.uint8), gts=[gt], dets=[point])
    drawn = canvas.any(axis=2)
    assert drawn[24:27, 11:16].any()  # the mask's hypotenuse (x + y = 40), not a box edge
    assert not drawn[25, 8] and not drawn[30, 30]  # inside the triangle / the box only
    assert np.all(canvas[40, 40] == STYLES["det"][0])  # the labelled keypoint


def test_the_legend_names_the_tags_drawn_on_gained_and_lost_objects(report) -> None:
    """Gained and lost objects are labelled "G: cat" and "L: cat" on the panels; the legend
    says what G: and L: mean (issue 19, item 7)."""
    _, page = report
    legend = page[page.index('id="legend"') : page.index("</p>", page.index('id="legend"'))]
    assert "G: gained" in legend and "L: lost" in legend


def test_the_page_keeps_a_margin_in_a_narrow_window(report) -> None:
    """The body is centred at up to 1,500 px and padded, so that in a narrower window the
    text does not touch the window's edge (looked at in Chromium at 1,000 and 1,280 px)."""
    _, page = report
    body = re.search(r"body \{([^}]*)\}", page).group(1)
    assert "max-width: 1500px" in body and re.search(r"padding: 0 [1-9]", body)
