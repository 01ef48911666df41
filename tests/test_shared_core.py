"""One direction of dependency: hfc_classify uses only hfc_detect's shared core
(hfc_detect.frequency, hfc_detect.utils); one resolve_device; one eval-mode context manager that
gives every module back its own mode; ``--version`` from package metadata."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED_CORE = ("hfc_detect.frequency", "hfc_detect.utils")


def _hfc_detect_imports(package: Path) -> set[tuple[str, str]]:
    """(file, module) of every hfc_detect import in ``package``, lazy ones included."""
    found = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                names = names[:1] if node.module != "hfc_detect" else names[1:]
            found |= {(str(path.relative_to(REPO)), n) for n in names if n.startswith("hfc_detect")}
    return found


def _outside_core(imports: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(
        (file, name)
        for file, name in imports
        if not any(name == core or name.startswith(core + ".") for core in SHARED_CORE)
    )


def test_hfc_classify_imports_only_the_shared_core_of_hfc_detect() -> None:
    imports = _hfc_detect_imports(REPO / "hfc_classify")
    assert imports  # the scan sees the imports that are there
    assert _outside_core(imports) == []


def test_the_shared_core_imports_nothing_else_of_hfc_detect() -> None:
    for core in ("frequency", "utils"):
        assert _outside_core(_hfc_detect_imports(REPO / "hfc_detect" / core)) == []


def test_one_resolve_device_and_one_eval_mode() -> None:
    definitions = {"resolve_device": [], "eval_mode": []}
    for package in ("hfc_detect", "hfc_classify"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef) and node.name in definitions:
                    definitions[node.name].append(str(path.relative_to(REPO)))
    assert definitions == {
        "resolve_device": ["hfc_detect/utils/torch_tools.py"],
        "eval_mode": ["hfc_detect/utils/torch_tools.py"],
    }
    text = "\n".join(p.read_text() for p in (REPO / "hfc_classify").rglob("*.py"))
    assert "was_training" not in text


def test_resolve_device() -> None:
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.torch_tools import resolve_device

    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") == auto
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="not a torch device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda:1")


class _Net(nn.Module):
    """A classifier whose BatchNorm is deliberately frozen (eval mode) while the rest trains."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bn(self.conv(x)).mean((2, 3)))


def _frozen_bn_net() -> _Net:
    torch.manual_seed(0)
    net = _Net().train()
    net.bn.eval()
    return net


def _modes(net: nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in net.named_modules()}


def test_predict_and_robustness_give_every_module_its_mode_back(one_torch_thread) -> None:
    """The two places that restored with ``model.train(was_training)`` switched the frozen
    BatchNorm back to training mode."""
    from hfc_classify.engine.evaluation import predict
    from hfc_classify.robustness import RobustnessConfig, evaluate_robustness

    x, y = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    for run in (
        lambda net: predict(net, x, batch_size=4),
        lambda net: evaluate_robustness(
            net,
            x,
            y,
            RobustnessConfig(rhos=(0.0,), attacks=("fgsm",), epsilons=(0.03,), batch_size=4),
        ),
    ):
        net = _frozen_bn_net()
        before = _modes(net)
        seen: list[bool] = []
        hook = net.bn.register_forward_hook(lambda m, i, o, seen=seen: seen.append(m.training))
        run(net)
        hook.remove()
        assert seen and not any(seen)  # evaluated in eval mode
        assert _modes(net) == before


def test_version_comes_from_the_distribution(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--version`` of both CLIs is the installed distribution's (its metadata), not a module
    constant: an installed hfc-toolkit 9.8.7 found first on sys.path says 9.8.7."""
    from hfc_classify.cli.app import app as classify_app
    from hfc_detect.cli.app import app as detect_app

    info = tmp_path / "hfc_toolkit-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hfc-toolkit\nVersion: 9.8.7\n")
    (info / "top_level.txt").write_text("hfc_classify\nhfc_detect\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for app in (classify_app, detect_app):
        result = CliRunner().invoke(app, ["--version"])
        assert result.exit_code == 0 and result.output.strip() == "9.8.7"
