"""Runs you can trust (issue 9): no quietly wrong or partial results, runs that continue, the end
of ``eval``, CPU defaults and recorded versions. A tiny deterministic detector on generated
images (tests.detect.test_eval_pipeline)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from hfc_detect.cli.app import app
from hfc_detect.pipeline.environment import cpu_defaults, versions
from hfc_detect.pipeline.predictions import RunFolder
from hfc_detect.pipeline.run import EvalConfig, run_eval
from hfc_detect.utils.errors import InputError
from tests.conftest import REPO_ROOT
from tests.detect.test_eval_pipeline import BACKEND, SparseDetector, TinyDetector, make_coco


class SlowDetector(TinyDetector):
    """TinyDetector taking 0.3 s per call, so a test can interrupt a run midway."""

    def detect(self, images):
        time.sleep(0.3)
        return super().detect(images)


SLOW_BACKEND = "tests.detect.test_eval_trust:SlowDetector"


@pytest.fixture
def coco(tmp_path):
    return make_coco(tmp_path / "data")


def _config(coco, out, **kw) -> EvalConfig:
    ann, img = coco
    kw.setdefault("num_workers", 0)
    return EvalConfig(radii=kw.pop("radii", (8,)), annotations=ann, images=img, output=out, **kw)


def _cli(coco, *args: str):
    ann, img = coco
    base = ["eval", "--radius", "8", "--annotations", str(ann), "--images", str(img),
            "--backend", BACKEND, "--num-workers", "0", "--no-progress"]  # fmt: skip
    return CliRunner().invoke(app, [*base, *args])


# --- 1. image size ------------------------------------------------------------------------


def test_an_image_of_another_size_than_its_annotations_is_a_failed_image(coco, tmp_path):
    """A copy resized to half, and one rotated by 90 degrees: not scored, listed with reason."""
    img = coco[1]
    half = cv2.imread(str(img / "img01.png"))
    cv2.imwrite(str(img / "img01.png"), cv2.resize(half, (24, 20)))
    rotated = cv2.imread(str(img / "img03.png"))
    cv2.imwrite(str(img / "img03.png"), cv2.rotate(rotated, cv2.ROTATE_90_CLOCKWISE))
    result = run_eval(_config(coco, tmp_path / "out"), TinyDetector())
    failed = {f["image_id"]: f for f in result.summary["failed_images"]}
    assert sorted(failed) == [17, 31]
    assert failed[17]["file_name"] == "img01.png"
    assert failed[17]["error"].endswith("decoded 24x20, annotations say 48x40")
    assert failed[31]["error"].endswith("decoded 40x48, annotations say 48x40")
    assert result.summary["num_images"] == 3  # scored on the images that match only


def test_an_exif_rotated_image_is_turned_upright_before_the_size_check(coco, tmp_path):
    from PIL import Image

    img = coco[1]
    upright = cv2.imread(str(img / "img00.png"))[:, :, ::-1]  # (40, 48) as annotated
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned by 90 degrees, displayed upright
    Image.fromarray(upright.transpose(1, 0, 2)[::-1].copy()).save(
        img / "img00.png", exif=exif.tobytes()
    )
    det = TinyDetector()
    result = run_eval(_config(coco, tmp_path / "out"), det)
    assert result.failed_images == []
    assert tuple(det.seen[0].shape) == (3, 40, 48)
    assert (det.seen[0].permute(1, 2, 0).numpy() == upright).all()


def test_real_coco_images_resized_rotated_or_exif_rotated(shared_dir, tmp_path):
    """Four real COCO images (copied to a temporary folder): one resized to half and one turned
    by 90 degrees fail with the reason; one stored turned with an EXIF tag is read upright."""
    from PIL import Image

    root = shared_dir / "data" / "coco-val2017-subset"
    data = json.loads((root / "instances_val2017_subset.json").read_text())
    images = sorted(data["images"], key=lambda im: im["id"])[:4]
    keep = {im["id"] for im in images}
    data["images"] = images
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    (tmp_path / "img").mkdir()
    for im in images:
        (tmp_path / "img" / im["file_name"]).write_bytes(
            (root / "val2017" / im["file_name"]).read_bytes()
        )
    (tmp_path / "gt.json").write_text(json.dumps(data))
    half, turned, tagged = (tmp_path / "img" / im["file_name"] for im in images[:3])
    pixels = cv2.imread(str(half))
    cv2.imwrite(str(half), cv2.resize(pixels, (pixels.shape[1] // 2, pixels.shape[0] // 2)))
    cv2.imwrite(str(turned), cv2.rotate(cv2.imread(str(turned)), cv2.ROTATE_90_CLOCKWISE))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned clockwise; displaying turns it back
    with Image.open(tagged) as im:
        im.transpose(Image.Transpose.ROTATE_270).save(tagged, exif=exif.tobytes(), quality=95)
    config = EvalConfig(radii=(128,), annotations=tmp_path / "gt.json", images=tmp_path / "img",
                        output=tmp_path / "out", num_workers=0)  # fmt: skip
    result = run_eval(config, TinyDetector())
    w, h = images[0]["width"], images[0]["height"]
    reasons = {f["file_name"]: f["error"].split(": ")[-1] for f in result.failed_images}
    assert reasons == {
        images[0]["file_name"]: f"decoded {w // 2}x{h // 2}, annotations say {w}x{h}",
        images[1]["file_name"]: (f"decoded {images[1]['height']}x{images[1]['width']}, "
                                 f"annotations say {images[1]['width']}x{images[1]['height']}"),
    }  # fmt: skip
    assert result.summary["num_images"] == 2


# --- 2. partial runs ----------------------------------------------------------------------


def test_a_partial_run_writes_everything_exits_1_and_names_the_failures(coco, tmp_path):
    (coco[1] / "img01.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = _cli(coco, "--output", str(out))
    assert result.exit_code == 1, result.output
    assert "1 of 5 images could not be used" in result.stderr
    assert "img01.png: cannot decode image" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [f["file_name"] for f in summary["failed_images"]] == ["img01.png"]
    assert (out / "per_image.csv").is_file() and (out / "predictions" / "hfc.json").is_file()


# --- 3. a variant with no detections ------------------------------------------------------


def test_compare_scores_evals_own_empty_variant(coco, tmp_path):
    out = tmp_path / "out"
    run_eval(_config(coco, out), SparseDetector())
    assert json.loads((out / "predictions" / "hfc.json").read_text()) == []
    cmp = tmp_path / "cmp"
    args = ["compare", "--annotations", str(coco[0]), "--output", str(cmp),
            "--predictions", f"hfc={out / 'predictions' / 'hfc.json'}"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = (cmp / "per_image.csv").read_text().splitlines()[1:]
    assert [row.split(",")[3] for row in rows] == ["0.0"] * 5


# --- 4. the same command resumes; a finished run is reported; Ctrl-C/SIGTERM ---------------


def test_the_default_output_is_a_function_of_the_settings(coco, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _cli(coco)
    assert first.exit_code == 0, first.output
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("eval-gt-TinyDetector-r8-")
    log = (folders[0] / "progress.jsonl").read_bytes()
    again = _cli(coco)
    assert again.exit_code == 0, again.output
    assert "already holds this finished run; nothing was computed or written" in again.stdout
    assert "wrote" not in again.stdout
    assert list((tmp_path / "runs").iterdir()) == folders
    assert (folders[0] / "progress.jsonl").read_bytes() == log
    other = _cli(coco, "--pixel-mode", "clip")
    assert other.exit_code == 0 and len(list((tmp_path / "runs").iterdir())) == 2


def test_a_finished_run_is_reported_without_loading_the_model(coco, tmp_path):
    out = tmp_path / "out"
    first = run_eval(_config(coco, out), TinyDetector())
    det = TinyDetector()
    again = run_eval(_config(coco, out), det)
    assert again.reused and det.calls == []
    assert again.summary == first.summary


class InterruptedDetector(TinyDetector):
    """Ctrl-C on the third image."""

    def detect(self, images):
        if len(self.seen) >= 3 * 2:
            raise KeyboardInterrupt
        return super().detect(images)


def test_ctrl_c_says_in_one_line_how_to_continue(coco, tmp_path):
    out = tmp_path / "out"
    result = _cli(coco, "--output", str(out), "--backend",
                  "tests.detect.test_eval_trust:InterruptedDetector")  # fmt: skip
    assert result.exit_code == 130
    assert result.stderr == (
        f"interrupted: 2 of 5 images are saved in {out}; run the same command again to continue\n"
    )
    assert len((out / "progress.jsonl").read_bytes().splitlines()) == 2


def test_the_interrupt_count_is_the_resume_count(coco, tmp_path, monkeypatch):
    """Ctrl-C right after an image is logged, before the progress display hears of it: the line
    counts what is on disk, as the resume does (issue 19, item 4: it said 1, then 2)."""
    out = tmp_path / "out"
    append = RunFolder.append
    calls = []

    def append_then_interrupt(log, entries):
        append(log, entries)
        calls.append(len(entries))
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "append", staticmethod(append_then_interrupt))
    result = _cli(coco, "--output", str(out))
    assert result.exit_code == 130
    assert result.stderr.startswith(f"interrupted: 2 of 5 images are saved in {out};")
    monkeypatch.setattr(RunFolder, "append", staticmethod(append))
    again = _cli(coco, "--output", str(out))
    assert again.exit_code == 0, again.output
    assert f"resuming {out}: 2 of 5 images done" in again.stderr


@pytest.mark.slow
def test_sigterm_says_in_one_line_how_to_continue(coco, tmp_path):
    ann, img = coco
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hfc_detect", "eval", "--radius", "8", "--annotations",
           str(ann), "--images", str(img), "--backend", SLOW_BACKEND, "--num-workers", "0",
           "--no-progress", "--output", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    log = out / "progress.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_bytes().count(b"\n") >= 1):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr
    assert lines[0].startswith("interrupted: ") and str(out) in lines[0]
    assert "run the same command again to continue" in lines[0]
    assert not (out / ".eval.lock").exists()


# --- 5. two runs into one folder ----------------------------------------------------------


def test_a_second_eval_into_a_folder_in_use_refuses_in_one_line(coco, tmp_path):
    out = tmp_path / "out"
    with RunFolder(out).lock():
        result = _cli(coco, "--output", str(out))
        with pytest.raises(InputError, match="in use by another eval"):
            run_eval(_config(coco, out), TinyDetector())
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "in use by another eval" in result.stderr
    assert not out.exists()  # the lock holder created nothing else, so nothing is left
    nested = tmp_path / "runs" / "a" / "b"
    with pytest.raises(InputError, match="no eval run to resume"):
        run_eval(_config(coco, nested, resume=True), TinyDetector())
    assert not (tmp_path / "runs").exists()  # no empty parents left behind either
    assert run_eval(_config(coco, out), TinyDetector()).summary is not None


def test_a_killed_run_leaves_no_stuck_lock(coco, tmp_path):
    out = tmp_path / "out"
    holder = (
        "import sys, time; from hfc_detect.pipeline.predictions import RunFolder\n"
        "with RunFolder(sys.argv[1]).lock():\n    print('locked', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", holder, str(out)], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(InputError, match="in use"):
        run_eval(_config(coco, out), TinyDetector())
    proc.kill()
    proc.wait(timeout=30)
    assert run_eval(_config(coco, out), TinyDetector()).summary is not None


def test_a_killed_run_whose_forked_workers_live_on_leaves_no_lock(coco, tmp_path):
    """Decode workers are forked children of the eval: killing the eval with SIGKILL leaves them
    running for a while, and they must not keep the folder locked (issue 19, item 5)."""
    out = tmp_path / "out"
    holder = (
        "import multiprocessing as mp, sys, time\n"
        "from hfc_detect.pipeline.predictions import RunFolder\n"
        "with RunFolder(sys.argv[1]).lock():\n"
        "    worker = mp.get_context('fork').Process(target=time.sleep, args=(60,))\n"
        "    worker.start()\n"
        "    print(worker.pid, flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", holder, str(out)], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    worker = int(proc.stdout.readline())
    try:
        with pytest.raises(InputError, match="in use"):
            run_eval(_config(coco, out), TinyDetector())
        proc.kill()
        proc.wait(timeout=30)
        os.kill(worker, 0)  # the worker is still alive, yet the folder is free at once
        assert run_eval(_config(coco, out), TinyDetector()).summary is not None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


# --- 6. a corrupt progress log ------------------------------------------------------------


def test_a_corrupt_line_mid_log_drops_that_line_only_and_warns_once(coco, tmp_path):
    reference = tmp_path / "ref"
    run_eval(_config(coco, reference), TinyDetector())
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_eval(_config(coco, out), TinyDetector(fail_after=3 * 4))  # 4 images logged
    lines = (out / "progress.jsonl").read_bytes().splitlines(keepends=True)
    assert len(lines) == 4
    lines[1] = b'{"image_id": 17, "ok": tr#garbage\n'
    (out / "progress.jsonl").write_bytes(b"".join(lines))
    det = TinyDetector()
    events = []
    run_eval(_config(coco, out), det, on_progress=events.append)
    warnings = [e.message for e in events if e.kind == "warning"]
    assert len(warnings) == 1 and "dropped 1 corrupt line" in warnings[0]
    assert len(det.seen) == 3 * 2  # the corrupt image and the one never run, nothing else
    for name in ("original", "lfc", "hfc"):
        path = Path("predictions") / f"{name}.json"
        assert (out / path).read_bytes() == (reference / path).read_bytes()
    assert (out / "per_image.csv").read_bytes() == (reference / "per_image.csv").read_bytes()


# --- 9. the end of eval -------------------------------------------------------------------


def test_the_end_of_eval_prints_the_next_commands_with_the_real_path(coco, tmp_path):
    out = tmp_path / "my run"
    result = _cli(coco, "--output", str(out))
    assert result.exit_code == 0, result.output
    quoted = f"'{out}'"
    assert f"hfc-detect wins {quoted}" in result.stdout
    assert f"hfc-detect export {quoted} --format html" in result.stdout
    original = next(line for line in result.stdout.splitlines() if "original  AP" in line)
    assert "wins" not in original
    lfc = next(line for line in result.stdout.splitlines() if "lfc  AP" in line)
    assert "wins over original" in lfc


def test_the_demo_notice_says_where_detectron2_looks(monkeypatch, tmp_path):
    from rich.console import Console

    from hfc_detect.cli.eval_view import demo_notice

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DETECTRON2_DATASETS", raising=False)
    console = Console(width=200, record=True)
    console.print(demo_notice())
    text = " ".join(console.export_text().split())
    assert "(now datasets)" not in text
    assert f"DETECTRON2_DATASETS is not set, so Detectron2 looks in ./datasets = {tmp_path}" in (
        text.replace("│ ", "").replace(" │", "")
    )


# --- 11. CPU defaults ---------------------------------------------------------------------


def test_cpu_defaults_use_one_busy_thread_per_core():
    assert cpu_defaults(None, None, on_cpu=True, cpus=2) == (1, 1)
    assert cpu_defaults(None, None, on_cpu=True, cpus=1) == (0, 1)
    assert cpu_defaults(None, None, on_cpu=True, cpus=16) == (2, 14)
    assert cpu_defaults(None, None, on_cpu=False, cpus=16) == (2, None)
    assert cpu_defaults(0, 3, on_cpu=True, cpus=2) == (0, 3)  # given values are kept


def test_eval_records_the_cpu_defaults_and_restores_torch_threads(coco, tmp_path):
    import torch

    before = torch.get_num_threads()
    config = EvalConfig(radii=(8,), annotations=coco[0], images=coco[1], output=tmp_path / "o")
    summary = run_eval(config, TinyDetector()).summary
    workers, threads = cpu_defaults(None, None, on_cpu=True)
    assert (summary["num_workers"], summary["torch_threads"]) == (workers, threads)
    stored = json.loads((tmp_path / "o" / "run.json").read_text())["config"]
    assert (stored["num_workers"], stored["threads"]) == (workers, threads)
    assert torch.get_num_threads() == before


def test_onnxruntime_threads_follow_torchs(shared_dir, one_torch_thread):
    pytest.importorskip("onnxruntime")
    from hfc_detect.modeling.onnx_yolox import OnnxYoloxDetector

    det = OnnxYoloxDetector(shared_dir / "models" / "yolox_nano.onnx", device="cpu")
    assert det.session.get_session_options().intra_op_num_threads == 1


# --- 12. versions -------------------------------------------------------------------------


def test_a_module_without_package_metadata_reports_its_own_version(monkeypatch):
    import types

    real = metadata.version

    def version(name):
        if name == "detectron2":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.setitem(sys.modules, "detectron2", types.SimpleNamespace(__version__="0.6"))
    assert versions()["detectron2"] == "0.6"
    monkeypatch.delitem(sys.modules, "detectron2")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert versions()["detectron2"] is None
