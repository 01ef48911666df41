"""Benchmark: what each of ImageNet-C's 15 corruptions costs per image in ``hfc-detect eval
--corruption NAME:SEVERITY`` (needs the extra ``hfc-toolkit[corruptions]``).

    python tools/bench_corruptions.py --annotations GT.json --images-dir DIR [--severity 3]
        [--sample N] [--output table.md]

Times the toolkit's own path for one corruption variant of one image
(:class:`hfc_detect.pipeline.transforms.ImageTransform`: the float (3, H, W) tensor to the
contract's RGB array, the seeded ``imagecorruptions.corrupt`` on uint8, the checks, back to a
float32 tensor), on the images decoded once beforehand (decoding and inference are not
counted: they are the same for every variant). Each corruption first runs once on one image,
not counted (imports, numba's compilation for glass blur; that warm-up is reported apart).
``--sample N``: a seeded sample of N images instead of all (the table says which). Wall and
CPU time per image (mean, and the median of wall) are reported as a markdown table; on a
machine shared with other jobs CPU time is the steadier measure. Set OMP_NUM_THREADS=1 for
one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfc_detect.data.images import read_image
from hfc_detect.frequency.variant import CORRUPTION, CORRUPTIONS, Variant
from hfc_detect.pipeline.transforms import load_transform


def load_images(annotations: Path, images_dir: Path, sample: int | None, seed: int):
    """(image id, float32 RGB (3, H, W) tensor) of the annotations' images, by id; a seeded
    sample of ``sample`` of them when given."""
    records = sorted(json.loads(annotations.read_text())["images"], key=lambda r: r["id"])
    if sample is not None and sample < len(records):
        keep = np.random.default_rng(seed).choice(len(records), sample, replace=False)
        records = [records[i] for i in sorted(keep)]
    out = []
    for record in records:
        rgb = read_image(images_dir / record["file_name"])
        out.append((record["id"], torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32))))
    return out


def time_corruption(name: str, severity: int, images) -> dict[str, float]:
    """Warm-up seconds, then per-image wall times and the CPU seconds of the timed loop."""
    transform = load_transform(Variant(CORRUPTION, label=name, severity=severity))
    start = time.perf_counter()
    transform(images[0][1], images[0][0], "RGB")
    warmup = time.perf_counter() - start
    walls = []
    cpu = time.process_time()
    for image_id, image in images:
        start = time.perf_counter()
        transform(image, image_id, "RGB")
        walls.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    return {
        "warmup": warmup,
        "wall_mean": statistics.fmean(walls),
        "wall_median": statistics.median(walls),
        "cpu_mean": cpu / len(walls),
        "total": sum(walls),
    }


def table(results: dict[str, dict[str, float]], severity: int, what: str) -> str:
    lines = [
        f"Cost per image of each corruption at severity {severity} ({what}), ms:",
        "",
        "| corruption | wall mean | wall median | CPU mean | first call |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {1e3 * r['wall_mean']:.1f} | {1e3 * r['wall_median']:.1f} | "
            f"{1e3 * r['cpu_mean']:.1f} | {1e3 * r['warmup']:.0f} |"
        )
    total = sum(r["total"] for r in results.values())
    lines += ["", f"all {len(results)} together: {total:.1f} s wall"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--images-dir", type=Path, required=True)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--sample", type=int, default=None, help="a seeded sample of N images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS))
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    images = load_images(args.annotations, args.images_dir, args.sample, args.seed)
    what = (
        f"a seeded sample of {len(images)} images (seed {args.seed})"
        if args.sample is not None
        else f"{len(images)} images"
    )
    results = {}
    for name in args.corruptions.split(","):
        results[name] = time_corruption(name, args.severity, images)
        print(f"{name}: {1e3 * results[name]['wall_mean']:.1f} ms/image", flush=True)
    text = table(results, args.severity, f"{what}, torch threads {torch.get_num_threads()}")
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
