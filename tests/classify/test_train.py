"""Training: learning on real CIFAR images, exact resume, seeded label shuffling, options."""

from __future__ import annotations

import csv
import importlib

import numpy as np
import pytest
import torch

from hfc_classify.cli.app import app
from hfc_classify.data import frequency_sets, load_npz
from hfc_classify.engine import TrainConfig, build_trainer, label_permutation, train
from hfc_classify.engine.trainer import TIME_COLUMNS
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
    c = TrainConfig(train_data="data/cifar10")
    assert (c.arch, c.optimizer, c.lr, c.batch_size, c.epochs) == (
        "released_resnet",
        "adam",
        1e-4,
        100,
        100,
    )
    assert c.track_radii == (4, 8, 12, 16) and (c.track_train, c.track_test) == (1000, 1000)
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
    trainer = build_trainer(config, log=lambda _: None)
    assert np.array_equal(trainer.data.train_y.numpy(), (np.arange(48) % 10)[perm])


def test_train_on_hfc_uses_the_cached_component(tiny_data, tmp_path):
    config = _config(tiny_data, tmp_path, train_on="hfc", train_radius=8, normalize="clip")
    trainer = build_trainer(config)
    expected = frequency_sets(load_npz(tiny_data).images, [8], mode="clip")[("hfc", 8.0)]
    assert torch.allclose(trainer.data.train_x, expected)


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
    trainer = build_trainer(config, log=lambda _: None)
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
        (dict(train_on="lfc"), "needs train_radius > 0"),
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
    module = importlib.import_module("hfc_classify.engine.run_folder")
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


def _reference_run(data: str, cfg: TrainConfig) -> tuple[list[tuple[float, ...]], dict]:
    """The training recipe written plainly, as the CPU path ran it before the data moved to the
    device: batches gathered on the CPU, a per-image numpy crop and flip, mixup, sums as Python
    floats, test accuracy from softmax in batches. Returns (loss, train acc, test acc) per epoch
    and the final weights."""
    from hfc_classify.models import build_model

    x_all = torch.from_numpy(load_npz(data).images).permute(0, 3, 1, 2).float() / 255
    y_all = torch.from_numpy(load_npz(data).labels)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, num_classes=10, in_channels=3, **cfg.model_options())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rows = []
    for epoch in range(cfg.epochs):
        rng = np.random.default_rng([cfg.seed, 2, epoch])
        torch.manual_seed(int(rng.integers(2**62)))
        order = rng.permutation(len(y_all))
        model.train()
        total_loss = total_correct = 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            x, y = x_all[idx], y_all[idx]
            if cfg.augment:
                padded = np.pad(x.numpy(), ((0, 0), (0, 0), (4, 4), (4, 4)))
                offsets = rng.integers(0, 9, size=(len(x), 2))
                flips = rng.random(len(x)) < 0.5
                crops = [
                    p[:, a : a + 32, b : b + 32] for p, (a, b) in zip(padded, offsets, strict=True)
                ]
                x = torch.from_numpy(
                    np.stack([c[..., ::-1] if f else c for c, f in zip(crops, flips, strict=True)])
                )
            if cfg.mixup_alpha:
                lam = float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(x)))
                logits = model(lam * x + (1 - lam) * x[perm])
                ce = torch.nn.functional.cross_entropy
                loss = lam * ce(logits, y) + (1 - lam) * ce(logits, y[perm])
                pred = logits.argmax(1)
                correct = float(lam * (pred == y).sum() + (1 - lam) * (pred == y[perm]).sum())
            else:
                logits = model(x)
                loss = torch.nn.functional.cross_entropy(logits, y)
                correct = float((logits.argmax(1) == y).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            total_correct += correct
        model.eval()
        with torch.no_grad():
            pred = torch.cat(
                [
                    torch.softmax(model(x_all[i : i + cfg.eval_batch_size]), 1).argmax(1)
                    for i in range(0, len(x_all), cfg.eval_batch_size)
                ]
            )
        test_acc = float((pred == y_all).float().mean())
        rows.append((total_loss / len(order), total_correct / len(order), test_acc))
    return rows, model.state_dict()


@pytest.mark.parametrize("kw", [dict(augment=True), dict(mixup_alpha=1.0, dropout=0.3)])
def test_device_data_path_gives_the_numbers_of_the_plain_cpu_path(tiny_data, tmp_path, kw):
    """Same seed, same numbers: the run keeping its sets on the device (indexing, one-gather crop
    and flip, sums on the device) equals the plain recipe bit for bit, on the CPU."""
    config = _config(tiny_data, tmp_path, **kw)
    train(config, tmp_path / "run", progress=False, log=lambda _: None)
    rows = [
        tuple(float(r[k]) for k in ("train_loss", "train_acc", "test_acc"))
        for r in torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["history"]
    ]
    expected, weights = _reference_run(tiny_data, config)
    assert rows == expected
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert saved.keys() == weights.keys()
    assert all(torch.equal(saved[k], weights[k]) for k in saved)


def test_crop_flip_is_a_per_image_crop_and_flip():
    from hfc_classify.engine.trainer import _crop_flip

    x = torch.rand(64, 3, 8, 8)
    out = _crop_flip(x, np.random.default_rng(3), pad=2)
    rng = np.random.default_rng(3)
    offsets, flips = rng.integers(0, 5, size=(64, 2)), rng.random(64) < 0.5
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i, ((a, b), f) in enumerate(zip(offsets, flips, strict=True)):
        crop = padded[i, :, a : a + 8, b : b + 8]
        assert np.array_equal(out[i].numpy(), crop[..., ::-1] if f else crop)
    assert 0 < flips.sum() < 64 and len({tuple(o) for o in offsets}) > 1


def test_speed_options_take_effect_and_stay_close(tiny_data, tmp_path):
    """channels_last changes the layout only (numbers equal to float rounding); bf16 autocast
    really runs in bf16 (other numbers, same ballpark); both are off by default."""
    defaults = TrainConfig(train_data="d")
    assert (defaults.channels_last, defaults.precision) == (False, "fp32")
    base = build_trainer(_config(tiny_data, tmp_path), log=lambda _: None)
    last = build_trainer(_config(tiny_data, tmp_path, channels_last=True))
    bf16 = build_trainer(_config(tiny_data, tmp_path, precision="bf16"))
    conv = next(m for m in last.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    dtypes = []
    bf16.model.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    losses = [t.train_epoch(0)[0] for t in (base, last, bf16)]
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    assert losses[2] != losses[0] and losses[2] == pytest.approx(losses[0], rel=0.05)


def test_runs_saved_before_new_settings_existed_resume(tiny_data, tmp_path):
    """A checkpoint whose config lacks settings added later resumes (they count as defaults)."""
    quiet = dict(progress=False, log=lambda _: None)
    train(_config(tiny_data, tmp_path, epochs=1), tmp_path / "run", **quiet)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    for key in ("channels_last", "precision"):
        del state["config"][key]
    torch.save(state, path)
    assert train(_config(tiny_data, tmp_path), tmp_path / "run", **quiet)["epochs"] == 2
    with pytest.raises(InputError, match="precision"):
        train(_config(tiny_data, tmp_path, epochs=3, precision="bf16"), tmp_path / "run", **quiet)


def test_eval_batch_size_is_chosen_per_device():
    from hfc_classify.engine.device import eval_batch_size

    assert eval_batch_size(torch.device("cpu")) == 100
    assert eval_batch_size(torch.device("cuda")) == 2000
    assert eval_batch_size(torch.device("cpu"), 512) == 512
    with pytest.raises(InputError, match="precision"):
        TrainConfig(train_data="d", precision="fp64")
