"""The classifier analyses under torchrun: 2 gloo ranks share the batches and give exactly the
one-process heat map, cue conflict and Table 2 (with its spectra); commands that do not share
their work run once, on rank 0, and say so."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_two_gloo_ranks_equal_one_process(tmp_path):
    worker = str(REPO_ROOT / "tests" / "classify" / "distributed_worker.py")
    _run([sys.executable, worker, str(tmp_path / "one.npz")])
    _run([*TORCHRUN, worker, str(tmp_path / "two.npz")])
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert int(one["world_size"]) == 1 and int(two["world_size"]) == 2
    assert sorted(one.files) == sorted(two.files) and len(one.files) == 4 + 2 * 2
    for name in one.files:
        if name != "world_size":
            np.testing.assert_array_equal(two[name], one[name], err_msg=name)
    assert np.ptp(one["heatmap"]) > 0  # the perturbations change predictions


def test_a_command_that_does_not_share_runs_once(tmp_path):
    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)).save(image)
    out = tmp_path / "out"
    proc = _run([*TORCHRUN, "-m", "hfc_detect", "decompose", str(image), "--radius", "4",
                 "--output", str(out)])  # fmt: skip
    assert proc.stderr.count("does not share its work across ranks: rank 0 of 2") == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_r4_hfc.png", "a_r4_lfc.png"]
