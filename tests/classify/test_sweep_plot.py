"""Sweeps (grid expansion, finished runs skipped, shipped grids valid) and plots/tables."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfc_classify.cli.app import app
from hfc_classify.plots import find_runs, results_table
from hfc_classify.sweep import load_sweep, run_sweep, select_runs
from hfc_detect.utils.errors import InputError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "classify"
runner = CliRunner()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished two-run sweep on generated data (trained once for the module)."""
    tmp = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(0)
    np.savez(
        tmp / "d.npz",
        images=rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
        labels=np.arange(32) % 10,
    )
    (tmp / "grid.yaml").write_text(
        "name: demo\n"
        f"base: {{train_data: {tmp / 'd.npz'}, test_data: {tmp / 'd.npz'}, arch: lenet,\n"
        f"       epochs: 2, batch_size: 16,\n"
        f"       track_train: 8, track_test: 8, track_radii: [4, 8], device: cpu,\n"
        f"       cache_dir: {tmp / 'cache'}}}\n"
        "grid:\n  train_on: [lfc, hfc]\n  train_radius: [4]\n"
    )
    result = runner.invoke(
        app, ["sweep", str(tmp / "grid.yaml"), "-o", str(tmp / "runs"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return tmp


def test_sweep_runs_then_skips_finished(swept):
    runs = load_sweep(swept / "grid.yaml", swept / "runs")
    assert [r.name for r in runs] == ["train_on-lfc_train_radius-4", "train_on-hfc_train_radius-4"]
    assert all((r.run_dir / "summary.json").is_file() for r in runs)
    assert runs[1].config.train_on == "hfc" and runs[1].config.train_radius == 4.0
    before = [(r.run_dir / "checkpoint.pt").stat().st_mtime_ns for r in runs]
    status = run_sweep(runs, progress=False, log=lambda _: None)
    assert status == {r.name: "skipped" for r in runs}
    assert before == [(r.run_dir / "checkpoint.pt").stat().st_mtime_ns for r in runs]
    result = runner.invoke(
        app, ["sweep", str(swept / "grid.yaml"), "-o", str(swept / "runs"), "--dry-run"]
    )
    assert result.exit_code == 0 and result.output.count("finished") == 2


def test_plot_writes_curves_and_tables(swept, tmp_path):
    result = runner.invoke(app, ["plot", str(swept / "runs" / "demo"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ("curves.png", "curves.svg", "table.md", "table.csv"):
        assert (tmp_path / name).stat().st_size > 100
    runs = find_runs([swept / "runs" / "demo"])
    with open(tmp_path / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows == results_table(runs)
    with open(runs[0].path / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert float(rows[0]["test_acc"]) == pytest.approx(float(last["test_acc"]), abs=1e-4)
    assert [(r["train_on"], r["radius"]) for r in rows] == [("hfc", "4"), ("lfc", "4")]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("**/*.yaml")), ids=lambda p: p.stem)
def test_shipped_grids_are_valid(path, tmp_path):
    runs = load_sweep(path, tmp_path)
    assert runs and len({r.name for r in runs}) == len(runs)


def test_shipped_grids_cover_the_paper():
    def names(stem):
        return [r.name for r in load_sweep(CONFIGS / f"{stem}.yaml", "runs")]

    assert len(names("table1")) == 8
    heur = {r.name: r.config for r in load_sweep(CONFIGS / "heuristics.yaml", "runs")}
    assert set(heur) == {"vanilla", "dropout", "mixup", "batchnorm", "adversarial"}
    assert heur["adversarial"].adversarial and heur["adversarial"].adv_steps == 10
    shuffled = {r.name: r.config for r in load_sweep(CONFIGS / "shuffled_labels.yaml", "runs")}
    assert shuffled["shuffled"].shuffle_labels and shuffled["shuffled"].epochs == 300
    assert len(names("optimizers")) == 5


def test_cpu_grids_share_their_common_runs_and_cover_the_four_results(tmp_path):
    """configs/classify/cpu: one sweep folder; a run named alike in two files is the same run
    (trained once, skipped by the other file), and each result's runs are there."""
    runs = {p.stem: load_sweep(p, tmp_path) for p in sorted((CONFIGS / "cpu").glob("*.yaml"))}
    seen = {}
    for run in (r for rs in runs.values() for r in rs):
        assert run.run_dir.parent == tmp_path / "cifar4k"
        assert seen.setdefault(run.name, run.config) == run.config, run.name
    names = {stem: [r.name for r in rs] for stem, rs in runs.items()}
    assert names["table2"] == ["vanilla", "adversarial"]
    assert len(names["table1"]) == 9 and "shuffled" in names["shuffled_labels"]
    assert set(names["heuristics"]) == {"vanilla", "dropout", "mixup", "batchnorm", "adversarial"}
    vanilla, adv = seen["vanilla"], seen["adversarial"]
    assert (vanilla.batch_norm, vanilla.lr, vanilla.batch_size, vanilla.normalize) == (
        None,
        1e-4,
        100,
        "max",
    )
    assert adv.adversarial and adv.augment and adv.adv_eps == pytest.approx(8 / 255)


def test_only_selects_runs_in_sweep_order(tmp_path):
    runs = load_sweep(CONFIGS / "cpu" / "heuristics.yaml", tmp_path)
    assert [r.name for r in select_runs(runs, ["mixup", "vanilla"])] == ["vanilla", "mixup"]
    assert select_runs(runs, []) == runs
    with pytest.raises(InputError, match=r"no run named nope.*vanilla, dropout"):
        select_runs(runs, ["nope"])


def test_bad_sweeps_and_plots(tmp_path):
    (tmp_path / "a.yaml").write_text("base: {train_data: x.npz}\nbogus: 1\n")
    with pytest.raises(InputError, match="unknown top-level"):
        load_sweep(tmp_path / "a.yaml", tmp_path)
    (tmp_path / "b.yaml").write_text("base: {train_data: x.npz, optimiser: adam}\n")
    with pytest.raises(InputError, match=r"unknown setting.*optimiser"):
        load_sweep(tmp_path / "b.yaml", tmp_path)
    result = runner.invoke(app, ["sweep", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    result = runner.invoke(app, ["plot", str(tmp_path / "norun"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "run folder not found" in result.output


def test_slurm_without_submitit_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed
    (tmp_path / "s.yaml").write_text(
        f"base: {{train_data: {tmp_path / 'x.npz'}, test_data: {tmp_path / 'x.npz'}}}\n"
    )
    runs = load_sweep(tmp_path / "s.yaml", tmp_path)
    with pytest.raises(InputError, match="pip install submitit"):
        run_sweep(runs, launcher="slurm", log=lambda _: None)


def _metrics_without_times(run_dir: Path) -> list[dict[str, str]]:
    from hfc_classify.engine.trainer import TIME_COLUMNS

    with open(run_dir / "metrics.csv") as f:
        return [
            {k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)
        ]


@pytest.mark.slow
def test_slurm_path_through_submitits_local_executor_equals_direct_run(
    swept, tmp_path, monkeypatch
):
    """The sweep's Slurm submission (submitit, one job array) run by submitit's local executor:
    each job trains its run to the same metrics as the direct (local launcher) sweep."""
    pytest.importorskip("submitit")
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the jobs import this checkout
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runs = load_sweep(swept / "grid.yaml", tmp_path / "runs")
    params = {"cluster": "local", "gpus_per_node": 0, "timeout_min": 10}
    status = run_sweep(runs, launcher="slurm", slurm=params, log=lambda _: None)
    assert status == {r.name: "submitted" for r in runs}
    deadline = time.monotonic() + 600
    while not all((r.run_dir / "summary.json").is_file() for r in runs):
        logs = sorted((tmp_path / "runs" / "demo" / "slurm").glob("*_log.err"))
        assert time.monotonic() < deadline, "\n".join(p.read_text()[-2000:] for p in logs)
        time.sleep(1)
    direct = load_sweep(swept / "grid.yaml", swept / "runs")
    for submitted, ran in zip(runs, direct, strict=True):
        assert _metrics_without_times(submitted.run_dir) == _metrics_without_times(ran.run_dir)
    assert len(list((tmp_path / "runs" / "demo" / "slurm").glob("*_result.pkl"))) == len(runs)


def test_a_one_epoch_run_draws_its_points_on_whole_epochs():
    """A line through one point draws nothing: a short run's points are marked, and its epoch
    ticks are whole numbers (issue 19, item 7; looked at as a PNG too)."""
    from pathlib import Path

    from hfc_classify.plots import RunResult, curves_figure
    from hfc_detect.utils.figures import pyplot

    row = {"epoch": 1.0, "train_acc": 0.5, "test_acc": 0.4, "train_lfc_r4": 0.3,
           "train_hfc_r4": 0.2, "test_lfc_r4": 0.3, "test_hfc_r4": 0.1}  # fmt: skip
    fig = curves_figure([RunResult("one", Path("one"), {}, [row])])
    try:
        for ax in fig.axes:
            assert ax.lines and all(line.get_marker() == "o" for line in ax.lines)
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks == [1.0]
    finally:
        pyplot().close(fig)
