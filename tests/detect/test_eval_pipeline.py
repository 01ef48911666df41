"""``hfc-detect eval`` / ``run_eval`` with a tiny deterministic detector on generated images."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hfc_detect.cli.eval  # noqa: F401  (registers the command)
from hfc_detect.cli.app import app
from hfc_detect.data.images import read_image
from hfc_detect.frequency import split, to_pixels
from hfc_detect.frequency.variant import name_variants, plan_variants
from hfc_detect.modeling.base import Detections
from hfc_detect.pipeline.run import EvalConfig, run_eval
from hfc_detect.pipeline.variants import VariantMaker
from hfc_detect.utils.errors import InputError
from tests.conftest import REPO_ROOT
from tests.detect.test_frequency import reference_band

SIZES = [(40, 48), (40, 48), (36, 52), (40, 48), (40, 48)]  # (H, W); one odd size out


class TinyDetector:
    """Deterministic, content-dependent detections; records what it was given.

    Box 1 matches each image's ground truth shifted by (mean of channel 0 - 128) / 8 pixels, so
    LFC (same mean) keeps it and HFC (mean near 0) moves it; scores follow channel means.
    """

    channel_order = "RGB"
    device = torch.device("cpu")

    def __init__(self, channel_order: str = "RGB", fail_after: int | None = None, **_options):
        self.channel_order = channel_order
        self.fail_after = fail_after
        self.seen: list[torch.Tensor] = []
        self.calls: list[int] = []

    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        out = []
        self.calls.append(len(images))
        for image in images:
            if self.fail_after is not None and len(self.seen) >= self.fail_after:
                raise RuntimeError("simulated crash")
            self.seen.append(image.clone())
            _, h, w = image.shape
            m = image.double().mean(dim=(1, 2)).numpy()
            dx = (m[0] - 128.0) / 8.0
            boxes = np.array(
                [
                    [0.2 * w + dx, 0.25 * h, 0.7 * w + dx, 0.75 * h],
                    [0.05 * w, 0.05 * h, 0.5 * w, 0.45 * h],
                ]
            )
            scores = np.array(
                [1 / (1 + math.exp(-(m[1] - 64) / 32)), 0.3 + 0.4 / (1 + math.exp(-m[2] / 64))]
            )
            out.append(Detections(boxes, scores, np.array([1, 2])))
        return out


def make_coco(root: Path, sizes=SIZES, seed: int = 0) -> tuple[Path, Path]:
    """PNG images with a bright rectangle on noise, and COCO annotations for them."""
    rng = np.random.default_rng(seed)
    img_dir = root / "images"
    img_dir.mkdir(parents=True)
    images, anns = [], []
    for i, (h, w) in enumerate(sizes):
        img = rng.integers(0, 120, size=(h, w, 3), dtype=np.uint8)
        x0, y0, x1, y1 = int(0.2 * w), int(0.25 * h), int(0.7 * w), int(0.75 * h)
        img[y0:y1, x0:x1] = rng.integers(150, 256, size=3, dtype=np.uint8)
        name = f"img{i:02d}.png"
        cv2.imwrite(str(img_dir / name), img)
        image_id = 10 + 7 * i
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        bbox = [x0, y0, x1 - x0, y1 - y0]
        anns.append({"id": i + 1, "image_id": image_id, "category_id": 1, "bbox": bbox,
                     "area": bbox[2] * bbox[3], "iscrowd": 0})  # fmt: skip
    cats = [{"id": 1, "name": "box"}, {"id": 2, "name": "other"}]
    ann_path = root / "gt.json"
    ann_path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return ann_path, img_dir


@pytest.fixture
def coco(tmp_path):
    return make_coco(tmp_path / "data")


def _eval(coco, out, detector=None, **kw):
    ann, img = coco
    kw.setdefault("num_workers", 0)
    config = EvalConfig(radii=kw.pop("radii", [8]), output=out, annotations=ann, images=img, **kw)
    return run_eval(config, detector or TinyDetector())


def _reference_variants(path: Path, radii, order: str) -> dict[str, np.ndarray]:
    """Independent reference: numpy split of the decoded image, as CHW in ``order``."""
    rgb = read_image(path)
    flip = (lambda a: a[..., ::-1]) if order == "BGR" else (lambda a: a)
    ref = {"original": flip(rgb.astype(np.float64)).transpose(2, 0, 1)}
    for r in radii:
        low, high = split(rgb, r)
        ref[f"lfc_r{r}"] = flip(low).transpose(2, 0, 1)
        ref[f"hfc_r{r}"] = flip(high).transpose(2, 0, 1)
    return ref


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_detector_gets_the_split_of_the_decoded_image_in_its_channel_order(coco, tmp_path, order):
    det = TinyDetector(channel_order=order)
    radii = [4, 8]
    _eval(coco, tmp_path / "out", det, radii=radii, batch_size=2)
    plan = list(name_variants(plan_variants(radii)))
    assert plan == ["original", "lfc_r4", "hfc_r4", "lfc_r8", "hfc_r8"]
    # calls per batch: one per variant, in plan order, each with the batch's images
    ann = json.loads(coco[0].read_text())
    paths = [coco[1] / im["file_name"] for im in sorted(ann["images"], key=lambda d: d["id"])]
    seen = iter(det.seen)
    for start in range(0, len(paths), 2):
        batch = paths[start : start + 2]
        refs = [_reference_variants(p, radii, order) for p in batch]
        for name in plan:
            for ref in refs:
                got = next(seen)
                assert got.dtype == torch.float32 and got.shape == ref[name].shape
                np.testing.assert_allclose(got.numpy(), ref[name], atol=2e-3, err_msg=name)
    assert next(seen, None) is None


def test_one_forward_fft_per_batch_serves_every_radius(monkeypatch):
    counts = {"n": 0}
    for fn in ("fft2", "fftn", "rfft2", "rfftn", "fft", "rfft"):
        original = getattr(torch.fft, fn)

        def counting(*a, _f=original, **k):
            counts["n"] += 1
            return _f(*a, **k)

        monkeypatch.setattr(torch.fft, fn, counting)

    def forward_calls(images, radii):
        counts["n"] = 0
        VariantMaker(name_variants(plan_variants(radii)))(images)
        return counts["n"]

    same = [torch.rand(3, 20, 24) * 255 for _ in range(3)]
    one = forward_calls(same[:1], [4])  # one 2-D transform (may be 1-D calls along each axis)
    assert 1 <= one <= 2
    assert forward_calls(same, [2, 4, 6, 8]) == one  # batched: one transform for all radii
    assert forward_calls([*same, torch.rand(3, 16, 24)], [4, 8]) == 2 * one  # one per size


@pytest.mark.parametrize("mode", ["raw", "clip", "max"])
def test_pixel_mode_applies_to_lfc_and_hfc_only(mode):
    image = torch.rand(3, 20, 24) * 255
    out = VariantMaker(name_variants(plan_variants([4])), mode)([image])[0]
    low, high = split(image, 4)
    assert torch.equal(out["original"], image)
    torch.testing.assert_close(out["lfc"], to_pixels(low, mode), atol=1e-3, rtol=0)
    torch.testing.assert_close(out["hfc"], to_pixels(high, mode), atol=1e-3, rtol=0)


def test_layout_predictions_and_summary(coco, tmp_path):
    out = tmp_path / "out"
    result = _eval(coco, out, radii=[8], batch_size=3)
    for name in ("original", "lfc", "hfc"):
        preds = json.loads((out / "predictions" / f"{name}.json").read_text())
        assert len(preds) == 2 * len(SIZES)
        assert set(preds[0]) == {"image_id", "category_id", "bbox", "score"}
    assert (out / "per_image.csv").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert [v["name"] for v in summary["variants"]] == ["original", "lfc", "hfc"]
    specs = [v["spec"] for v in summary["variants"]]  # each variant recorded once, typed
    assert specs == [{"kind": "original", "radius": None}, {"kind": "lfc", "radius": 8.0},
                     {"kind": "hfc", "radius": 8.0}]  # fmt: skip
    assert not {"radius", "radii", "variant_kinds"} & set(summary)
    assert summary["pixel_mode"] == "raw"
    assert summary["backend"].endswith("TinyDetector")
    assert summary["failed_images"] == []
    assert {"torch", "torchvision", "hfc-toolkit"} <= set(summary["versions"])
    assert {"decode", "split", "inference", "scoring"} <= set(summary["timings"])
    assert result.summary["variants"][0]["name"] == "original"


def test_predictions_equal_the_detector_on_each_variant(coco, tmp_path):
    """The written COCO results are the detector's boxes as xywh, in image-id order."""
    out = tmp_path / "out"
    _eval(coco, out, radii=[8])
    ann = json.loads(coco[0].read_text())
    det = TinyDetector()
    expected = []
    for im in sorted(ann["images"], key=lambda d: d["id"]):
        ref = _reference_variants(coco[1] / im["file_name"], [8], "RGB")["hfc_r8"]
        d = det.detect([torch.from_numpy(ref.astype(np.float32))])[0]
        for box, score, cat in zip(d.boxes, d.scores, d.category_ids, strict=True):
            x0, y0, x1, y1 = box
            expected.append((im["id"], int(cat), [x0, y0, x1 - x0, y1 - y0], score))
    got = json.loads((out / "predictions" / "hfc.json").read_text())
    assert [(g["image_id"], g["category_id"]) for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose([g["bbox"] for g in got], [e[2] for e in expected], atol=1e-3)
    np.testing.assert_allclose([g["score"] for g in got], [e[3] for e in expected], atol=1e-5)


def test_several_radii_are_named_by_radius_in_one_layout(coco, tmp_path):
    out = tmp_path / "out"
    _eval(coco, out, radii=[4, 8.5], variants="lfc,original")
    names = sorted(p.stem for p in (out / "predictions").glob("*.json"))
    assert names == sorted(["original", "lfc_r4", "lfc_r8.5"])
    summary = json.loads((out / "summary.json").read_text())
    assert [v["spec"]["radius"] for v in summary["variants"]] == [None, 4, 8.5]


def _files(out: Path) -> dict[str, bytes]:
    names = [p for p in sorted((out / "predictions").glob("*.json"))] + [out / "per_image.csv"]
    return {p.name: p.read_bytes() for p in names}


def test_resume_after_a_crash_gives_the_files_of_an_uninterrupted_run(coco, tmp_path):
    _eval(coco, tmp_path / "a", batch_size=2)
    out = tmp_path / "b"
    with pytest.raises(RuntimeError, match="simulated crash"):
        _eval(coco, out, TinyDetector(fail_after=3 * 3 + 1), batch_size=1)  # dies on image 4
    assert not (out / "predictions").exists() and not (out / "summary.json").exists()
    lines = (out / "progress.jsonl").read_bytes().splitlines()
    assert len(lines) == 3
    # a torn last line (killed while writing) is cut off on resume
    with open(out / "progress.jsonl", "ab") as f:
        f.write(b'{"image_id": 38, "ok": tr')
    det = TinyDetector()
    _eval(coco, out, det, batch_size=2, resume=True)
    assert len(det.seen) == 3 * (len(SIZES) - 3)  # only the unfinished images ran
    assert _files(out) == _files(tmp_path / "a")
    # running again on a finished folder recomputes nothing and rewrites the same files
    det = TinyDetector()
    _eval(coco, out, det)
    assert det.seen == [] and _files(out) == _files(tmp_path / "a")


def test_other_settings_on_the_same_output_are_refused(coco, tmp_path):
    out = tmp_path / "out"
    _eval(coco, out, radii=[8])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match=r"other settings.*radii"):
        _eval(coco, out, radii=[4])
    with pytest.raises(InputError, match="pixel_mode"):
        _eval(coco, out, radii=[8], pixel_mode="clip")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_resume_without_a_run_is_refused(coco, tmp_path):
    with pytest.raises(InputError, match="no eval run"):
        _eval(coco, tmp_path / "new", resume=True)
    assert not (tmp_path / "new").exists()


def test_corrupt_and_missing_images_are_listed_and_the_run_goes_on(coco, tmp_path):
    img = coco[1]
    (img / "img01.png").write_bytes(b"not a png")
    (img / "img03.png").unlink()
    out = tmp_path / "out"
    result = _eval(coco, out)
    failed = json.loads((out / "summary.json").read_text())["failed_images"]
    assert [f["image_id"] for f in failed] == [17, 31]
    assert "img01.png" in failed[0]["error"] and "img03.png" in failed[1]["error"]
    assert result.failed_images == failed
    preds = json.loads((out / "predictions" / "original.json").read_text())
    assert sorted({p["image_id"] for p in preds}) == [10, 24, 38]
    scored = json.loads((out / "annotations_scored.json").read_text())
    assert sorted(im["id"] for im in scored["images"]) == [10, 24, 38]


class SparseDetector(TinyDetector):
    """Nothing on dark images (HFC), plus a category the annotations lack on the others."""

    def detect(self, images):
        out = []
        for image, d in zip(images, super().detect(images), strict=True):
            if float(image.mean()) < 20:
                out.append(Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int)))
            else:
                cats = np.array([1, 99])
                out.append(Detections(d.boxes, d.scores, cats))
        return out


def test_empty_variant_and_foreign_categories_are_scored_like_cocoeval(coco, tmp_path):
    out = tmp_path / "out"
    _eval(coco, out, SparseDetector())
    summary = json.loads((out / "summary.json").read_text())
    by_name = {v["name"]: v for v in summary["variants"]}
    assert by_name["hfc"]["num_detections"] == 0 and by_name["hfc"]["stats"]["AP"] == 0
    assert by_name["original"]["num_detections"] == len(SIZES)  # category 99 not scored
    assert summary["detections_outside_gt_categories"] == {
        "original": len(SIZES), "lfc": len(SIZES), "hfc": 0
    }  # fmt: skip
    written = json.loads((out / "predictions" / "original.json").read_text())
    assert sorted({p["category_id"] for p in written}) == [1, 99]  # the file keeps them all
    assert json.loads((out / "predictions" / "hfc.json").read_text()) == []
    assert by_name["lfc"]["predictions"] == str((out / "predictions" / "lfc.json").resolve())


def test_no_readable_image_is_an_error(coco, tmp_path):
    for png in coco[1].glob("*.png"):
        png.write_bytes(b"")
    with pytest.raises(InputError, match="none of the 5 images could be read"):
        _eval(coco, tmp_path / "out")
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "predictions").exists()  # no empty results left behind


def test_limit_scores_the_first_images_by_id(coco, tmp_path):
    out = tmp_path / "out"
    _eval(coco, out, limit=2)
    preds = json.loads((out / "predictions" / "lfc.json").read_text())
    assert sorted({p["image_id"] for p in preds}) == [10, 17]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source_annotations"] == str(coco[0].resolve())
    scored = json.loads(Path(summary["annotations"]).read_text())
    assert [im["id"] for im in scored["images"]] == [10, 17]


BACKEND = "tests.detect.test_eval_pipeline:TinyDetector"


def _cli(args):
    return CliRunner().invoke(app, ["eval", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--radius", "0"], "radius"),
        (["--radius", "-5"], "radius"),
        (["--radius", "8", "--pixel-mode", "log"], "pixel mode"),
        (["--radius", "8", "--variants", "lfc,mid"], "unknown variant"),
        (["--radius", "8", "--backend", "no_such_backend"], "unknown backend"),
        (["--radius", "8", "--backend", "no_such_pkg.mod:Cls"], "cannot import"),
        (["--radius", "8", "--annotations", "missing.json"], "go together"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(coco, tmp_path, args, message):
    out = tmp_path / "out"
    ann, img = coco
    base = ["--annotations", str(ann), "--images", str(img), "--backend", BACKEND]
    if "--annotations" in args:
        base = ["--backend", BACKEND]
    result = _cli([*base, *args, "--output", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert not out.exists()


def test_missing_annotations_file_exits_2(coco, tmp_path):
    out = tmp_path / "out"
    args = ["--radius", "8", "--annotations", str(tmp_path / "nope.json"), "--images",
            str(coco[1]), "--backend", BACKEND, "--output", str(out)]  # fmt: skip
    result = _cli(args)
    assert result.exit_code == 2 and "annotations file not found" in result.output
    assert not out.exists()


def test_cli_runs_a_user_detector_class(coco, tmp_path):
    out = tmp_path / "out"
    args = ["--radius", "8", "--annotations", str(coco[0]), "--images", str(coco[1]),
            "--backend", BACKEND, "--output", str(out), "--num-workers", "1",
            "--batch-size", "2", "--no-progress"]  # fmt: skip
    result = _cli(args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == BACKEND and summary["num_workers"] == 1


def test_without_coco_eval_runs_the_bundled_demo_loudly(tmp_path):
    """``hfc-detect eval --radius 128`` on a machine without COCO: the demo, with a notice."""
    env = {**os.environ, "HFC_CACHE": str(tmp_path / "cache"),
           "DETECTRON2_DATASETS": str(tmp_path / "no_datasets"), "COLUMNS": "120"}  # fmt: skip
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hfc_detect", "eval", "--radius", "128", "--limit", "3",
           "--output", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    notice = " ".join(proc.stderr.split())
    assert "DEMO RUN, NOT COCO" in notice and "coco_2017_val" in notice
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "demo" and summary["dataset"] == "demo"
    assert summary["demo_fallback"] is True and summary["num_images"] == 3
    assert [v["name"] for v in summary["variants"]] == ["original", "lfc", "hfc"]
    assert summary["variants"][0]["stats"]["AP"] > 0.1  # the demo detector really detects
    assert len((out / "per_image.csv").read_text().splitlines()) == 1 + 3
    wins = CliRunner().invoke(app, ["wins", str(out), "--no-objects"])
    assert wins.exit_code == 0, wins.output

    # Re-run: the same notice, the finished run reported, and nothing said to be written.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "DEMO RUN, NOT COCO" in " ".join(again.stderr.split())
    assert "already holds this finished run; nothing was computed or written" in again.stdout
    assert "wrote" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before

    # The report says the data are synthetic.
    report = CliRunner().invoke(app, ["export", str(out), "--format", "html", "--top", "1"])
    assert report.exit_code == 0, report.output
    page = (out / "report" / "index.html").read_text()
    assert 'id="demo"' in page and "synthetic" in page and "not COCO" in page


def test_malformed_annotations_fail_before_any_image_is_run(coco, tmp_path):
    ann, _ = coco
    data = json.loads(ann.read_text())
    data["annotations"][0]["bbox"] = [0, 0, -5, 10]  # scoring would reject it at the very end
    ann.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"annotations\[0\].*'bbox'"):
        _eval(coco, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", ["{", '{"format": 1}', '{"settings": ["radii"]}', "[]"])
def test_unreadable_run_file_is_an_input_error(coco, tmp_path, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(content)
    with pytest.raises(InputError, match=r"run\.json is unreadable"):
        _eval(coco, out)


def test_a_band_reaches_the_detector_as_lfc_outer_minus_lfc_inner(coco, tmp_path):
    """``bands``: the detector sees LFC(R2) - LFC(R1) of each image (numpy reference), named
    band_r<R1>-<R2> and recorded as a band, while lfc/hfc keep their one-radius names."""
    det = TinyDetector()
    _eval(coco, tmp_path / "out", det, radii=[8], bands=["2:6"], batch_size=1)
    plan = ["original", "lfc", "hfc", "band_r2-6"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [v["name"] for v in summary["variants"]] == plan
    assert summary["variants"][3]["spec"] == {"kind": "band", "radius": 6.0, "inner": 2.0}
    ann = json.loads(coco[0].read_text())
    paths = [coco[1] / im["file_name"] for im in sorted(ann["images"], key=lambda d: d["id"])]
    for i, path in enumerate(paths):
        got = det.seen[i * len(plan) + 3]
        ref = reference_band(read_image(path), 2, 6).transpose(2, 0, 1)
        np.testing.assert_allclose(got.numpy(), ref, atol=2e-3)


def test_bands_cost_no_extra_forward_fft(monkeypatch):
    """Every radius and band of an image comes from one forward transform (torch.fft.rfft is
    called once per same-size batch, however many bands), and each band equals the annulus."""
    calls = []
    rfft = torch.fft.rfft
    monkeypatch.setattr(torch.fft, "rfft", lambda *a, **k: calls.append(1) or rfft(*a, **k))
    rgb = np.random.default_rng(3).integers(0, 256, (36, 52, 3)).astype(np.uint8)
    image = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).double()
    for bands in ([], [(2, 6)], [(2, 6), (6, 12), (12, 40)]):
        calls.clear()
        maker = VariantMaker(name_variants(plan_variants([4, 12], bands=bands)))
        (variants,) = maker([image])
        made = {name: variants[name] for name in variants}
        assert len(calls) == 1 and len(made) == 5 + len(bands)
        for inner, outer in bands:
            got = made[f"band_r{inner}-{outer}"].numpy().transpose(1, 2, 0)
            np.testing.assert_allclose(got, reference_band(rgb, inner, outer), atol=1e-9)


def test_bands_keep_the_default_folder_and_resume_of_runs_without_them(coco, tmp_path):
    """A run without --band has the default folder and run.json earlier releases wrote (no
    bands key): such a folder resumes, and another --band on it is refused."""
    out = tmp_path / "out"
    _eval(coco, out, radii=[8])
    run_file = out / "run.json"
    stored = json.loads(run_file.read_text())
    del stored["config"]["bands"]  # as an earlier release wrote it
    run_file.write_text(json.dumps(stored))
    assert _eval(coco, out, radii=[8]).reused
    with pytest.raises(InputError, match="bands"):
        _eval(coco, out, radii=[8], bands=["2:6"])
    ann, img = coco
    plain = EvalConfig(radii=(8,), annotations=ann, images=img)
    assert "bands" not in plain.results_key()
    assert EvalConfig(radii=(8,), annotations=ann, images=img, bands=("2:6",)).results_key()[
        "bands"
    ] == [[2.0, 6.0]]
