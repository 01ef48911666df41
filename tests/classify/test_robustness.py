"""Table 2 evaluation against a direct computation, its outputs, and the robustness/kernels CLIs."""

from __future__ import annotations

import csv
import io

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from hfc_classify.attacks import fgsm, pgd
from hfc_classify.cli.app import app
from hfc_classify.models import build_model
from hfc_classify.robustness import RobustnessConfig, evaluate_robustness
from hfc_classify.smoothing import smooth_model
from hfc_detect.utils.errors import InputError
from tests.classify.reference import tiny_model

RESNET20 = "models/cifar10_resnet20-12fca82f.th"
TEST_SET = "data/cifar10/test_first1000.npz"
runner = CliRunner()


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Random images labelled by the tiny model itself (three labels changed)."""
    x = torch.rand(20, 3, 10, 10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = tiny_model()(x).argmax(1)
    y[:3] = (y[:3] + 1) % 10
    return x, y


def robust(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return ((model(x).argmax(1) == y) & (model(x_adv).argmax(1) == y)).float().mean().item()


def test_fixed_mode_equals_direct_computation(data):
    x, y = data
    model = tiny_model()
    done = []
    config = RobustnessConfig(rhos=(0, 0.5), epsilons=(0.01, 0.05), pgd_steps=3, batch_size=7)
    table = evaluate_robustness(model, x, y, config, progress=done.append)
    assert sum(done) == 2 * len(y)
    assert [r.rho for r in table.rows] == [0, 0.5]
    for row in table.rows:
        net = smooth_model(model, row.rho)
        with torch.no_grad():
            assert row.clean == pytest.approx((net(x).argmax(1) == y).float().mean().item())
        for eps in (0.01, 0.05):
            assert row.attacked[("fgsm", eps)] == pytest.approx(
                robust(net, x, fgsm(net, x, y, eps), y)
            )
            x_pgd = pgd(net, x, y, eps, 2.5 * eps / 3, 3)
            assert row.attacked[("pgd", eps)] == pytest.approx(robust(net, x, x_pgd, y))
    assert table.settings["pgd_steps"] == 3 and table.settings["pgd_alpha"] == "2.5*eps/3"


def test_search_is_never_weaker_than_fixed(data):
    x, y = data
    model = tiny_model()
    common = dict(rhos=(0, 1.0), epsilons=(0.01, 0.03), pgd_steps=3, pgd_alpha=0.005)
    fixed = evaluate_robustness(model, x, y, RobustnessConfig(mode="fixed", **common))
    search = evaluate_robustness(model, x, y, RobustnessConfig(mode="search", **common))
    for a, b in zip(fixed.rows, search.rows, strict=True):
        assert a.clean == b.clean
        assert all(b.attacked[c] <= a.attacked[c] for c in fixed.columns)
    assert search.settings["mode"] == "search" and search.settings["fgsm_grid"] == "1/1000"


def test_csv_and_markdown(data):
    x, y = data
    config = RobustnessConfig(rhos=(0, 0.25), attacks=("fgsm",), epsilons=(0.03,))
    table = evaluate_robustness(tiny_model(), x, y, config)
    rows = list(csv.reader(io.StringIO(table.to_csv())))
    assert rows[0] == ["rho", "clean", "fgsm@0.03"]
    assert [r[0] for r in rows[1:]] == ["0", "0.25"]
    assert float(rows[1][1]) == pytest.approx(table.rows[0].clean, abs=1e-4)
    md = table.to_markdown("tiny")
    assert md.startswith("### tiny") and "| rho | clean | FGSM eps=0.03 |" in md
    assert "20 images; mode=fixed" in md


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attacks": ["cw"]}, "unknown attack"),
        ({"rhos": [-1]}, "rho"),
        ({"epsilons": [0]}, "eps"),
        ({"attacks": []}, "unknown attack '\\(none\\)'"),
        ({"mode": "bisect"}, "mode"),
        ({"layers": "last"}, "--layers must be one of first, all"),
        ({"batch_size": 0}, "--batch-size must be >= 1"),
        ({"pgd_steps": 0}, "pgd-steps"),
        ({"pgd_alpha": -1.0}, "pgd-alpha"),
    ],
)
def test_bad_settings_are_refused_when_made(kwargs, match):
    with pytest.raises(InputError, match=match):
        RobustnessConfig(**kwargs)


def test_bad_images_are_refused(data):
    x, y = data
    with pytest.raises(InputError, match=r"need images \(N, C, H, W\) and labels"):
        evaluate_robustness(tiny_model(), x, y[:-1])


def test_robustness_cli_writes_table(shared_dir, tmp_path):
    out = tmp_path / "t2"
    args = [
        "robustness",
        "-a",
        "resnet20",
        "-c",
        str(shared_dir / RESNET20),
        "-d",
        str(shared_dir / TEST_SET),
        "--limit",
        "8",
        "--rho",
        "0,1",
        "--attack",
        "fgsm",
        "--eps",
        "0.03",
        "--rescale",
        "-o",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "table2.csv").open()))
    assert [r["rho"] for r in rows] == ["0", "1"]
    assert float(rows[0]["clean"]) >= float(rows[0]["fgsm@0.03"])
    assert "rescale=True" in (out / "table2.md").read_text()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"-a": "nonet"}, "unknown architecture"),
        ({"-c": "missing.th"}, "not found"),
        ({"-a": "resnet32"}, "does not fit"),
        ({"--eps": "0.03,x"}, "not a number"),
        ({"--attack": "cw"}, "unknown attack"),
        ({"--mode": "bisect"}, "--mode"),
        ({"--layers": "last"}, "--layers"),
        ({"--rho": "-1"}, "rho must be >= 0"),
    ],
)
def test_robustness_cli_bad_input_exits_2_one_line(shared_dir, tmp_path, change, match):
    opts = {
        "-a": "resnet20",
        "-c": str(shared_dir / RESNET20),
        "-d": str(shared_dir / TEST_SET),
        "--limit": "2",
        "--eps": "0.03",
        "--pgd-steps": "1",
        "-o": str(tmp_path / "out"),
    }
    opts.update({k: str(tmp_path / v) if k == "-c" else v for k, v in change.items()})
    result = runner.invoke(app, ["robustness", *(s for kv in opts.items() for s in kv)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0]
    assert not (tmp_path / "out").exists()


def test_kernels_cli_draws_checkpoints_and_smoothed(shared_dir, tmp_path):
    # A run checkpoint with BatchNorm off (the paper's setting) loads without saying so.
    plain = tmp_path / "no_bn.pt"
    torch.save(build_model("released_resnet", batch_norm=False).state_dict(), plain)
    png = tmp_path / "fig7.png"
    args = [
        "kernels",
        "-c",
        str(shared_dir / RESNET20),
        "-c",
        str(plain),
        "-a",
        "resnet20",
        "-a",
        "released_resnet",
        "--rho",
        "1",
        "-o",
        str(png),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 panels" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["-a", "resnet56"], "does not fit"),
        (["-o", "fig.jpg"], ".png"),
        (["--rho", "-1"], "--rho"),
        (["-a", "resnet20", "-a", "resnet20"], "--arch"),
    ],
)
def test_kernels_cli_bad_input_exits_2(shared_dir, tmp_path, args, match):
    base = ["kernels", "-c", str(shared_dir / RESNET20)]
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "k.png")]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0]
    assert not list(tmp_path.iterdir())
