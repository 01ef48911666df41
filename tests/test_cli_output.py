"""Every command of both CLIs refuses an output it cannot write: one ``error:`` line, exit code 2,
before any heavy work (torch is never imported), and nothing left behind.

Writability is tested without root's override of permissions (``setpriv`` drops
CAP_DAC_OVERRIDE); where setpriv is missing the test skips, where we are not root it runs as is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

# (cli, arguments with OUT for the output, whether the output is a folder). Other paths do not
# exist: the output must be refused before any of them is read.
CASES = [
    ("detect", ["eval", "--radius", "128", "--output", "OUT"], True),
    ("detect", ["compare", "-a", "gt.json", "-p", "a=a.json", "--output", "OUT"], True),
    ("detect", ["decompose", "img.png", "--radius", "8", "--output", "OUT"], True),
    ("detect", ["wins", "OUT"], True),
    ("detect", ["export", "OUT", "--format", "csv"], True),
    ("detect", ["export", "cmp", "--format", "html", "--output", "OUT"], True),
    ("detect", ["export", "cmp", "--format", "csv", "--output", "OUT"], False),
    ("detect", ["curve", "OUT"], True),
    ("detect", ["errors", "OUT"], True),
    ("detect", ["spectrum", "OUT"], True),
    ("detect", ["heatmap", "--output", "OUT"], True),
    ("classify", ["train", "--data", "d.npz", "--output", "OUT"], True),
    ("classify", ["evaluate", "--arch", "resnet20", "--checkpoint", "c.th", "--data", "d.npz",
                  "--radius", "4", "--output", "OUT"], True),
    ("classify", ["examples", "--arch", "resnet20", "--checkpoint", "c.th", "--data", "d.npz",
                  "--output", "OUT"], True),
    ("classify", ["kernels", "--checkpoint", "c.th", "--output", "OUT"], False),
    ("classify", ["plot", "run", "--output", "OUT"], True),
    ("classify", ["robustness", "-c", "c.th", "-d", "d.npz", "--output", "OUT"], True),
    ("classify", ["sweep", "sweep.yaml", "--output", "OUT"], True),
    ("classify", ["heatmap", "--arch", "resnet20", "--checkpoint", "c.th", "--data", "d.npz",
                  "--eps", "4", "--output", "OUT"], True),
    ("classify", ["cue-conflict", "--arch", "resnet20", "--checkpoint", "c.th", "--data",
                  "d.npz", "--radius", "4", "--output", "OUT"], True),
]  # fmt: skip


def _ids() -> list[str]:
    return [f"{cli}-{args[0]}-{'dir' if folder else 'file'}" for cli, args, folder in CASES]


def test_every_command_is_covered() -> None:
    from hfc_classify.cli.app import app as classify_app
    from hfc_detect.cli.app import app as detect_app

    for cli, app in (("detect", detect_app), ("classify", classify_app)):
        names = {c.name for c in app.registered_commands}
        tested = {args[0] for c, args, _ in CASES if c == cli}
        assert names <= tested, f"add {sorted(names - tested)} to CASES (and call check_output)"


def _invoke(cli: str, args: list[str]):
    if cli == "detect":
        from hfc_detect.cli.app import app
    else:
        from hfc_classify.cli.app import app
    return CliRunner().invoke(app, args)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(("cli", "args", "folder"), CASES, ids=_ids())
def test_output_of_the_wrong_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: str, args: list, folder: bool
) -> None:
    out = tmp_path / "taken"
    if folder:
        out.write_text("a file where a folder should go\n")
    else:
        out.mkdir()
    before = _listing(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = _invoke(cli, [str(out) if a == "OUT" else a for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert str(out) in lines[0]
    assert _listing(tmp_path) == before


_CHILD = """
import json, sys
from typer.testing import CliRunner
from hfc_classify.cli.app import app as classify_app
from hfc_detect.cli.app import app as detect_app
apps = {"detect": detect_app, "classify": classify_app}
results = [
    (lambda r: [r.exit_code, r.output])(CliRunner().invoke(apps[cli], args))
    for cli, args in json.loads(sys.argv[1])
]
print(json.dumps({"results": results, "torch": "torch" in sys.modules}))
"""


@pytest.mark.slow  # one subprocess running every command
def test_unwritable_output_folder(tmp_path: Path) -> None:
    command = [sys.executable, "-c", _CHILD]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv is missing: cannot drop root's permission override")
        command = [setpriv, "--inh-caps=-dac_override", "--bounding-set=-dac_override", *command]
    locked = tmp_path / "locked"
    locked.mkdir()
    cases = []
    for cli, args, folder in CASES:
        out = locked / ("new/out" if folder else "fig.png")
        if args[0] in ("wins", "curve", "spectrum"):  # DIR is read first: an existing folder
            out = locked
        cases.append((cli, [str(out) if a == "OUT" else a for a in args]))
    locked.chmod(0o555)
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run(
            [*command, json.dumps(cases)], capture_output=True, text=True, cwd=tmp_path, env=env
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        for (_, args), (code, output) in zip(cases, report["results"], strict=True):
            lines = output.strip().splitlines()
            assert code == 2 and len(lines) == 1, (args, output)
            assert lines[0].startswith("error: ") and "permission denied" in lines[0], lines
        assert not report["torch"], "torch was imported before the output was refused"
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)
