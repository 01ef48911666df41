"""Benchmark: per-image COCO AP end to end, ours against hotcoco, ultrafast-pycocotools,
faster-coco-eval and pycocotools, every engine timed as a whole process.

Builds a synthetic COCO set (fixed seed; default 5,000 images of 640x480, ~7 objects each,
80 categories, one variant of ~75 detections an image; for ``--iou-type segm`` the objects and
detections are octagons inscribed in their boxes, ground truth as polygons and detections as
compressed RLE), writes it as JSON files, and runs each engine on the same files as a fresh
process (interpreter start, imports, loading, evaluation, accumulation, summary, output):

- ours: ``python -m hfc_detect compare`` (JSON files read and validated, per-image
  AP/AP50/AP75 and whole-set stats, per_image.csv/.jsonl/.parquet and summary.json written);
- hotcoco, ultrafast-pycocotools, faster-coco-eval (each where installed: ``pip install
  hotcoco ultrafast-pycocotools faster-coco-eval``): whole set only (COCO, loadRes, evaluate,
  accumulate, summarize), no per-image AP;
- pycocotools whole set (``--check-stats``) as a process too, and the pycocotools per-image
  loop in this process: COCOeval with ``params.imgIds=[image]`` on ``--sample`` random images
  (``--full``: all), scaled to all images, plus loading once.

Every engine runs once untimed (file cache, and our bytecode cache: the environment's
PYTHONDONTWRITEBYTECODE is dropped so that each engine starts from compiled bytecode, as an
installed package does), then ``--repeat`` rounds, each running every engine once in turn, so
that a shared machine's load falls on all of them alike. Reported per engine: the best wall
time, the best CPU time (user + system, from the process's own resource usage: less noisy on
a shared machine; hotcoco may use several threads) and the peak resident memory (``ru_maxrss``,
Linux). Ours is checked against pycocotools on every sampled image (and, with
``--check-stats``, the whole-set stats) to 1e-9, and its stats against each other engine's.
Peak memory at 20,000 images: ``--images 20000``.
Example: ``python tools/bench_per_image_ap.py --iou-type segm --images 2000 --sample 50``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = ("original", "lfc", "hfc")
WIDTH, HEIGHT = 640, 480


def synthetic_set(
    num_images: int, gt_per_image: float, dets_per_image: int, num_categories: int, seed: int,
    num_variants: int = 1, masks: bool = False,
) -> tuple[dict, dict[str, list[dict]]]:  # fmt: skip
    """A COCO ground truth and per-variant detections that look like a detector's output.

    About 30% of the detections lie near an object (jittered more in the lfc/hfc variants,
    mostly with the object's category, higher scores); the rest are background boxes of random
    categories with low scores. Objects span all COCO area ranges; 1% are crowd. With
    ``masks``, every object and detection also has an octagon mask inscribed in its box.
    """
    rng = np.random.default_rng(seed)
    image_ids = np.sort(rng.choice(10 * num_images, num_images, replace=False))
    images = [{"id": int(i), "file_name": f"{i:012d}.jpg", "width": WIDTH, "height": HEIGHT}
              for i in image_ids]  # fmt: skip
    categories = [{"id": c, "name": f"class{c}"} for c in range(1, num_categories + 1)]

    per_image = rng.poisson(gt_per_image, num_images)
    n_gt = int(per_image.sum())
    g_img = np.repeat(image_ids, per_image)
    side = np.exp(rng.uniform(np.log(8), np.log(400), n_gt))
    g_w, g_h = side * rng.uniform(0.6, 1.4, n_gt), side * rng.uniform(0.6, 1.4, n_gt)
    g_x = rng.uniform(0, 1, n_gt) * (WIDTH - np.minimum(g_w, 600))
    g_y = rng.uniform(0, 1, n_gt) * (HEIGHT - np.minimum(g_h, 440))
    g_box = np.round(np.stack([g_x, g_y, g_w, g_h], 1), 2)
    g_cat = rng.integers(1, num_categories + 1, n_gt)
    g_area = np.round(g_w * g_h * rng.uniform(0.6, 0.9, n_gt), 2)
    g_crowd = rng.random(n_gt) < 0.01
    anns = [
        {"id": i + 1, "image_id": int(g_img[i]), "category_id": int(g_cat[i]),
         "bbox": g_box[i].tolist(), "area": float(g_area[i]), "iscrowd": int(g_crowd[i])}
        for i in range(n_gt)
    ]  # fmt: skip
    if masks:
        for ann, poly in zip(anns, octagons(g_box), strict=True):
            ann["segmentation"] = [poly]

    first_gt = np.cumsum(per_image) - per_image
    predictions = {}
    for v, variant in enumerate(VARIANTS[:num_variants]):
        vrng = np.random.default_rng(seed + 1 + v)
        jitter = (0.05, 0.12, 0.25)[v]  # the LFC/HFC-like variants localise worse
        n = num_images * dets_per_image
        d_img = np.repeat(np.arange(num_images), dets_per_image)
        near = (vrng.random(n) < 0.3) & (per_image[d_img] > 0)
        g = first_gt[d_img] + (vrng.random(n) * np.maximum(per_image[d_img], 1)).astype(int)
        g = np.minimum(g, n_gt - 1)
        bw = np.exp(vrng.uniform(np.log(8), np.log(300), n))
        bh = np.exp(vrng.uniform(np.log(8), np.log(300), n))
        box = np.stack([vrng.uniform(0, 600, n), vrng.uniform(0, 440, n), bw, bh], 1)
        cat = vrng.integers(1, num_categories + 1, n)
        score = vrng.beta(1, 6, n)
        gb = g_box[g[near]]
        noise = vrng.normal(size=(int(near.sum()), 4)) * jitter
        box[near, :2] = gb[:, :2] + noise[:, :2] * gb[:, 2:]
        box[near, 2:] = gb[:, 2:] * np.exp(noise[:, 2:])
        keep_cat = vrng.random(int(near.sum())) < 0.8
        cat[near] = np.where(keep_cat, g_cat[g[near]], cat[near])
        score[near] = vrng.beta(4, 2, int(near.sum()))
        box, score = np.round(box, 2), np.round(score, 4)
        dets = [
            {"image_id": int(image_ids[d_img[i]]), "category_id": int(cat[i]),
             "bbox": box[i].tolist(), "score": float(score[i])}
            for i in range(n)
        ]  # fmt: skip
        if masks:
            for det, rle in zip(dets, rles(octagons(box)), strict=True):
                del det["bbox"]  # segm results: area and box come from the mask
                det["segmentation"] = rle
        predictions[variant] = dets
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, predictions


def octagons(boxes: np.ndarray) -> list[list[float]]:
    """Polygons of the octagons inscribed in [x, y, w, h] boxes."""
    x, y, w, h = (boxes[:, i : i + 1] for i in range(4))
    fx = np.array([0.3, 0.7, 1.0, 1.0, 0.7, 0.3, 0.0, 0.0])
    fy = np.array([0.0, 0.0, 0.3, 0.7, 1.0, 1.0, 0.7, 0.3])
    px, py = x + fx * w, y + fy * h
    return np.round(np.stack([px, py], 2).reshape(len(boxes), -1), 2).tolist()


def rles(polygons: list[list[float]]) -> list[dict]:
    """Compressed RLEs (JSON-ready) of single-part polygons on a WIDTH x HEIGHT image."""
    from pycocotools import mask as mask_utils

    out = mask_utils.frPyObjects(polygons, HEIGHT, WIDTH)
    return [{"size": r["size"], "counts": r["counts"].decode("ascii")} for r in out]


# Each tool's whole-set run as a script: argv gt, predictions, iouType; prints its stats.
_WHOLE_SET = {  # name: (module, imports, how results are loaded)
    "hotcoco": ("hotcoco", "from hotcoco import COCO, COCOeval", "gt.load_res"),
    "ultrafast-pycocotools": (
        "ultrafast_pycocotools", "from ultrafast_pycocotools import COCO, COCOeval", "gt.loadRes"
    ),
    "faster-coco-eval": (
        "faster_coco_eval", "from faster_coco_eval import COCO, COCOeval_faster as COCOeval",
        "gt.loadRes",
    ),
    "pycocotools": (
        "pycocotools",
        "from pycocotools.coco import COCO; from pycocotools.cocoeval import COCOeval",
        "gt.loadRes",
    ),
}  # fmt: skip
_SCRIPT = """import contextlib, io, json, sys
{imports}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    gt = COCO(sys.argv[1])
    ev = COCOeval(gt, {load_res}(sys.argv[2]), sys.argv[3])
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
print(json.dumps([float(x) for x in ev.stats[:12]]))
"""


@dataclass
class Engine:
    """One tool run as a whole process: its command, and its best times over the rounds."""

    name: str
    command: list[str]
    stats: Callable[[str], np.ndarray]  # the stats from the process's stdout
    wall: float = float("inf")
    cpu: float = float("inf")
    peak_mib: float = 0.0
    result: np.ndarray | None = None


def whole_set_engines(names: list[str], gt: Path, pred: Path, iou_type: str) -> list[Engine]:
    """The installed ones of ``names`` (keys of :data:`_WHOLE_SET`), as process engines."""
    engines = []
    for name in names:
        module, imports, load_res = _WHOLE_SET[name]
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed, skipped")
            continue
        code = _SCRIPT.format(imports=imports, load_res=load_res)
        command = [sys.executable, "-c", code, str(gt), str(pred), iou_type]
        engines.append(Engine(name, command, lambda out: np.array(json.loads(out))))
    return engines


def ours(gt: Path, pred: Path, out: Path, iou_type: str) -> Engine:
    """``hfc-detect compare`` of this source tree as a process; stats from its summary.json."""
    command = [sys.executable, "-m", "hfc_detect", "compare", "-a", str(gt),
               "-p", f"original={pred}", "-o", str(out), "--iou-type", iou_type]  # fmt: skip

    def stats(_: str) -> np.ndarray:
        summary = json.loads((out / "summary.json").read_text())
        return np.array(list(summary["variants"][0]["stats"].values()))

    return Engine("ours (hfc-detect compare: per image + whole set)", command, stats)


def run_process(engine: Engine, env: dict[str, str]) -> None:
    """Run ``engine`` once; keep its best wall and CPU time and its largest peak memory (the
    process's own resource usage, read when it is reaped)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        pid = subprocess.Popen(engine.command, env=env, cwd=ROOT, stdout=out, stderr=err).pid
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{engine.name} failed:\n{err.read()[-2000:]}")
        engine.result = engine.stats(out.read())
    engine.wall = min(engine.wall, wall)
    engine.cpu = min(engine.cpu, usage.ru_utime + usage.ru_stime)
    engine.peak_mib = max(engine.peak_mib, usage.ru_maxrss / 1024)  # KiB on Linux


def pycocotools_loop(gt_path: Path, pred_path: Path, iou_type: str, image_ids: list[int]):
    """The pycocotools per-image loop in this process: ({image: (AP, AP50, AP75)}, (wall, CPU)
    seconds of loading, (wall, CPU) seconds of the loop alone)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter(), time.process_time()
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes(str(pred_path))
        loaded = time.perf_counter(), time.process_time()
        per_image = {}
        for image_id in image_ids:
            ev = COCOeval(coco_gt, coco_dt, iou_type)
            ev.params.imgIds = [image_id]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            per_image[image_id] = tuple(ev.stats[:3])
        end = time.perf_counter(), time.process_time()
    load = (loaded[0] - start[0], loaded[1] - start[1])
    return per_image, load, (end[0] - loaded[0], end[1] - loaded[1])


def write_set(
    args: argparse.Namespace, gt_path: Path, pred_path: Path
) -> tuple[int, int, list[int]]:
    """Write the synthetic ground truth and detections; (objects, detections, image ids)."""
    gt_json, predictions = synthetic_set(
        args.images, args.gt_per_image, args.dets_per_image, args.categories, args.seed,
        masks=args.iou_type == "segm",
    )  # fmt: skip
    dets = predictions["original"]
    gt_path.write_text(json.dumps(gt_json))
    pred_path.write_text(json.dumps(dets))
    return len(gt_json["annotations"]), len(dets), sorted(img["id"] for img in gt_json["images"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--gt-per-image", type=float, default=7.0)
    parser.add_argument("--dets-per-image", type=int, default=75)
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=100, help="images timed in the loop")
    parser.add_argument("--full", action="store_true", help="loop pycocotools over all images")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each engine's best is kept")
    parser.add_argument("--check-stats", action="store_true", help="also whole-set pycocotools")
    parser.add_argument("--skip", action="append", default=[], choices=sorted(_WHOLE_SET),
                        help="leave this other engine out (repeatable)")  # fmt: skip
    args = parser.parse_args()
    iou_type = args.iou_type

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        gt_path, pred_path = tmp / "gt.json", tmp / "original.json"
        # Made in a child process: the engines are forked from this one, and a forked child's
        # peak memory (ru_maxrss) counts what its parent held before exec.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            n_gt, n_dets, all_ids = pool.submit(write_set, args, gt_path, pred_path).result()
        print(f"synthetic {iou_type} set: {args.images} images, {n_gt} objects, {n_dets} "
              f"detections (seed {args.seed}); whole processes, best of {args.repeat}")  # fmt: skip

        others = ["hotcoco", "ultrafast-pycocotools", "faster-coco-eval"]
        others += ["pycocotools"] if args.check_stats else []
        others = [name for name in others if name not in args.skip]
        engines = [ours(gt_path, pred_path, tmp / "out", iou_type),
                   *whole_set_engines(others, gt_path, pred_path, iou_type)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(":")
        for engine in engines:  # untimed: file cache, bytecode
            run_process(engine, env)
        for engine in engines:
            engine.wall = engine.cpu = float("inf")
        for _ in range(args.repeat):
            for engine in engines:
                run_process(engine, env)

        sample = all_ids if args.full else sorted(
            np.random.default_rng(args.seed + 100).choice(all_ids, args.sample, False).tolist()
        )  # fmt: skip
        ref, load, loop = pycocotools_loop(gt_path, pred_path, iou_type, sample)
        scale = len(all_ids) / len(sample)
        loop_wall, loop_cpu = load[0] + loop[0] * scale, load[1] + loop[1] * scale
        per_image = _read_per_image(tmp / "out" / "per_image.csv")
        worst = max(
            max(abs(per_image[i][k] - (v if v != -1 else np.nan)) if v != -1 else 0.0
                for k, v in enumerate(want))
            for i, want in ref.items()
        )  # fmt: skip

    _report(engines, (len(sample), loop_wall, loop_cpu), worst)
    if worst > 1e-9 or any(
        e.name == "pycocotools" and np.abs(engines[0].result - e.result).max() > 1e-9
        for e in engines
    ):
        raise SystemExit("MISMATCH with pycocotools")


def _report(engines: list[Engine], loop: tuple[int, float, float], worst: float) -> None:
    """The table: each engine's best wall and CPU time, peak memory, ratio to the fastest of
    hotcoco and ultrafast-pycocotools; then the checks."""
    ours_, others = engines[0], engines[1:]
    rivals = [e for e in others if e.name in ("hotcoco", "ultrafast-pycocotools")]
    fastest = min(rivals, key=lambda e: e.wall) if rivals else None
    print(f"{'engine (whole process)':<52} {'wall s':>7} {'CPU s':>7} {'peak MiB':>9} "
          f"{'wall / fastest':>15}")  # fmt: skip
    for e in engines:
        ratio = f"{e.wall / fastest.wall:.2f}x" if fastest else "-"
        print(f"{e.name:<52} {e.wall:7.2f} {e.cpu:7.2f} {e.peak_mib:9.0f} {ratio:>15}")
    n, wall, cpu = loop
    print(f"{f'pycocotools per-image loop ({n} images, scaled)':<52} {wall:7.1f} {cpu:7.1f}")
    if fastest:
        print(f"ours / {fastest.name}: {ours_.wall / fastest.wall:.2f}x wall, "
              f"{ours_.cpu / fastest.cpu:.2f}x CPU")  # fmt: skip
    print(f"ours is {wall / ours_.wall:.0f}x faster than the pycocotools per-image loop (wall)")
    print(f"checked {n} images' (AP, AP50, AP75) against pycocotools: max difference {worst:.1e}")
    for e in others:
        print(f"max |stats difference| to {e.name}: {np.abs(ours_.result - e.result).max():.1e}")


def _read_per_image(path: Path) -> dict[int, tuple[float, float, float]]:
    import csv

    with path.open() as f:
        return {
            int(r["image_id"]): tuple(
                float(r[k]) if r[k] else np.nan
                for k in ("ap_original", "ap50_original", "ap75_original")
            )
            for r in csv.DictReader(f)
        }


if __name__ == "__main__":
    main()
