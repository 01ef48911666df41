"""``hfc-detect eval`` under torchrun: 2 CPU processes on gloo give a single process's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hfc_detect.pipeline.run import EvalConfig, run_eval
from tests.conftest import REPO_ROOT
from tests.detect.test_eval_pipeline import BACKEND, make_coco

SIZES = [(40, 48)] * 4 + [(36, 52)] * 3  # 7 images: an uneven split over 2 ranks


def _outputs(out):
    files = [*sorted((out / "predictions").glob("*.json")), out / "per_image.csv"]
    return {p.name: p.read_bytes() for p in files}


def test_two_gloo_processes_equal_one_process(tmp_path):
    ann, img = make_coco(tmp_path / "data", SIZES)
    single = tmp_path / "single"
    run_eval(EvalConfig(radii=(4, 8), output=single, annotations=ann, images=img,
                        backend=BACKEND, num_workers=0, batch_size=2))  # fmt: skip

    multi = tmp_path / "multi"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "hfc_detect", "eval", "--radius", "4", "--radius", "8", "--annotations", str(ann),
           "--images", str(img), "--backend", BACKEND, "--num-workers", "0", "--batch-size", "2",
           "--no-progress", "--output", str(multi)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert _outputs(multi) == _outputs(single)
    summary = json.loads((multi / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert [v["name"] for v in summary["variants"]] == ["original", "lfc_r4", "hfc_r4",
                                                        "lfc_r8", "hfc_r8"]  # fmt: skip
    # every image was evaluated exactly once, by one of the ranks
    ids = [json.loads(line)["image_id"] for line in (multi / "progress.jsonl").open()]
    assert sorted(ids) == sorted(json.loads(ann.read_text())["images"][i]["id"] for i in range(7))
