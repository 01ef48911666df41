"""Benchmark: per-image COCO AP end to end, ours against hotcoco, faster-coco-eval, pycocotools.

Builds a synthetic COCO set (fixed seed; default 5,000 images of 640x480, ~7 objects each,
80 categories, one variant of ~75 detections an image; for ``--iou-type segm`` the objects and
detections are octagons inscribed in their boxes, ground truth as polygons and detections as
compressed RLE), writes it as JSON files, and times on the same files, one after the other:

- ours: ``hfc_detect.results.compare`` as ``hfc-detect compare`` runs it (JSON files read
  and validated, per-image AP/AP50/AP75 and whole-set stats, per_image.csv/.jsonl/.parquet and
  summary.json written);
- hotcoco and faster-coco-eval (optional: ``pip install hotcoco faster-coco-eval``): whole set
  only, loading included (COCO, loadRes, evaluate, accumulate, summarize);
- pycocotools whole set (``--check-stats``) and the pycocotools per-image loop: COCOeval with
  ``params.imgIds=[image]`` on ``--sample`` random images (``--full``: all), scaled to all
  images, plus loading once.

Each tool runs ``--repeat`` times and its best wall time is reported with its CPU time (the
machine may be shared: wall times carry the noise, CPU time less so; hotcoco may use several
threads). Ours is checked against pycocotools on every sampled image (and, with
``--check-stats``, the whole-set stats) to 1e-9, and against hotcoco's stats.
``--peak-memory`` also runs ours in a fresh process and reports its peak resident memory.
Example: ``python tools/bench_per_image_ap.py --iou-type segm --images 1000 --sample 50``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfc_detect.results import compare

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


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall time of ``repeat`` runs, the CPU time of that run, and its result."""
    best = (float("inf"), 0.0, None)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, result)
    return best


def run_ours(gt_path: Path, pred_path: Path, out: Path, iou_type: str) -> np.ndarray:
    summary = compare(gt_path, {"original": pred_path}, out, iou_type=iou_type)
    return np.array(list(summary["variants"][0]["stats"].values()))


def run_hotcoco(gt_path: Path, pred_path: Path, iou_type: str) -> np.ndarray | None:
    try:
        from hotcoco import COCO, COCOeval
    except ImportError:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        ev = COCOeval(coco_gt, coco_gt.load_res(str(pred_path)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.array(ev.stats)


def run_faster(gt_path: Path, pred_path: Path, iou_type: str) -> np.ndarray | None:
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError:
        return None
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        ev = COCOeval_faster(coco_gt, coco_gt.loadRes(str(pred_path)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.array(ev.stats[:12])


def run_pycocotools(gt_path: Path, pred_path: Path, iou_type: str, image_ids: list[int] | None):
    """Whole set (image_ids None): stats; else the per-image loop: ({image: (AP, AP50, AP75)},
    (wall, CPU) seconds of loading, (wall, CPU) seconds of the loop alone)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter(), time.process_time()
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes(str(pred_path))
        if image_ids is None:
            ev = COCOeval(coco_gt, coco_dt, iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            return np.array(ev.stats)
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


def peak_memory(gt_path: Path, pred_path: Path, out: Path, iou_type: str) -> float:
    """Peak resident memory (GiB) of a fresh process running ours end to end (Linux)."""
    code = (
        "import re, sys; sys.path.insert(0, sys.argv[1]);"
        "from hfc_detect.results import compare;"
        "compare(sys.argv[2], {'original': sys.argv[3]}, sys.argv[4], iou_type=sys.argv[5]);"
        "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))"
    )  # the child's own peak (Linux): ru_maxrss would include this process, forked before exec
    root = str(Path(__file__).resolve().parents[1])
    args = [sys.executable, "-c", code, root, str(gt_path), str(pred_path), str(out), iou_type]
    child = subprocess.run(args, check=True, capture_output=True, text=True)
    return int(child.stdout.split()[-1]) / 2**20


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
    parser.add_argument("--repeat", type=int, default=2, help="runs of each tool; best is kept")
    parser.add_argument("--check-stats", action="store_true", help="also whole-set pycocotools")
    parser.add_argument("--peak-memory", action="store_true", help="ours' peak RSS, fresh run")
    args = parser.parse_args()
    iou_type = args.iou_type

    gt_json, predictions = synthetic_set(
        args.images, args.gt_per_image, args.dets_per_image, args.categories, args.seed,
        masks=iou_type == "segm",
    )  # fmt: skip
    dets = predictions["original"]
    n_gt = len(gt_json["annotations"])
    print(f"synthetic {iou_type} set: {args.images} images, {n_gt} objects, {len(dets)} "
          f"detections (seed {args.seed}); best of {args.repeat} runs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        gt_path, pred_path = tmp / "gt.json", tmp / "original.json"
        gt_path.write_text(json.dumps(gt_json))
        pred_path.write_text(json.dumps(dets))
        del gt_json, predictions, dets

        rows = []
        wall, cpu, ours_stats = timed(lambda: run_ours(gt_path, pred_path, tmp / "out", iou_type),
                                      args.repeat)  # fmt: skip
        rows.append(("ours (hfc-detect compare: per image + whole set)", wall, cpu))
        hot = timed(lambda: run_hotcoco(gt_path, pred_path, iou_type), args.repeat)
        if hot[2] is not None:
            rows.append(("hotcoco (whole set only)", hot[0], hot[1]))
        fast = timed(lambda: run_faster(gt_path, pred_path, iou_type), args.repeat)
        if fast[2] is not None:
            rows.append(("faster-coco-eval (whole set only)", fast[0], fast[1]))
        worst_stats = 0.0
        if args.check_stats:
            ref = timed(lambda: run_pycocotools(gt_path, pred_path, iou_type, None), 1)
            rows.append(("pycocotools (whole set only)", ref[0], ref[1]))
            worst_stats = float(np.abs(ours_stats - ref[2]).max())

        ids = json.loads(gt_path.read_text())["images"]
        all_ids = sorted(img["id"] for img in ids)
        sample = all_ids if args.full else sorted(
            np.random.default_rng(args.seed + 100).choice(all_ids, args.sample, False).tolist()
        )  # fmt: skip
        ref, load, loop = run_pycocotools(gt_path, pred_path, iou_type, sample)
        scale = len(all_ids) / len(sample)
        rows.append((f"pycocotools per-image loop ({len(sample)} images, scaled)",
                     load[0] + loop[0] * scale, load[1] + loop[1] * scale))  # fmt: skip

        per_image = _read_per_image(tmp / "out" / "per_image.csv")
        worst = max(
            max(abs(per_image[i][k] - (v if v != -1 else np.nan)) if v != -1 else 0.0
                for k, v in enumerate(want))
            for i, want in ref.items()
        )  # fmt: skip

        ref_wall = hot[0] if hot[2] is not None else None
        print(f"{'tool':<58} {'wall s':>8} {'CPU s':>8} {'wall / hotcoco':>15}")
        for name, w, c in rows:
            ratio = f"{w / ref_wall:.2f}x" if ref_wall else "-"
            print(f"{name:<58} {w:8.2f} {c:8.2f} {ratio:>15}")
        print(f"ours is {rows[-1][1] / wall:.0f}x faster than the pycocotools per-image loop "
              f"(wall; {rows[-1][2] / cpu:.0f}x CPU)")  # fmt: skip
        print(f"checked {len(sample)} images' (AP, AP50, AP75) against pycocotools: "
              f"max difference {worst:.1e}")  # fmt: skip
        if hot[2] is not None:
            print(f"max |stats difference| to hotcoco: {np.abs(ours_stats - hot[2]).max():.1e}")
        if args.check_stats:
            print(f"max |stats difference| to pycocotools: {worst_stats:.1e}")
        if args.peak_memory:
            gib = peak_memory(gt_path, pred_path, tmp / "out_mem", iou_type)
            print(f"ours' peak resident memory (fresh process, end to end): {gib:.2f} GiB")
        if worst > 1e-9 or worst_stats > 1e-9:
            raise SystemExit("MISMATCH with pycocotools")


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
