"""``--help`` of both CLIs says what it means: plain placeholders (no ``<bool>``, no
``<list[float]>``), required options marked one way, help for every option, bracketed notes kept,
and one-line usage errors."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from hfc_classify.cli.app import app as classify_app
from hfc_detect.cli.app import app as detect_app
from tests.conftest import REPO_ROOT

APPS = {"hfc-detect": detect_app, "hfc-classify": classify_app}
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
TYPE_PLACEHOLDER = re.compile(r"<(?:bool|int|float|str|path|list\[[^\]]*\]|[a-z]+ range)>", re.I)


def _commands() -> list[tuple[str, str]]:
    return [
        (cli, name)
        for cli, app in APPS.items()
        for name in typer.main.get_command(app).commands  # type: ignore[attr-defined]
    ]


def _help(cli: str, *args: str) -> str:
    result = CliRunner().invoke(APPS[cli], [*args, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("cli", "command"), [(c, "") for c in APPS] + _commands())
def test_help_has_plain_placeholders(cli: str, command: str) -> None:
    text = _help(cli, *([command] if command else []))
    assert not TYPE_PLACEHOLDER.search(text), TYPE_PLACEHOLDER.search(text).group(0)
    for line in text.splitlines():  # a flag takes no value: nothing between it and its help
        if re.search(r"--(resume|progress|inclusive|version|help)\b", line):
            assert not re.search(r"--[a-z-]+\s+(?:[A-Z]+|<\w+>)\s", line), line


def test_resume_is_a_switch() -> None:
    result = CliRunner().invoke(detect_app, ["eval", "-r", "128", "--resume", "true"], env=WIDE)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: Got unexpected extra argument(s) (true)"]
    line = next(ln for ln in _help("hfc-detect", "eval").splitlines() if "--resume" in ln)
    assert re.search(r"--resume\s{2,}Continue the run", line), line


@pytest.mark.parametrize(("cli", "command"), _commands())
def test_every_option_has_help_and_required_ones_are_marked(cli: str, command: str) -> None:
    group = typer.main.get_command(APPS[cli])
    for param in group.commands[command].params:  # type: ignore[attr-defined]
        name = param.opts[0] if getattr(param, "opts", None) else param.name
        assert param.help, f"{cli} {command} {name} has no help"
        # "required" is said by the * and [required] marks only, never in words
        assert not re.search(r"\(required\b|\brequired\)", param.help), (command, name)


@pytest.mark.parametrize(
    ("cli", "command", "required"),
    [
        ("hfc-classify", "robustness", ["checkpoint", "data", "output"]),
        ("hfc-classify", "kernels", ["checkpoint", "output"]),
        ("hfc-detect", "decompose", ["images", "radius", "output"]),
    ],
)
def test_required_options_are_required(cli: str, command: str, required: list[str]) -> None:
    params = typer.main.get_command(APPS[cli]).commands[command].params  # type: ignore[attr-defined]
    assert sorted(p.name for p in params if p.required) == sorted(required)
    text = _help(cli, command)
    for name in required:
        flag = "FILE" if name == "images" else f"--{name}"
        line = next(ln for ln in text.splitlines() if re.match(rf"│\s*\*?\s+{flag}\b", ln))
        assert "*" in line, line
    result = CliRunner().invoke(APPS[cli], [command], env=WIDE)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Missing "), result.output


def test_eval_dataset_help_lists_every_accepted_name() -> None:
    from hfc_detect.pipeline.inputs import BUILTIN_DATASETS

    text = " ".join(_help("hfc-detect", "eval").split())
    start = text.index("--dataset")
    dataset_help = text[start : text.index("--annotations", start)]
    for name in [*BUILTIN_DATASETS, "demo"]:
        assert re.search(rf"\b{name}\b", dataset_help), name
    # bracketed notes survive rich markup
    assert "[default: coco_2017_val if found there, else the bundled demo]" in text


def test_eval_help_lists_every_registered_backend() -> None:
    from hfc_detect.modeling import list_backends

    text = " ".join(_help("hfc-detect", "eval").split())
    assert {"ultralytics", "transformers", "onnx-yolox"} <= set(list_backends())
    assert ", ".join(list_backends()) in text.replace("│ ", "").replace(" │", "")


@pytest.mark.parametrize(
    ("package", "first_import"),
    [("hfc_detect", "compare"), ("hfc_classify", "cue_conflict")],
)
def test_command_order_does_not_depend_on_import_order(package: str, first_import: str) -> None:
    """Only the app module registers commands, so importing a command module first (as a test
    or a Python user might) cannot move it in the --help list."""
    code = (
        f"import {package}.cli.{first_import}; import typer.main; "
        f"from {package}.cli.app import app; "
        "print(' '.join(typer.main.get_command(app).commands))"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    table = importlib.import_module(f"{package}.cli.app").COMMANDS
    assert listed == [command.name for command in table]
