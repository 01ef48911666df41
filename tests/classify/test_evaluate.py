"""evaluate and examples on the real ResNet-20 and CIFAR-10 test images; bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfc_classify.cli.app import app
from hfc_classify.data import load_npz
from hfc_classify.engine import evaluate_variants
from hfc_classify.engine.evaluation import rows_to_csv
from hfc_classify.engine.loading import load_classifier
from tests.classify.reference import max_scaled, numpy_split
from tests.detect.test_frequency import reference_band

runner = CliRunner()


@pytest.fixture(scope="module")
def real(shared_dir):
    return {
        "ckpt": shared_dir / "models" / "cifar10_resnet20-12fca82f.th",
        "data": shared_dir / "data" / "cifar10" / "test_first1000.npz",
    }


def test_resnet20_original_and_lfc(real, tmp_path):
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--arch",
            "resnet20",
            "--checkpoint",
            str(real["ckpt"]),
            "--data",
            str(real["data"]),
            "--radius",
            "4",
            "--output",
            str(tmp_path),
            "--device",
            "cpu",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    with open(tmp_path / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["variant"], r["radius"]) for r in rows] == [
        ("original", ""),
        ("lfc", "4"),
        ("hfc", "4"),
    ]
    acc = {r["variant"]: float(r["accuracy"]) for r in rows}
    assert acc["original"] >= 0.89  # 91.5% measured
    assert acc["lfc"] < 0.5 and acc["hfc"] < 0.5
    assert "original" in result.output and "0.9150" in result.output


def test_examples_are_right_on_original_and_hfc_wrong_on_lfc(real, tmp_path):
    data = load_npz(real["data"]).subset(np.arange(150))
    np.savez(tmp_path / "sub.npz", images=data.images, labels=data.labels)
    result = runner.invoke(
        app,
        [
            "examples",
            "--arch",
            "resnet20",
            "--checkpoint",
            str(real["ckpt"]),
            "--data",
            str(tmp_path / "sub.npz"),
            "--radius",
            "12",
            "--output",
            str(tmp_path / "ex"),
            "--count",
            "4",
            "--device",
            "cpu",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ex" / "examples.png").stat().st_size > 10_000
    with open(tmp_path / "ex" / "examples.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows  # Fig. 2 exists for this model
    # check the listed images independently: split each with plain numpy, max-scale, predict
    model = load_classifier("resnet20", real["ckpt"], data)
    for row in rows[:3]:
        image = data.images[int(row["index"])].astype(np.float64)
        low, high = numpy_split(image, 12)
        preds = []
        for version in (image / 255, low / low.max(), high / high.max()):
            x = torch.from_numpy(version).permute(2, 0, 1)[None].float()
            with torch.no_grad():
                preds.append(int(model(x).argmax()))
        label = int(row["label"])
        assert preds[0] == label == preds[2] != preds[1]
        assert (int(row["original_pred"]), int(row["lfc_pred"])) == (preds[0], preds[1])


def test_evaluate_api_matches_a_plain_loop(tmp_path):
    """Original, LFC and HFC accuracies against plain numpy: split each image, divide by its own
    maximum, predict. A linear model, whose predictions vary with the input, labelled by its own
    HFC predictions so that the three accuracies differ."""
    from hfc_classify.data.datasets import ImageSet

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)).eval()
    images = np.random.default_rng(1).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    refs = [images / 255.0, *map(max_scaled, numpy_split(images, 8))]
    with torch.no_grad():
        preds = [model(torch.from_numpy(x).permute(0, 3, 1, 2).float()).argmax(1) for x in refs]
    labels = preds[2].numpy()
    data = ImageSet(images, labels, "gen")
    rows = evaluate_variants(model, data, [8], batch_size=7)
    assert [(r.variant, r.radius) for r in rows] == [("original", None), ("lfc", 8), ("hfc", 8)]
    expected = [float((p.numpy() == labels).mean()) for p in preds]
    assert expected[2] == 1 and expected[0] < 1 and expected[1] < 1
    assert [r.accuracy for r in rows] == pytest.approx(expected)


@pytest.mark.parametrize("inclusive", [False, True])
def test_evaluate_api_bands_match_a_plain_numpy_annulus(inclusive):
    """Each band's accuracy against plain numpy: the annulus of each image by an independent
    FFT (R1 <= d < R2, or R1 < d <= R2 with inclusive), divided by its own maximum, predicted;
    band rows come after LFC/HFC with their inner radius. Labels are the predictions on the
    first band, so the two bands' accuracies differ."""
    from hfc_classify.data.datasets import ImageSet

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)).eval()
    images = np.random.default_rng(2).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    bands = [(2.0, 6.0), (4.0, 12.0)]
    refs = [max_scaled(np.stack([reference_band(im, a, b, inclusive) for im in images]))
            for a, b in bands]  # fmt: skip
    with torch.no_grad():
        preds = [model(torch.from_numpy(x).permute(0, 3, 1, 2).float()).argmax(1) for x in refs]
    labels = preds[0].numpy()
    rows = evaluate_variants(
        model, ImageSet(images, labels, "gen"), [8], bands=bands, inclusive=inclusive, batch_size=7
    )
    assert [(r.variant, r.radius, r.inner) for r in rows[3:]] == [("band", 6, 2), ("band", 12, 4)]
    expected = [float((p.numpy() == labels).mean()) for p in preds]
    assert expected[0] == 1 and expected[1] < 1
    assert [r.accuracy for r in rows[3:]] == pytest.approx(expected)
    lines = rows_to_csv(rows).splitlines()
    assert lines[0] == "variant,radius,accuracy,inner"
    assert lines[1].endswith(",") and lines[-1].startswith("band,12,") and lines[-1].endswith(",4")
    assert "inner" not in rows_to_csv(rows[:3])  # without bands, the file as it was


def test_evaluate_command_band_rows_and_bad_bands(tmp_path):
    from hfc_classify.models import build_model

    torch.save(build_model("lenet").state_dict(), tmp_path / "c.pt")
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=images, labels=np.arange(4))
    args = ["evaluate", "-a", "lenet", "-c", str(tmp_path / "c.pt"), "-d", str(tmp_path / "d.npz"),
            "-r", "4", "--band", "2:6", "--band", "6:16", "--device", "cpu", "--cache-dir",
            str(tmp_path / "cache"), "-o", str(tmp_path / "o")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "o" / "accuracy.csv").open()))
    assert [(r["variant"], r["radius"], r["inner"]) for r in rows] == [
        ("original", "", ""), ("lfc", "4", ""), ("hfc", "4", ""), ("band", "6", "2"),
        ("band", "16", "6")]  # fmt: skip
    assert "2-6" in result.output and "6-16" in result.output


def _bad(tmp_path, real_ckpt=None, **changes):
    args = {
        "--arch": "lenet",
        "--checkpoint": str(real_ckpt or tmp_path / "c.pt"),
        "--data": str(tmp_path / "d.npz"),
        "--radius": "4",
        "--output": str(tmp_path / "o"),
    }
    args.update(changes)
    result = runner.invoke(app, ["evaluate", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "o" / "accuracy.csv").exists()
    return result.output


def test_bad_input(tmp_path, shared_dir):
    from hfc_classify.models import build_model

    torch.save(build_model("lenet").state_dict(), tmp_path / "c.pt")
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 32, 32, 3), np.uint8), labels=np.arange(4))
    np.savez(tmp_path / "f.npz", images=np.zeros((4, 32, 32, 3), np.float32), labels=np.arange(4))
    assert "not found" in _bad(tmp_path, **{"--data": str(tmp_path / "nofolder")})
    assert "uint8" in _bad(tmp_path, **{"--data": str(tmp_path / "f.npz")})
    assert "unknown architecture" in _bad(tmp_path, **{"--arch": "resnet7"})
    assert "radius" in _bad(tmp_path, **{"--radius": "-3"})
    assert "R1 < R2" in _bad(tmp_path, **{"--band": "6:2"})
    assert "--band expects R1:R2" in _bad(tmp_path, **{"--band": "6"})
    assert "normalize" in _bad(tmp_path, **{"--normalize": "stretch"})
    assert "checkpoint not found" in _bad(tmp_path, **{"--checkpoint": str(tmp_path / "x.pt")})
    resnet20 = shared_dir / "models" / "cifar10_resnet20-12fca82f.th"
    assert "does not fit architecture resnet32" in _bad(
        tmp_path, resnet20, **{"--arch": "resnet32"}
    )


def test_examples_bad_format_writes_nothing(tmp_path):
    from hfc_classify.models import build_model

    torch.save(build_model("lenet").state_dict(), tmp_path / "c.pt")
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 32, 32, 3), np.uint8), labels=np.arange(4))
    args = ["--arch", "lenet", "--checkpoint", str(tmp_path / "c.pt"), "--data"]
    args += [str(tmp_path / "d.npz"), "--output", str(tmp_path / "o"), "--format", "png,bmp"]
    result = runner.invoke(app, ["examples", *args, "--device", "cpu"])
    assert result.exit_code == 2 and "'bmp'" in result.output, result.output
    assert not (tmp_path / "o").exists()


def test_checkpoint_settings_found_without_options(tmp_path):
    """A bare checkpoint with BatchNorm on loads without --batch-norm; a run checkpoint's class
    count is taken from its config (for evaluate and for the kernels figure alike)."""
    from hfc_classify.data.datasets import ImageSet
    from hfc_classify.kernels_figure import first_layer_weight
    from hfc_classify.models import build_model

    torch.manual_seed(0)
    with_bn = build_model("released_resnet", batch_norm=True)
    torch.save(with_bn.state_dict(), tmp_path / "bn.pt")
    five = build_model("lenet", num_classes=5)
    config = {"arch": "lenet", "num_classes": 5, "batch_norm": None}
    torch.save({"model": five.state_dict(), "config": config}, tmp_path / "run.pt")
    data = ImageSet(np.zeros((2, 32, 32, 3), np.uint8), np.arange(2), "gen")
    loaded = load_classifier("released_resnet", tmp_path / "bn.pt", data)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.modules())
    assert load_classifier("lenet", tmp_path / "run.pt", data)(data.tensor()).shape == (2, 5)
    assert torch.equal(
        first_layer_weight("lenet", tmp_path / "run.pt"), five.features[0].weight.data
    )
