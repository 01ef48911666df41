"""Ctrl-C in every long command: one line on how to continue, exit code 130, and the count in
that line equal to the count the resume starts from (issue 19, item 4). The interrupt is
raised inside the long work, where a user's Ctrl-C lands."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from hfc_classify.cli.app import app as classify_app
from hfc_detect.cli.app import app as detect_app
from tests.detect.test_eval_pipeline import BACKEND, make_coco

SHARED_MODEL = "models/cifar10_resnet20-12fca82f.th"
SHARED_TEST = "data/cifar10/test_first1000.npz"
runner = CliRunner()


def _interrupt_on_call(monkeypatch, target, name: str, call: int) -> None:
    """Make ``target.name`` raise KeyboardInterrupt on its ``call``-th call (after doing the
    work of that call, as when Ctrl-C lands right after it)."""
    original = getattr(target, name)
    calls = []

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(target, name, wrapper)


def _one_line(result, start: str) -> str:
    assert result.exit_code == 130, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"interrupted: {start}"), lines
    assert sum(line.startswith("interrupted") for line in lines) == 1
    assert "Traceback" not in result.output
    return lines[-1]


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, images=rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
             labels=np.arange(32) % 10)  # fmt: skip
    return path


def _train_args(data, out, cache):
    return ["train", "-d", str(data), "--test-data", str(data), "-o", str(out), "-a", "lenet",
            "--epochs", "3", "--batch-size", "16", "--track-train", "8", "--track-test", "8",
            "--track-radius", "4", "--device", "cpu", "--cache-dir", str(cache),
            "--no-progress"]  # fmt: skip


def test_train(tiny_npz, tmp_path, monkeypatch):
    from hfc_classify.engine.run_folder import RunFolder

    out = tmp_path / "run"
    args = _train_args(tiny_npz, out, tmp_path / "cache")
    _interrupt_on_call(monkeypatch, RunFolder, "save_epoch", 1)  # epoch 1 saved, then Ctrl-C
    line = _one_line(runner.invoke(classify_app, args), "1 of 3 epochs are saved in")
    assert "run the same command again to continue" in line
    monkeypatch.undo()
    again = runner.invoke(classify_app, args)
    assert again.exit_code == 0, again.output
    assert f"{out}: resuming after epoch 1" in " ".join(again.stderr.split())


def test_sweep(tiny_npz, tmp_path, monkeypatch):
    from hfc_classify.engine.trainer import Trainer

    sweep = tmp_path / "sweep.yaml"
    base = {"train_data": str(tiny_npz), "test_data": str(tiny_npz), "arch": "lenet",
            "epochs": 1, "batch_size": 16, "track_train": 8, "track_test": 8,
            "track_radii": [4], "device": "cpu", "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    sweep.write_text(yaml.safe_dump({"name": "s", "base": base, "grid": {"seed": [0, 1]}}))
    args = ["sweep", str(sweep), "-o", str(tmp_path / "runs"), "--no-progress"]
    _interrupt_on_call(monkeypatch, Trainer, "epoch_metrics", 2)  # in the second run
    line = _one_line(runner.invoke(classify_app, args), "1 of 2 runs are finished")
    assert "run the same command again to continue" in line
    monkeypatch.undo()
    again = runner.invoke(classify_app, args)
    assert again.exit_code == 0, again.output
    assert again.stderr.count("skip ") == 1  # the one run the line counted as finished


def test_detector_heatmap(tmp_path, monkeypatch):
    import hfc_detect.analysis.heatmap as heatmap

    ann, img = make_coco(tmp_path / "data")
    out = tmp_path / "hm"
    args = ["heatmap", "-a", str(ann), "--images", str(img), "--backend", BACKEND, "--grid", "2",
            "--step", "3", "--eps", "500", "--limit", "2", "--batch-size", "1",
            "-o", str(out)]  # fmt: skip
    _interrupt_on_call(monkeypatch, heatmap, "_append", 2)  # two frequencies logged
    line = _one_line(runner.invoke(detect_app, args), "2 of 4 frequencies are saved in")
    assert "run the same command again to continue" in line
    monkeypatch.undo()
    again = runner.invoke(detect_app, args)
    assert again.exit_code == 0, again.output
    assert f"resuming {out}: 2 of 4 frequencies done" in again.stderr


@pytest.mark.parametrize(
    ("command", "module", "function", "extra"),
    [
        ("robustness", "hfc_classify.robustness", "evaluate_robustness",
         ["--rho", "0", "--attack", "fgsm", "--eps", "0.03"]),
        ("heatmap", "hfc_classify.analysis.heatmap", "fourier_heatmap", ["--eps", "4"]),
        ("cue-conflict", "hfc_classify.analysis.cue_conflict", "cue_conflict", ["-r", "4"]),
    ],
)  # fmt: skip
def test_classifier_analyses_that_start_over(
    shared_dir, tmp_path, monkeypatch, command, module, function, extra
):
    import importlib

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(module), function, interrupted)
    out = tmp_path / "out"
    args = [command, "-a", "resnet20", "-c", str(shared_dir / SHARED_MODEL),
            "-d", str(shared_dir / SHARED_TEST), "--limit", "2", "-o", str(out),
            *extra]  # fmt: skip
    line = _one_line(runner.invoke(classify_app, args), f"nothing was written to {out}")
    assert "run the same command again to start over" in line
    assert not out.exists()
