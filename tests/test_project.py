"""The project's own contract: CI runs the README's test command, the code is lint-clean."""

from __future__ import annotations

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


@pytest.mark.parametrize("package", ["hfc_detect", "hfc_classify"])
def test_cli_help_does_not_import_torch(package):
    code = (
        f"import sys; from {package}.cli.app import app; "
        "heavy = {'torch', 'ultralytics', 'transformers'} & set(sys.modules); "
        "assert not heavy, f'{heavy} imported at CLI start-up'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_ruff_lint_and_format():
    subprocess.run(["ruff", "check", "."], cwd=REPO_ROOT, check=True)
    subprocess.run(["ruff", "format", "--check", "."], cwd=REPO_ROOT, check=True)
