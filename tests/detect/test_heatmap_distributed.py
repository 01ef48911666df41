"""``hfc-detect heatmap`` under torchrun: 2 gloo ranks on the CPU (launched by the Slurm recipe
configs/slurm/torchrun.sbatch) share the detector runs and give the one-process map; a killed
2-rank run resumes with one process to the same map."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hfc_detect.analysis.heatmap import LOG_NAME
from hfc_detect.cli.app import app
from hfc_detect.data import demo
from hfc_detect.modeling.demo_detector import build_demo_detector
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

BACKEND = "tests.detect.test_heatmap_distributed:CountingDemo"
# 4 demo images; grid 4 = 12 frequencies in 4 chunks of 3: one process runs 4 x (12 + 1) = 52
# images, each of 2 ranks 2 clean + 2 chunks x 3 x 4 = 26.
MAP = ["--grid", "4", "--step", "32", "--eps", "2000", "--batch-size", "3", "--threads", "1"]
FIRST_ROUND = 6  # frequencies logged after the first round of 2 chunks


class CountingDemo:
    """The demo detector; appends the images of each call to ``$HFC_TEST_CALLS/rank-<RANK>``.
    With ``$HFC_TEST_DIE_AT`` = K, rank 1 waits until rank 0 has logged the first round, then
    dies (``os._exit``, as a killed job) at its K-th image."""

    channel_order = "RGB"

    def __init__(self, device: str | None = None, **_: object) -> None:
        self.inner = build_demo_detector(device=device or "cpu")
        self.device = self.inner.device
        self.seen = 0

    def detect(self, images):
        rank = os.environ.get("RANK", "0")
        die_at = int(os.environ.get("HFC_TEST_DIE_AT", "0"))
        if die_at and rank == "1" and self.seen + len(images) >= die_at:
            log = Path(os.environ["HFC_TEST_LOG"])
            deadline = time.monotonic() + 120
            while len(log.read_text().splitlines()) < 1 + FIRST_ROUND:
                assert time.monotonic() < deadline, "rank 0 never logged the first round"
                time.sleep(0.05)
            os._exit(1)
        self.seen += len(images)
        with open(Path(os.environ["HFC_TEST_CALLS"]) / f"rank-{rank}", "a") as f:
            f.write(f"{len(images)}\n")
        return self.inner.detect(images)


def _calls(folder: Path) -> dict[str, int]:
    return {p.name: sum(map(int, p.read_text().split())) for p in sorted(folder.glob("rank-*"))}


def _torchrun(ranks: int, args: list[str], calls: Path, **env: str):
    calls.mkdir()
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT),
               "HFC_TEST_CALLS": str(calls), **env}  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           str(ranks), "-m", "hfc_detect", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=REPO_ROOT, env=environ, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def _sbatch_recipe(args: list[str], calls: Path, bin_dir: Path):
    """configs/slurm/torchrun.sbatch on one node with 2 CPU ranks: ``srun`` runs its command
    here, ``scontrol`` names this host."""
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(
        '#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n'
    )
    (bin_dir / "scontrol").write_text("#!/bin/sh\necho localhost\n")
    for tool in ("srun", "scontrol"):
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    calls.mkdir()
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT),
               "HFC_TEST_CALLS": str(calls), "PATH": f"{bin_dir}:{os.environ['PATH']}",
               "SLURM_JOB_NODELIST": "localhost", "SLURM_NNODES": "1", "SLURM_JOB_ID": "4242",
               "NPROC_PER_NODE": "2", "MASTER_PORT": str(port)}  # fmt: skip
    cmd = ["bash", str(REPO_ROOT / "configs" / "slurm" / "torchrun.sbatch"), "hfc_detect", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=environ, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def _one_process(args: list[str], calls: Path, monkeypatch):
    calls.mkdir()
    monkeypatch.setenv("HFC_TEST_CALLS", str(calls))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _map(out: Path) -> bytes:
    return (out / "heatmap.npy").read_bytes()


def test_two_gloo_ranks_share_the_heatmap_and_a_killed_run_resumes_with_one(tmp_path, monkeypatch):
    ann, img = demo.make_demo_dataset(tmp_path / "data", num_images=4, seed=demo.EVAL_SEED)
    base = ["heatmap", "--annotations", str(ann), "--images", str(img), "--backend", BACKEND,
            *MAP]  # fmt: skip

    single = tmp_path / "single"
    said = _one_process([*base, "-o", str(single)], tmp_path / "calls-single", monkeypatch)
    assert "4 x 4 cells = 12 frequencies" in said.output and "= 52 detector runs" in said.output
    assert _calls(tmp_path / "calls-single") == {"rank-0": 52}

    multi = tmp_path / "multi"  # through the Slurm recipe: srun + torchrun, 2 gloo ranks
    proc = _sbatch_recipe([*base, "-o", str(multi)], tmp_path / "calls-multi", tmp_path / "bin")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _map(multi) == _map(single)
    assert (multi / "heatmap.csv").read_bytes() == (single / "heatmap.csv").read_bytes()
    assert _calls(tmp_path / "calls-multi") == {"rank-0": 26, "rank-1": 26}
    info = json.loads((multi / "heatmap.json").read_text())
    assert info["world_size"] == 2 and info["detector_runs_per_rank_this_run"] == [26, 26]
    assert proc.stdout.count("detector runs") == 1  # rank 0 alone speaks (and writes)

    killed = tmp_path / "killed"
    log = killed / LOG_NAME
    proc = _torchrun(2, [*base, "-o", str(killed)], tmp_path / "calls-killed",
                     HFC_TEST_DIE_AT="17", HFC_TEST_LOG=str(log))  # fmt: skip
    assert proc.returncode != 0
    assert not (killed / "heatmap.npy").exists()
    assert len(log.read_text().splitlines()) == 1 + FIRST_ROUND

    plan = CliRunner().invoke(app, [*base, "-o", str(killed), "--dry-run"])
    assert plan.exit_code == 0 and "6 frequencies logged already, 28 runs left" in plan.output
    assert not (killed / "heatmap.npy").exists()
    _one_process([*base, "-o", str(killed)], tmp_path / "calls-resumed", monkeypatch)
    assert _map(killed) == _map(single)
    assert _calls(tmp_path / "calls-resumed") == {"rank-0": 4 + 6 * 4}  # clean + chunks 3, 4


def _launched_heatmap(job) -> None:
    from hfc_detect.analysis.heatmap_job import run_heatmap_job

    torch.set_num_threads(1)
    run_heatmap_job(job, say=lambda line: None)


def test_detectron2_launch_shares_the_heatmap(tmp_path):
    """Inside Detectron2's ``launch`` (its own gloo group on the CPU) the map is shared too."""
    launch = pytest.importorskip("detectron2.engine").launch
    from hfc_detect.analysis.heatmap import DetectorHeatmapConfig
    from hfc_detect.analysis.heatmap_job import HeatmapJob, run_heatmap_job

    ann, img = demo.make_demo_dataset(tmp_path / "data", num_images=2, seed=demo.EVAL_SEED)
    config = DetectorHeatmapConfig(grid=2, step=32, eps=2000.0, batch_size=2)
    job = HeatmapJob(tmp_path / "single", config, annotations=ann, images=img, backend="demo",
                     threads=1)  # fmt: skip
    run_heatmap_job(job, say=lambda line: None)
    shared = replace(job, output=tmp_path / "launched")
    launch(_launched_heatmap, 2, dist_url="auto", args=(shared,))
    assert _map(shared.output) == _map(job.output)
    info = json.loads((shared.output / "heatmap.json").read_text())
    assert info["world_size"] == 2 and info["detector_runs_per_rank_this_run"] == [5, 5]
