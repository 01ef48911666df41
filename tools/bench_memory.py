"""Peak resident memory of ``hfc-detect eval`` on one large JPEG, by image size and radii.

For each size (megapixels, 3:2 like a 6000 x 4000 photo) the script writes one JPEG (seeded
smooth noise plus shapes, quality 90) and a one-object COCO annotations file into a temporary
folder, then runs ``python -m hfc_detect eval`` on it in a fresh child process (one torch and
onnxruntime thread, no decode workers, YOLOX-Nano through onnxruntime by default) three times:
the original alone (``--variants original``), original + LFC + HFC at one radius, and at three
radii. The peak is the child's ``ru_maxrss`` (``os.wait4``), the number ``/usr/bin/time -v``
reports as "Maximum resident set size". With ``--save DIR`` each run's predictions are kept in
``DIR/<mp>mp-<n>r/`` so that two versions of the code can be compared file by file.

    python tools/bench_memory.py --weights ../shared/models/yolox_nano.onnx --sizes 1,6,24
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RADII = {0: ["128"], 1: ["128"], 3: ["32", "128", "512"]}  # 0: the original alone


def make_image(folder: Path, megapixels: float, seed: int = 0) -> tuple[Path, Path]:
    """A 3:2 JPEG of about ``megapixels`` and its annotations (one box, category 1)."""
    import cv2

    width = round((megapixels * 1e6 * 1.5) ** 0.5)
    height = round(width / 1.5)
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.integers(0, 16, image.shape, dtype=np.uint8)  # some high frequencies
    box = [width // 4, height // 4, width // 3, height // 3]
    cv2.rectangle(image, (box[0], box[1]), (box[0] + box[2], box[1] + box[3]), (20, 20, 200), -1)
    images = folder / "images"
    images.mkdir(parents=True)
    cv2.imwrite(str(images / "big.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    annotations = {
        "images": [{"id": 1, "file_name": "big.jpg", "width": width, "height": height}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = folder / "annotations.json"
    path.write_text(json.dumps(annotations))
    return path, images


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> float:
    """Run ``cmd``; its peak resident set size in MiB (Linux ``ru_maxrss`` is in KiB)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="../shared/models/yolox_nano.onnx")
    parser.add_argument("--backend", default="onnx-yolox")
    parser.add_argument("--sizes", default="1,6,24", help="Megapixels, comma-separated.")
    parser.add_argument("--save", type=Path, help="Keep each run's predictions here.")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    print(f"peak RSS of hfc-detect eval ({args.backend}, 1 thread, --num-workers 0), MiB")
    print("megapixels  size         original  +1 radius  +3 radii")
    for mp in [float(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            ann, images = make_image(Path(tmp), mp)
            size = json.loads(ann.read_text())["images"][0]
            peaks = []
            for n, radii in RADII.items():
                out = Path(tmp) / f"out{n}"
                cmd = [sys.executable, "-m", "hfc_detect", "eval", "--annotations", str(ann),
                       "--images", str(images), "--backend", args.backend, "--weights",
                       args.weights, "--threads", "1", "--num-workers", "0", "--no-progress",
                       "--output", str(out)]  # fmt: skip
                cmd += [a for r in radii for a in ("--radius", r)]
                if n == 0:
                    cmd += ["--variants", "original"]
                peaks.append(peak_rss_mib(cmd, env))
                if args.save is not None:
                    shutil.copytree(out / "predictions", args.save / f"{mp:g}mp-{n}r")
            print(f"{mp:10g}  {size['width']}x{size['height']:<6}  "
                  + "  ".join(f"{p:8.0f}" for p in peaks))  # fmt: skip


if __name__ == "__main__":
    main()
