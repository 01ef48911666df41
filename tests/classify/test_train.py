"""Training: learning on real CIFAR images, exact resume, seeded label shuffling, options."""

from __future__ import annotations

import csv
import importlib

import numpy as np
import pytest
import torch

from hfc_classify.cli.app import app
from hfc_classify.data import frequency_sets, load_npz
from hfc_classify.engine import TrainConfig, Trainer, label_permutation, train
from hfc_classify.engine.train import TIME_COLUMNS
from hfc_detect.utils.errors import InputError
from tests.classify.reference import max_scaled, numpy_split

TINY = dict(
    arch="lenet",
    epochs=2,
    batch_size=16,
    lr=1e-3,
    track_train=16,
    track_test=16,
    track_radii=[4, 8],
    eval_batch_size=64,
    device="cpu",
)


@pytest.fixture
def tiny_data(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "tiny.npz"
    np.savez(path, images=images, labels=np.arange(48) % 10)
    return str(path)


def _config(data, tmp_path, **kw):
    kw = {"test_data": data, **TINY, **kw}
    return TrainConfig(train_data=data, cache_dir=str(tmp_path / "cache"), **kw)


def _metrics(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [
            {k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)
        ]


def test_defaults_are_the_vanilla_set_up():
    c = TrainConfig(train_data="data/cifar10").validate()
    assert (c.arch, c.optimizer, c.lr, c.batch_size, c.epochs) == (
        "released_resnet",
        "adam",
        1e-4,
        100,
        100,
    )
    assert c.track_radii == [4, 8, 12, 16] and (c.track_train, c.track_test) == (1000, 1000)
    assert c.step_size == pytest.approx(8 / 255 / 10) and not c.adv_random_start


def test_resume_equals_uninterrupted(tiny_data, tmp_path):
    kw = dict(mixup_alpha=1.0, augment=True, dropout=0.3, epochs=3)
    train(_config(tiny_data, tmp_path, **kw), tmp_path / "full", progress=False, log=lambda _: None)
    # "killed" after epoch 1, then the same command again
    part = train(
        _config(tiny_data, tmp_path, **kw),
        tmp_path / "cut",
        progress=False,
        log=lambda _: None,
        stop_after=1,
    )
    assert part == {"finished": False, "epochs": 1}
    assert not (tmp_path / "cut" / "summary.json").exists()
    train(_config(tiny_data, tmp_path, **kw), tmp_path / "cut", progress=False, log=lambda _: None)
    assert _metrics(tmp_path / "full") == _metrics(tmp_path / "cut")
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = _metrics(tmp_path / "full")
    assert len(rows) == 3 and {"train_lfc_r4", "train_hfc_r8", "test_lfc_r8", "test_hfc_r4"} <= set(
        rows[0]
    )


def test_changed_settings_refuse_to_resume(tiny_data, tmp_path):
    train(
        _config(tiny_data, tmp_path, epochs=1), tmp_path / "run", progress=False, log=lambda _: None
    )
    with pytest.raises(InputError, match=r"other settings.*lr"):
        train(_config(tiny_data, tmp_path, lr=0.5), tmp_path / "run", progress=False)


def test_shuffled_labels_are_one_seeded_permutation(tiny_data, tmp_path):
    perm = label_permutation(48, seed=3)
    assert np.array_equal(perm, label_permutation(48, seed=3))
    assert sorted(perm) == list(range(48)) and not np.array_equal(perm, np.arange(48))
    assert not np.array_equal(perm, label_permutation(48, seed=4))
    config = _config(tiny_data, tmp_path, shuffle_labels=True, seed=3, epochs=1)
    train(config, tmp_path / "run", progress=False, log=lambda _: None)
    saved = np.load(tmp_path / "run" / "label_permutation.npy")
    assert np.array_equal(saved, perm)
    trainer = Trainer(config, tmp_path / "other", log=lambda _: None)
    assert np.array_equal(trainer.train_y.numpy(), (np.arange(48) % 10)[perm])


def test_train_on_hfc_uses_the_cached_component(tiny_data, tmp_path):
    config = _config(tiny_data, tmp_path, train_on="hfc", train_radius=8, normalize="clip")
    trainer = Trainer(config, tmp_path / "run")
    expected = frequency_sets(load_npz(tiny_data).images, [8], mode="clip")[("hfc", 8.0)]
    assert torch.allclose(trainer.train_x, expected)


def test_adversarial_training_calls_pgd(tiny_data, tmp_path, monkeypatch):
    attacks = importlib.import_module("hfc_classify.attacks")
    calls = []

    def fake_pgd(model, x, y, eps, alpha, steps, random_start=False):
        calls.append((eps, alpha, steps, random_start, model.training))
        return x

    monkeypatch.setattr(attacks, "pgd", fake_pgd)
    config = _config(tiny_data, tmp_path, adversarial=True, adv_steps=3, epochs=1)
    train(config, tmp_path / "run", progress=False, log=lambda _: None)
    assert len(calls) == 3  # 48 images in batches of 16
    assert calls[0][:4] == (pytest.approx(8 / 255), pytest.approx(8 / 2550), 3, False)


def test_adversarial_training_attacks_in_eval_mode_and_trains_in_train_mode(tiny_data, tmp_path):
    config = _config(tiny_data, tmp_path, adversarial=True, adv_steps=2, batch_norm=True)
    trainer = Trainer(config, tmp_path / "run", log=lambda _: None)
    modes = []
    trainer.model.register_forward_pre_hook(lambda m, _: modes.append(m.training))
    trainer.train_epoch(0)
    # per batch of 16 (3 in all): two PGD steps in eval mode, then the loss in train mode
    assert modes == [False, False, True] * 3
    assert trainer.model.training


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(optimizer="lbfgs"), "unknown optimizer 'lbfgs'"),
        (dict(arch="resnet999"), "unknown architecture"),
        (dict(train_on="lfc"), "needs a radius"),
        (dict(arch="resnet20", batch_norm=False), "does not take"),
        (dict(num_classes=5), "out of range for 5 classes"),
        (dict(test_data=""), "an .npz file holds one split"),
        (dict(adversarial=True, adv_steps=0), "adv_steps >= 1"),
        (dict(adversarial=True, train_on="hfc", train_radius=8), "use normalize clip"),
        (dict(adversarial=True, adv_step_size=-0.1), "adv_step_size > 0"),
    ],
)
def test_bad_settings(tiny_data, tmp_path, kw, message):
    with pytest.raises(InputError, match=message):
        train(_config(tiny_data, tmp_path, **kw), tmp_path / "run", progress=False)


def test_cli_bad_input_is_one_line_exit_2(tiny_data, tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    for args in (
        ["--data", str(tmp_path / "missing"), "--output", str(tmp_path / "o")],
        ["--data", tiny_data, "--output", str(tmp_path / "o"), "--optimizer", "nag"],
        ["--data", tiny_data, "--output", str(tmp_path / "o"), "--arch", "nope"],
    ):
        result = runner.invoke(app, ["train", *args])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and result.output.count("\n") == 1


def test_a_few_steps_on_real_cifar_beat_chance(shared_dir, tmp_path):
    data = shared_dir / "data" / "cifar10"
    config = TrainConfig(
        train_data=str(data / "train_first4000.npz"),
        test_data=str(data / "test_first1000.npz"),
        arch="lenet",
        epochs=1,
        batch_size=50,
        lr=2e-3,
        track_train=100,
        track_test=100,
        track_radii=[4],
        device="cpu",
        cache_dir=str(tmp_path / "cache"),
    )
    summary = train(config, tmp_path / "run", progress=False, log=lambda _: None)
    assert summary["final"]["test_acc"] > 0.2  # chance: 0.1


def test_tracked_columns_match_a_direct_computation(tmp_path):
    """Each column is the accuracy on its own split, component and radius: a linear model
    labelled by its predictions on the test HFC at r=8 scores 1 there and less elsewhere."""
    from hfc_classify.data.datasets import ImageSet
    from hfc_classify.engine.tracking import Tracker

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)).eval()
    rng = np.random.default_rng(5)
    images = {s: rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8) for s in ("train", "test")}

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(x).permute(0, 3, 1, 2).float()).argmax(1).numpy()

    labels = predict(max_scaled(numpy_split(images["test"], 8)[1]))
    splits = {s: ImageSet(im, labels, s) for s, im in images.items()}
    tracker = Tracker(splits, [4, 8], {"train": 0, "test": 0}, cache_dir=None)
    measured = tracker.measure(model)
    expected = {}
    for split, im in images.items():
        for r in (4, 8):
            for variant, comp in zip(
                ("lfc", "hfc"), map(max_scaled, numpy_split(im, r)), strict=True
            ):
                expected[f"{split}_{variant}_r{r}"] = float((predict(comp) == labels).mean())
    assert expected["test_hfc_r8"] == 1 and sum(v == 1 for v in expected.values()) == 1
    assert measured == pytest.approx(expected)


@pytest.mark.parametrize("failing", ["metrics", "checkpoint"])
def test_killed_while_saving_the_last_epoch_resumes_complete(tiny_data, tmp_path, failing):
    """A run killed in either write of its last epoch ends, when run again, with the metrics of
    an uninterrupted run (no row missing)."""
    module = importlib.import_module("hfc_classify.engine.train")
    quiet = dict(progress=False, log=lambda _: None)
    train(_config(tiny_data, tmp_path), tmp_path / "full", **quiet)
    writes = {"metrics": 0, "checkpoint": 0}
    real_text, real_save = module.write_text_atomic, torch.save

    def count(kind: str, real):
        def wrapper(*args, **kwargs):
            writes[kind] += 1
            if kind == failing and writes[kind] == 2:  # the second epoch's write
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, "write_text_atomic", count("metrics", real_text))
        mp.setattr(torch, "save", count("checkpoint", real_save))
        with pytest.raises(KeyboardInterrupt):
            train(_config(tiny_data, tmp_path), tmp_path / "cut", **quiet)
    train(_config(tiny_data, tmp_path), tmp_path / "cut", **quiet)
    assert len(_metrics(tmp_path / "cut")) == 2
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "full")
