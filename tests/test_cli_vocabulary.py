"""One vocabulary across ``hfc-detect`` and ``hfc-classify``: the shared options are spelled the
same everywhere (and so in the README's examples), one placeholder style, and errors that name
the option the user typed."""

from __future__ import annotations

import re
import shlex

import click
import pytest
import typer.main
from typer.testing import CliRunner

from hfc_classify.cli.app import app as classify_app
from hfc_classify.cli.options import DEFAULT_ARCH, resolve_arch, resolve_pixel_mode
from hfc_detect.cli.app import app as detect_app
from hfc_detect.utils.cli import tidy_help
from hfc_detect.utils.errors import InputError
from tests.conftest import REPO_ROOT

APPS = {"hfc-detect": detect_app, "hfc-classify": classify_app}
# parameter name -> the flags it has wherever a command takes it
SHARED = {
    "checkpoint": {"-c", "--checkpoint"},
    "data": {"-d", "--data"},
    "arch": {"-a", "--arch"},
    "output": {"-o", "--output"},
    "annotations": {"-a", "--annotations"},
    "radius": {"-r", "--radius"},
    "band": {"--band"},
    "pixel_mode": {"--pixel-mode"},
}
PLACEHOLDERS = {"", "N", "X", "TEXT", "PATH", "FILE", "DIR"}
runner = CliRunner()


def _commands():
    for cli, app in APPS.items():
        group = typer.main.get_command(app)
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            tidy_help(command, click.Context(command, info_name=name))
            yield cli, name, command


COMMANDS = list(_commands())
IDS = [f"{cli}-{name}" for cli, name, _ in COMMANDS]


@pytest.mark.parametrize(("cli", "name", "command"), COMMANDS, ids=IDS)
def test_shared_options_are_spelled_one_way(cli, name, command) -> None:
    shorts: dict[str, str] = {}
    for param in command.params:
        flags = set(param.opts) | set(param.secondary_opts)
        if param.name in SHARED and param.param_type_name == "option":
            assert flags == SHARED[param.name], (cli, name, param.name, flags)
        for flag in flags:
            if re.fullmatch(r"-[a-z]", flag):  # never two meanings of one short flag
                assert flag not in shorts, (cli, name, flag, shorts[flag], param.name)
                shorts[flag] = param.name
    names = {p.name for p in command.params}
    if {"annotations", "arch"} <= names:
        pytest.fail(f"{cli} {name} would need -a twice")


@pytest.mark.parametrize(("cli", "name", "command"), COMMANDS, ids=IDS)
def test_one_placeholder_style(cli, name, command) -> None:
    for param in command.params:
        shown = param.metavar if param.metavar is not None else param.name.upper()
        if getattr(param, "hidden", False):
            continue
        assert shown in PLACEHOLDERS, (cli, name, param.name, shown)


def test_pixel_mode_everywhere_normalize_a_hidden_alias() -> None:
    for cli, name, command in COMMANDS:
        names = {p.name: p for p in command.params}
        if cli == "hfc-classify" and name in ("train", "evaluate", "examples"):
            assert "pixel_mode" in names and names["normalize"].hidden
            assert "--normalize" not in runner.invoke(classify_app, [name, "--help"]).output
    assert resolve_pixel_mode(None, None) == "max"
    assert resolve_pixel_mode(None, "clip") == "clip"  # the old name still works
    assert resolve_pixel_mode("raw", "raw") == "raw"
    with pytest.raises(InputError, match="--pixel-mode raw and --normalize clip"):
        resolve_pixel_mode("raw", "clip")
    with pytest.raises(InputError, match="--normalize must be one of"):
        resolve_pixel_mode(None, "stretch")


def test_normalize_alias_reaches_the_command(tmp_path) -> None:
    args = ["evaluate", "-c", "c.th", "-d", "d.npz", "-r", "4", "-o", str(tmp_path / "o")]
    result = runner.invoke(classify_app, [*args, "--normalize", "stretch"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --normalize must be one of raw, clip, max, got 'stretch'"
    )
    result = runner.invoke(classify_app, [*args, "--pixel-mode", "stretch"])
    assert "error: --pixel-mode must be one of" in result.output


def test_one_arch_default(tmp_path) -> None:
    train = typer.main.get_command(classify_app).commands["train"]  # type: ignore[attr-defined]
    assert next(p for p in train.params if p.name == "arch").default == DEFAULT_ARCH
    for _, name, command in COMMANDS:
        arch = next((p for p in command.params if p.name == "arch"), None)
        if arch is not None and name != "train":
            assert arch.default is None and DEFAULT_ARCH in arch.help, name
    assert resolve_arch(None, tmp_path / "missing.th") == DEFAULT_ARCH
    assert resolve_arch("resnet20", None) == "resnet20"
    import torch

    run_checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"model": {}, "config": {"arch": "resnet18"}}, run_checkpoint)
    assert resolve_arch(None, run_checkpoint) == "resnet18"


def _readme_commands() -> list[list[str]]:
    text = (REPO_ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|;", line.split("#")[0]):
                words = shlex.split(part)
                if words and words[0] in APPS:
                    commands.append(words)
    return commands


def test_readme_documents_the_vocabulary_once_and_its_examples_use_it() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Options both command lines share", 1)[1].split("\n## ", 1)[0]
    for flags in SHARED.values():
        for flag in flags:
            assert f"`{flag}" in section or f"/{flag}" in section, flag
    assert "--normalize" in section  # the old name, said once
    used = _readme_commands()
    assert len(used) > 15
    for words in used:
        group = typer.main.get_command(APPS[words[0]])
        command = group.commands[words[1]]  # type: ignore[attr-defined]
        known = {f for p in command.params for f in (*p.opts, *p.secondary_opts)}
        for word in words[2:]:
            if word.startswith("-") and not re.fullmatch(r"-\d.*", word):
                assert word.split("=")[0] in known, (words[:2], word)
        assert "--normalize" not in words


# --- errors that name what the user typed (issue 19, item 8) ---


@pytest.mark.parametrize("command", ["curve", "wins"])
def test_an_input_folder_that_is_a_file_is_called_an_input(tmp_path, command) -> None:
    given = tmp_path / "existing.txt"
    given.write_text("x\n")
    result = runner.invoke(detect_app, [command, str(given)])
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"error: {given}: is a file;") and "output" not in line, line


def test_evaluate_data_that_exists_but_is_no_data_set(tmp_path) -> None:
    given = tmp_path / "instances.json"
    given.write_text("{}")
    args = ["evaluate", "-c", "c.th", "-d", str(given), "-r", "4", "-o", str(tmp_path / "o")]
    result = runner.invoke(classify_app, args)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"error: --data {given}: is a file but not a data set"), line
    assert "not found" not in line


@pytest.mark.parametrize(
    ("extra", "wanted", "internal"),
    [
        ([], "give --test-data too", "test_data"),
        (["--test-data", "t.npz", "--train-on", "lfc"], "needs --radius > 0", "train_radius"),
        (["--test-data", "t.npz", "--mixup", "-1"], "--mixup must be >= 0", "mixup_alpha"),
        (["--test-data", "t.npz", "--pixel-mode", "x"], "--pixel-mode must be one of", "normalize"),
    ],
)
def test_train_errors_name_options(tmp_path, extra, wanted, internal) -> None:
    args = ["train", "-d", "train.npz", "-o", str(tmp_path / "run"), *extra]
    result = runner.invoke(classify_app, args)
    assert result.exit_code == 2
    line = result.output.strip()
    assert wanted in line and internal not in line, line


def test_wins_help_says_which_variant_it_picks() -> None:
    for command in ("wins", "export"):
        text = runner.invoke(detect_app, [command, "--help"], env={"COLUMNS": "300"}).output
        text = " ".join(text.replace("│", " ").split())
        assert "nearest 128" in text and "first lfc* variant" not in text
