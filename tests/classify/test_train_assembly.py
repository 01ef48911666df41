"""How a training run is put together: a frozen config, a trainer fed ready-made parts, one
module for the run folder's files, and CLI options generated from the config."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfc_classify.cli.app import app
from hfc_classify.engine import TrainConfig, fit
from hfc_classify.engine import run_folder as rf
from hfc_classify.engine.config import RESUMABLE, default_settings
from hfc_classify.engine.device import Runtime
from hfc_classify.engine.run_folder import RunFolder
from hfc_classify.engine.trainer import RunData, Trainer
from hfc_detect.utils.errors import InputError

PACKAGE = Path(__file__).resolve().parents[2] / "hfc_classify"


def test_config_is_normalised_once_and_frozen():
    c = TrainConfig(train_data="data/cifar10", optimizer="SGD", track_radii=[4, 8], train_on="lfc",
                    train_radius=8)  # fmt: skip
    assert (c.test_data, c.optimizer, c.track_radii, c.train_radius) == (
        "data/cifar10",
        "sgd",
        (4.0, 8.0),
        8.0,
    )
    assert all(type(r) is float for r in (*c.track_radii, c.train_radius))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.lr = 0.1  # type: ignore[misc]
    # config.json holds plain JSON values, and reads back as the same config
    saved = c.to_dict()
    assert saved["track_radii"] == [4.0, 8.0] and list(saved) == [
        f.name for f in dataclasses.fields(TrainConfig)
    ]
    assert TrainConfig.from_dict(saved) == c
    assert dataclasses.replace(c, epochs=3).epochs == 3
    with pytest.raises(InputError, match="epochs must be >= 1"):
        dataclasses.replace(c, epochs=0)  # a changed copy is checked too


def test_config_errors_say_where_the_settings_came_from():
    with pytest.raises(InputError, match=r"^sweep.yaml:vanilla: unknown optimizer 'nag'"):
        TrainConfig.from_dict({"train_data": "d", "optimizer": "nag"}, "sweep.yaml:vanilla")
    with pytest.raises(InputError, match=r"^train: unknown setting\(s\) optimiser$"):
        TrainConfig.from_dict({"train_data": "d", "optimiser": "adam"}, "train")
    with pytest.raises(InputError, match="no training data given"):
        TrainConfig()


def test_config_errors_name_settings_as_given():
    """A sweep file's errors name fields; the CLI passes the options the user typed, for that
    one build only."""
    values = {"train_data": "d", "mixup_alpha": -1}
    with pytest.raises(InputError, match=r"^train: --mixup must be >= 0"):
        TrainConfig.from_dict(values, "train", names={"mixup_alpha": "--mixup"})
    with pytest.raises(InputError, match=r"^sweep.yaml:a: mixup_alpha must be >= 0"):
        TrainConfig.from_dict(values, "sweep.yaml:a")
    names = {"train_data": "--data", "test_data": "--test-data"}
    with pytest.raises(InputError, match=r"--data d.npz: an .npz file .* give --test-data too"):
        TrainConfig.from_dict({"train_data": "d.npz"}, "train", names)


def test_a_run_resumes_only_with_its_own_settings():
    c = TrainConfig(train_data="d", test_data="t")
    saved = c.to_dict()
    assert c.changed_settings(saved) == []
    changed = dataclasses.replace(c, lr=0.5, epochs=7, device="cpu", seed=1)
    assert "epochs" in RESUMABLE and "device" in RESUMABLE
    assert changed.changed_settings(saved) == ["lr", "seed"]
    # a checkpoint written before a setting existed: the setting counts as its default
    older = {k: v for k, v in saved.items() if k != "precision"}
    assert c.changed_settings(older) == []
    assert dataclasses.replace(c, precision="bf16").changed_settings(older) == ["precision"]
    assert default_settings()["track_radii"] == [4.0, 8.0, 12.0, 16.0]


class FakeTracker:
    """Records the models it measured; reports one made-up column."""

    def __init__(self) -> None:
        self.models: list[torch.nn.Module] = []

    def measure(self, model: torch.nn.Module) -> dict[str, float]:
        self.models.append(model)
        return {"fake_column": 0.25}


def _injected_trainer(epochs: int) -> tuple[Trainer, FakeTracker]:
    """A trainer on parts built here: a linear model on 3x8x8 random images of 3 classes; the
    config's data paths name nothing that exists (they must not be read)."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 3, 8, 8, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    data = RunData(x[:30], y[:30], x[30:], y[30:], label_permutation=np.arange(30)[::-1].copy())
    config = TrainConfig(train_data="nowhere.npz", test_data="nowhere.npz", epochs=epochs,
                         batch_size=8, lr=0.05, optimizer="sgd", device="cpu")  # fmt: skip
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    tracker = FakeTracker()
    runtime = Runtime(torch.device("cpu"), eval_batch=4)
    return Trainer(config, model, optimizer, data, tracker, runtime, log=lambda _: None), tracker


def test_trainer_trains_the_parts_it_is_given(tmp_path):
    trainer, tracker = _injected_trainer(epochs=2)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    summary = fit(trainer, tmp_path / "run", progress=False)
    assert summary["finished"] and summary["epochs"] == 2
    assert tracker.models == [trainer.model, trainer.model]  # measured once an epoch
    assert not all(
        torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True)
    )
    with torch.no_grad():  # the test accuracy, computed here from the trained model
        expected = (trainer.model(trainer.data.test_x).argmax(1) == trainer.data.test_y).float()
    rows = RunFolder(tmp_path / "run").read_metrics()
    assert rows[-1]["test_acc"] == pytest.approx(float(expected.mean()))
    assert [r["fake_column"] for r in rows] == [0.25, 0.25]
    state = RunFolder(tmp_path / "run").read_checkpoint()
    assert torch.equal(state["label_permutation"], torch.arange(30).flip(0))


def test_an_injected_run_resumes_from_its_folder(tmp_path):
    full, _ = _injected_trainer(epochs=2)
    fit(full, tmp_path / "full", progress=False)
    cut, _ = _injected_trainer(epochs=2)
    assert fit(cut, tmp_path / "cut", progress=False, stop_after=1) == {
        "finished": False,
        "epochs": 1,
    }
    assert RunFolder(tmp_path / "cut").state() == "partial"
    resumed, tracker = _injected_trainer(epochs=2)  # fresh parts, as a new process has
    fit(resumed, tmp_path / "cut", progress=False)
    assert len(tracker.models) == 1  # only the second epoch was trained
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert RunFolder(tmp_path / "cut").state() == "finished"


def test_run_folder_files(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert folder.state() == "to do" and folder.read_checkpoint() is None
    trainer, _ = _injected_trainer(epochs=1)
    fit(trainer, folder.path, progress=False)
    assert sorted(p.name for p in folder.path.iterdir()) == sorted(
        [rf.CONFIG, rf.METRICS, rf.CHECKPOINT, rf.PERMUTATION, rf.SUMMARY]
    )
    assert folder.read_config() == trainer.config.to_dict()
    assert folder.read_summary()["epochs"] == 1 and rf.is_finished(folder.path)
    request = folder.write_request({"seed": 3})
    assert rf.read_request(request) == ({"seed": 3}, folder.path)
    (folder.path / rf.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="unreadable checkpoint"):
        folder.read_checkpoint()


def test_only_the_run_folder_module_names_the_run_files():
    """No other module of the package spells a run folder's file name as a string of its own
    (``tensorboard``, the folder's name, is also the setting's)."""
    names = {rf.CONFIG, rf.METRICS, rf.CHECKPOINT, rf.PERMUTATION, rf.SUMMARY, rf.REQUEST}
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                spelled.append(f"{path.relative_to(PACKAGE)}: {node.value}")
    assert spelled and all(s.startswith("engine/run_folder.py") for s in spelled), spelled


def _cli_config(monkeypatch, tmp_path, *args: str) -> TrainConfig:
    """The config ``hfc-classify train`` hands to train() for ``args``."""
    seen = []

    def fake_train(config, run_dir, **kwargs):
        seen.append(config)
        return {"epochs": 0, "final": {"train_acc": 0.0, "test_acc": 0.0}}

    monkeypatch.setattr(importlib.import_module("hfc_classify.engine.run"), "train", fake_train)
    common = ["train", "--data", "d.npz", "--test-data", "t.npz", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*common, *args])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_cli_defaults_are_the_configs(monkeypatch, tmp_path):
    assert _cli_config(monkeypatch, tmp_path) == TrainConfig(train_data="d.npz", test_data="t.npz")


def test_cli_options_set_their_fields(monkeypatch, tmp_path):
    config = _cli_config(
        monkeypatch, tmp_path, "--mixup", "0.5", "--train-on", "lfc", "--radius", "8",
        "--track-radius", "4,8", "--track-radius", "12", "--no-batch-norm", "--augment",
        "--optimizer", "SGD", "--eval-batch-size", "7", "--adv-step-size", "0.01",
    )  # fmt: skip
    expected = TrainConfig(train_data="d.npz", test_data="t.npz", mixup_alpha=0.5,
                           train_on="lfc", train_radius=8, track_radii=(4, 8, 12),
                           batch_norm=False, augment=True, optimizer="sgd", eval_batch_size=7,
                           adv_step_size=0.01)  # fmt: skip
    assert config == expected


def test_cli_pixel_mode_and_its_old_name(monkeypatch, tmp_path):
    assert _cli_config(monkeypatch, tmp_path, "--pixel-mode", "clip").normalize == "clip"
    assert _cli_config(monkeypatch, tmp_path, "--normalize", "raw").normalize == "raw"
    both = ["--pixel-mode", "raw", "--normalize", "raw"]
    assert _cli_config(monkeypatch, tmp_path, *both).normalize == "raw"
    args = ["train", "-d", "d.npz", "--test-data", "t.npz", "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--pixel-mode", "raw", "--normalize", "clip"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --pixel-mode raw and --normalize clip disagree")
    result = CliRunner().invoke(app, [*args, "--normalize", "x"])
    assert result.output.startswith("error: train: --normalize must be one of")


def test_cli_has_an_option_for_every_setting_but_num_classes():
    from hfc_classify.cli.train import SETTINGS

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - {o.field for o in SETTINGS} == {"num_classes"}
    assert len({o.field for o in SETTINGS}) == len(SETTINGS)
