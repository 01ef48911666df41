"""The project's own contract: CI runs the README's test command, the code is lint-clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def _readme_test_command() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    marker = "<!-- test-command -->"
    assert marker in text, "README must mark its test command"
    block = text.split(marker, 1)[1].split("```", 2)[1]
    return block.removeprefix("bash").strip()


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert _readme_test_command() in ci


# What no help screen needs: --help of a command must not pay for what only running it needs.
_NOT_AT_HELP = ("scipy", "matplotlib", "torch", "torchvision", "cv2", "PIL", "pandas", "pyarrow",
                "onnxruntime", "pycocotools", "detectron2", "ultralytics",
                "transformers")  # fmt: skip
_HELP_SCRIPT = """
import json, sys
import click, typer
from typer.testing import CliRunner
from {package}.cli.app import app
group = typer.main.get_command(app)
names = group.list_commands(click.Context(group))
runner = CliRunner()
results = [runner.invoke(app, [*command, "--help"]) for command in [[], *([n] for n in names)]]
print(json.dumps({{
    "commands": names,
    "failed": [r.output for r in results if r.exit_code != 0],
    "cut": [line for r in results for line in r.output.splitlines() if "\u2026" in line],
    "imported": [m for m in {heavy!r} if m in sys.modules],
}}))
"""


@pytest.mark.parametrize("package", ["hfc_detect", "hfc_classify"])
def test_cli_help_imports_nothing_heavy_and_is_whole_at_80_columns(package):
    """Every help screen (the CLI's and each command's) in one fresh process: none loads torch,
    scipy, matplotlib & co., and none cuts a word with an ellipsis at 80 columns."""
    code = _HELP_SCRIPT.format(package=package, heavy=_NOT_AT_HELP)
    env = {**os.environ, "COLUMNS": "80", "TERMINAL_WIDTH": "80"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert len(seen["commands"]) >= 5 and not seen["failed"]
    assert seen["imported"] == [], f"imported at --help: {seen['imported']}"
    assert seen["cut"] == [], "help cut at 80 columns:\n" + "\n".join(seen["cut"])


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_ruff_lint_and_format():
    subprocess.run(["ruff", "check", "."], cwd=REPO_ROOT, check=True)
    subprocess.run(["ruff", "format", "--check", "."], cwd=REPO_ROOT, check=True)
