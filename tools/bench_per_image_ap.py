"""Benchmark: per-image COCO AP of hfc_detect.evaluation against a pycocotools COCOeval loop.

Builds a synthetic COCO set (fixed seed; default 5,000 images, ~7 objects each, 80 categories,
3 variants with 100 detections per image), then measures in the same run:

- ours: ``evaluate`` on each variant (per-image AP/AP50/AP75 and the whole-set stats), from
  in-memory detection lists (conversion to arrays included) and, separately, end to end through
  ``compare`` (JSON files read, validated, scored, all outputs written);
- pycocotools: ``COCOeval`` with ``params.imgIds=[image]`` (evaluate, accumulate, summarize) on a
  random sample of images per variant, extrapolated to all images (``--full`` loops over all);
  with ``--check-stats`` also one whole-set COCOeval per variant; COCO/loadRes is not timed;
- optionally hotcoco (``pip install hotcoco``) on the whole set, as a reference.

It checks that our per-image AP equals pycocotools' on every sampled image (and with
``--check-stats`` the 12 stats) and prints the speed ratio.
Example: ``python tools/bench_per_image_ap.py --sample 100``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfc_detect.evaluation import compare, evaluate, load_annotations, load_predictions

VARIANTS = ("original", "lfc", "hfc")
clock = time.process_time  # CPU seconds: steady on a shared machine; --wall switches to wall time


def synthetic_set(
    num_images: int, gt_per_image: float, dets_per_image: int, num_categories: int, seed: int
) -> tuple[dict, dict[str, list[dict]]]:
    """A COCO ground truth and per-variant detections that look like a detector's output.

    About 30% of the detections lie near an object (jittered more in the lfc/hfc variants,
    mostly with the object's category, higher scores); the rest are background boxes of random
    categories with low scores. Objects span all COCO area ranges; 1% are crowd.
    """
    rng = np.random.default_rng(seed)
    image_ids = np.sort(rng.choice(10 * num_images, num_images, replace=False))
    images = [{"id": int(i), "file_name": f"{i:012d}.jpg", "width": 640, "height": 480}
              for i in image_ids]  # fmt: skip
    categories = [{"id": c, "name": f"class{c}"} for c in range(1, num_categories + 1)]

    per_image = rng.poisson(gt_per_image, num_images)
    n_gt = int(per_image.sum())
    g_img = np.repeat(image_ids, per_image)
    side = np.exp(rng.uniform(np.log(8), np.log(400), n_gt))
    g_w, g_h = side * rng.uniform(0.6, 1.4, n_gt), side * rng.uniform(0.6, 1.4, n_gt)
    g_x = rng.uniform(0, 1, n_gt) * (640 - np.minimum(g_w, 600))
    g_y = rng.uniform(0, 1, n_gt) * (480 - np.minimum(g_h, 440))
    g_box = np.round(np.stack([g_x, g_y, g_w, g_h], 1), 2)
    g_cat = rng.integers(1, num_categories + 1, n_gt)
    g_area = np.round(g_w * g_h * rng.uniform(0.6, 0.9, n_gt), 2)
    g_crowd = rng.random(n_gt) < 0.01
    anns = [
        {"id": i + 1, "image_id": int(g_img[i]), "category_id": int(g_cat[i]),
         "bbox": g_box[i].tolist(), "area": float(g_area[i]), "iscrowd": int(g_crowd[i])}
        for i in range(n_gt)
    ]  # fmt: skip

    first_gt = np.cumsum(per_image) - per_image
    predictions = {}
    for v, variant in enumerate(VARIANTS):
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
        predictions[variant] = [
            {"image_id": int(image_ids[d_img[i]]), "category_id": int(cat[i]),
             "bbox": box[i].tolist(), "score": float(score[i])}
            for i in range(n)
        ]  # fmt: skip
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, predictions


def pycocotools_per_image(gt_path: Path, dets: list[dict], image_ids: list[int]):
    """COCOeval per image (imgIds=[image]); returns (seconds, {image: (AP, AP50, AP75)})."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes([dict(d) for d in dets])
        start = clock()
        per_image = {}
        for image_id in image_ids:
            ev = COCOeval(coco_gt, coco_dt, "bbox")
            ev.params.imgIds = [image_id]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            per_image[image_id] = tuple(ev.stats[:3])
        seconds = clock() - start
    return seconds, per_image


def pycocotools_whole_set(gt_path: Path, dets: list[dict]):
    """One whole-set COCOeval; returns (seconds, stats)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.loadRes([dict(d) for d in dets])
        start = clock()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        seconds = clock() - start
    return seconds, np.array(ev.stats)


def hotcoco_whole_set(gt_path: Path, dets_path: Path) -> float | None:
    """hotcoco's whole-set bbox evaluation time, or None where hotcoco is not installed."""
    try:
        from hotcoco import COCO, COCOeval
    except ImportError:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        coco_dt = coco_gt.load_res(str(dets_path))
        start = clock()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--gt-per-image", type=float, default=7.0)
    parser.add_argument("--dets-per-image", type=int, default=100)
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=100, help="images per variant timed")
    parser.add_argument("--full", action="store_true", help="loop pycocotools over all images")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; best is reported")
    parser.add_argument("--wall", action="store_true", help="time wall clock instead of CPU")
    parser.add_argument(
        "--check-stats", action="store_true", help="also run whole-set COCOeval and compare stats"
    )
    args = parser.parse_args()
    global clock
    if args.wall:
        clock = time.perf_counter

    gt_json, predictions = synthetic_set(
        args.images, args.gt_per_image, args.dets_per_image, args.categories, args.seed
    )
    n_gt, n_dets = len(gt_json["annotations"]), sum(len(d) for d in predictions.values())
    print(
        f"synthetic set: {args.images} images, {n_gt} objects, {len(VARIANTS)} variants, "
        f"{n_dets} detections (seed {args.seed})"
    )
    gc.collect()
    gc.freeze()  # the data set is long-lived: keep the collector from rescanning it on both sides
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        gt_path = tmp / "gt.json"
        gt_path.write_text(json.dumps(gt_json))
        pred_paths = {}
        for name, dets in predictions.items():
            pred_paths[name] = tmp / f"{name}.json"
            pred_paths[name].write_text(json.dumps(dets))

        gt = load_annotations(gt_path)
        ours, best, best_engine = {}, float("inf"), float("inf")
        for _ in range(args.repeat):
            start = clock()
            loaded = {n: load_predictions(d, gt) for n, d in predictions.items()}
            middle = clock()
            ours = {n: evaluate(gt, p) for n, p in loaded.items()}
            best = min(best, clock() - start)
            best_engine = min(best_engine, clock() - middle)
        start = clock()
        compare(gt_path, pred_paths, tmp / "out")
        end_to_end = clock() - start
        print(f"timing {'wall' if args.wall else 'CPU'} seconds")
        print(f"ours, engine (per-image AP + whole-set stats from arrays): {best_engine:.3f} s "
              f"for {len(VARIANTS)} variants; with conversion from the in-memory lists: "
              f"{best:.3f} s (best of {args.repeat})")  # fmt: skip
        print(f"ours end to end (compare: read+validate JSON, score, write): {end_to_end:.3f} s")

        all_ids = gt.image_ids.tolist()
        rng = np.random.default_rng(args.seed + 100)
        loop_seconds, checked, worst = 0.0, 0, 0.0
        for name, dets in predictions.items():
            ids = all_ids if args.full else sorted(rng.choice(all_ids, args.sample, False).tolist())
            seconds, ref = pycocotools_per_image(gt_path, dets, ids)
            loop_seconds += seconds * len(all_ids) / len(ids)
            ev = ours[name]
            pos = np.searchsorted(ev.image_ids, ids)
            got = np.stack([ev.ap[pos], ev.ap50[pos], ev.ap75[pos]], 1)
            want = np.array([ref[i] for i in ids])
            got = np.where(np.isnan(got), -1.0, got)
            worst = max(worst, float(np.abs(got - want).max()))
            checked += len(ids)
        how = "all images" if args.full else f"{args.sample} random images per variant, scaled"
        print(f"pycocotools per-image loop: {loop_seconds:.1f} s for all images ({how})")
        print(
            f"checked {checked} per-image (AP, AP50, AP75): max |ours - pycocotools| = {worst:.1e}"
        )

        stats_diff = 0.0
        if args.check_stats:
            whole_ref = 0.0
            for name, dets in predictions.items():
                seconds, stats = pycocotools_whole_set(gt_path, dets)
                whole_ref += seconds
                stats_diff = max(stats_diff, float(np.abs(ours[name].stats - stats).max()))
            print(f"pycocotools whole-set COCOeval: {whole_ref:.1f} s for {len(VARIANTS)} "
                  f"variants; max |stats difference| = {stats_diff:.1e}")  # fmt: skip
        hot = [hotcoco_whole_set(gt_path, p) for p in pred_paths.values()]
        if all(h is not None for h in hot):
            print(f"hotcoco whole-set evaluation (reference): {sum(hot):.2f} s for {len(hot)}")
        else:
            print("hotcoco not installed (pip install hotcoco): reference skipped")
        print(f"speed-up vs the pycocotools per-image loop: {loop_seconds / best_engine:.0f}x "
              f"engine, {loop_seconds / best:.0f}x with conversion from lists, "
              f"{loop_seconds / end_to_end:.0f}x end to end (JSON and writing)")  # fmt: skip
        if worst > 1e-9 or stats_diff > 1e-9:
            raise SystemExit("MISMATCH with pycocotools")


if __name__ == "__main__":
    main()
