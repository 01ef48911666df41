"""Train the bundled demo detector on CPU, deterministically, and ship it with its metrics.

    nice -n 10 python tools/train_demo_detector.py            # writes hfc_detect/assets/
    python tools/train_demo_detector.py --steps 50 --output /tmp/demo-try   # a quick trial

Trains ``hfc_detect.modeling.demo_detector.DemoNet`` on random crops of demo images rendered
from ``TRAIN_SEED`` (CenterNet losses: penalty-reduced focal loss on Gaussian centre heatmaps,
L1 on log box size and centre offset), then scores it with pycocotools on the held-out demo
evaluation set (``EVAL_SEED``, the set ``hfc-detect eval`` uses): original images, and their
low- and high-frequency components at radius 128 from ``hfc_detect.frequency.split``. Writes
``demo_detector.pt`` (float16 weights) and ``demo_detector.json`` (recipe, seeds, AP, speed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from hfc_detect.data.demo import (
    CATEGORY_IDS,
    DEMO_EVAL_IMAGES,
    DEMO_VERSION,
    EVAL_SEED,
    TRAIN_SEED,
    make_demo_dataset,
    render_demo_image,
)
from hfc_detect.data.images import read_image
from hfc_detect.evaluation import STAT_NAMES
from hfc_detect.frequency import split
from hfc_detect.modeling.demo_detector import (
    METADATA_FILE,
    STRIDE,
    WEIGHTS_FILE,
    DemoDetector,
    DemoNet,
    build_demo_detector,
    prepare,
    save_checkpoint,
)
from hfc_detect.utils.files import write_json_atomic

ASSETS = Path(__file__).resolve().parents[1] / "hfc_detect" / "assets"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, nargs=2, default=(192, 256), metavar=("H", "W"))
    p.add_argument("--pool", type=int, default=400, help="training images rendered (TRAIN_SEED)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=32, help="network width (channels at stride 4)")
    p.add_argument("--seed", type=int, default=0, help="torch/numpy seed for init and sampling")
    p.add_argument("--threads", type=int, default=1, help="torch threads for training (default 1)")
    p.add_argument("--eval-threads", type=int, default=2, help="torch threads for evaluation")
    p.add_argument("--eval-images", type=int, default=DEMO_EVAL_IMAGES)
    p.add_argument("--output", type=Path, default=ASSETS, help=f"default {ASSETS}")
    return p.parse_args()


def make_targets(objects: list[tuple[int, float, float, float, float]], h: int, w: int):
    """CenterNet targets for one crop: (heatmap (C, h, w), list of (cls, y, x, box4))."""
    heat = np.zeros((len(CATEGORY_IDS), h, w), np.float32)
    regs = []
    ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    for cls, x0, y0, bw, bh in objects:
        cx, cy = (x0 + bw / 2) / STRIDE, (y0 + bh / 2) / STRIDE
        ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
        sigma = max(0.6, 0.1 * np.sqrt(bw * bh) / STRIDE)
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        np.maximum(heat[cls], g, out=heat[cls])
        box = (np.log(bw / STRIDE), np.log(bh / STRIDE), cx - ix - 0.5, cy - iy - 0.5)
        regs.append((cls, iy, ix, box))
    return heat, regs


def sample_batch(pool, rng: np.random.Generator, batch_size: int, crop: tuple[int, int]):
    """Random crops (with horizontal flips) and their targets from the rendered pool."""
    ch, cw = crop
    images, heats, regs = [], [], []
    class_index = {c: i for i, c in enumerate(CATEGORY_IDS)}
    for b in range(batch_size):
        img, objs = pool[int(rng.integers(len(pool)))]
        y0 = int(rng.integers(img.shape[0] - ch + 1))
        x0 = int(rng.integers(img.shape[1] - cw + 1))
        flip = bool(rng.integers(2))
        crop_img = img[y0 : y0 + ch, x0 : x0 + cw]
        kept = []
        for o in objs:
            bx0, by0, bw, bh = o.bbox
            cx0, cy0 = max(bx0 - x0, 0.0), max(by0 - y0, 0.0)
            cx1, cy1 = min(bx0 + bw - x0, cw), min(by0 + bh - y0, ch)
            if cx1 <= cx0 or cy1 <= cy0 or (cx1 - cx0) * (cy1 - cy0) < 0.6 * bw * bh:
                continue  # mostly cut off: neither a positive nor a clean negative; drop
            if flip:
                cx0, cx1 = cw - cx1, cw - cx0
            kept.append((class_index[o.category_id], cx0, cy0, cx1 - cx0, cy1 - cy0))
        if flip:
            crop_img = crop_img[:, ::-1]
        heat, reg = make_targets(kept, ch // STRIDE, cw // STRIDE)
        images.append(torch.from_numpy(np.ascontiguousarray(crop_img)).permute(2, 0, 1).float())
        heats.append(torch.from_numpy(heat))
        regs.extend((b, *r) for r in reg)
    return images, torch.stack(heats), regs


def centernet_loss(heat_logits, box_pred, heat_target, regs):
    """Penalty-reduced focal loss (alpha 2, beta 4) + L1 on log size and offset."""
    p = torch.sigmoid(heat_logits).clamp(1e-4, 1 - 1e-4)
    pos = heat_target.eq(1).float()
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - heat_target) ** 4 * (1 - pos)).sum()
    num = max(len(regs), 1)
    focal = (pos_loss + neg_loss) / num
    if not regs:
        return focal, focal.detach(), torch.zeros(())
    b, _, iy, ix, box = zip(*regs, strict=True)
    pred = box_pred[list(b), :, list(iy), list(ix)]  # (K, 4)
    target = torch.tensor(np.array(box), dtype=torch.float32)
    reg = F.l1_loss(pred, target, reduction="sum") / num
    return focal + reg, focal.detach(), reg.detach()


def train(args: argparse.Namespace) -> tuple[DemoNet, dict]:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    pool = [render_demo_image(TRAIN_SEED, i) for i in range(args.pool)]
    render_s = time.perf_counter() - t0
    print(f"rendered {len(pool)} training images in {render_s:.1f}s", flush=True)
    net = DemoNet(len(CATEGORY_IDS), width=args.width)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    warmup = min(100, args.steps // 10 + 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * s / args.steps)),
    )
    net.train()
    t0 = time.perf_counter()
    for step in range(args.steps):
        images, heat_t, regs = sample_batch(pool, rng, args.batch_size, tuple(args.crop))
        batch, _ = prepare(images, torch.device("cpu"), long_side=None)
        heat, box = net(batch)
        loss, focal, reg = centernet_loss(heat, box, heat_t, regs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps - 1:
            el = time.perf_counter() - t0
            print(
                f"step {step:5d}  loss {loss.item():.3f} (focal {focal.item():.3f}, "
                f"box {reg.item():.3f})  {el:.0f}s",
                flush=True,
            )
    train_s = time.perf_counter() - t0
    recipe = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "crop_hw": list(args.crop),
        "horizontal_flip": True,
        "training_images": args.pool,
        "optimizer": "AdamW",
        "lr": args.lr,
        "weight_decay": 1e-4,
        "schedule": f"linear warmup {warmup} steps, cosine to 0",
        "loss": "CenterNet focal (alpha 2, beta 4) + L1(log w, log h, dx, dy)",
        "torch_seed": args.seed,
        "threads": args.threads,
        "train_seconds": round(train_s, 1),
        "render_seconds": round(render_s, 1),
    }
    return net, recipe


def detections_to_coco(detector: DemoDetector, images: list[torch.Tensor], ids: list[int]):
    results = []
    for image_id, img in zip(ids, images, strict=True):
        (det,) = detector.detect([img])
        for (x0, y0, x1, y1), s, c in zip(det.boxes, det.scores, det.category_ids, strict=True):
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(c),
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "score": float(s),
                }
            )
    return results


def coco_ap(gt: COCO, results: list[dict]) -> dict[str, float]:
    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {n: round(float(v), 4) for n, v in zip(STAT_NAMES[:6], ev.stats[:6], strict=True)}


def evaluate(detector: DemoDetector, num_images: int, radius: float = 128.0) -> dict:
    """AP on the held-out demo images (read back from PNG) and their LFC/HFC at ``radius``."""
    with tempfile.TemporaryDirectory() as tmp:
        ann, images_dir = make_demo_dataset(tmp, num_images=num_images, seed=EVAL_SEED)
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(ann))
        ids = sorted(gt.getImgIds())
        originals = []
        for i in ids:
            rgb = read_image(images_dir / gt.imgs[i]["file_name"])
            originals.append(torch.from_numpy(rgb).permute(2, 0, 1).float())
        t0 = time.perf_counter()
        res = detections_to_coco(detector, originals, ids)
        speed = len(ids) / (time.perf_counter() - t0)
        metrics = {"original": coco_ap(gt, res)}
        low_high = [split(x, radius) for x in originals]
        metrics[f"lfc_r{radius:g}"] = coco_ap(
            gt, detections_to_coco(detector, [lo for lo, _ in low_high], ids)
        )
        metrics[f"hfc_r{radius:g}"] = coco_ap(
            gt, detections_to_coco(detector, [hi for _, hi in low_high], ids)
        )
    return {
        "dataset": DEMO_VERSION,
        "dataset_seed": EVAL_SEED,
        "num_images": num_images,
        "radius": radius,
        "pixel_mode": "raw (unclipped components)",
        "metrics": metrics,
        "images_per_second_cpu": round(speed, 2),
        "speed_threads": torch.get_num_threads(),
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    net, recipe = train(args)
    torch.set_num_threads(args.eval_threads)
    args.output.mkdir(parents=True, exist_ok=True)
    weights = args.output / WEIGHTS_FILE
    sha256 = save_checkpoint(weights, net, list(CATEGORY_IDS), args.width)
    detector = build_demo_detector(weights)  # evaluate exactly what ships (float16 weights)
    evaluation = evaluate(detector, args.eval_images)
    metadata = {
        "name": "demo_centernet",
        "weights": WEIGHTS_FILE,
        "weights_sha256": sha256,
        "architecture": {
            "class": "hfc_detect.modeling.demo_detector.DemoNet",
            "width": args.width,
            "parameters": sum(p.numel() for p in net.parameters()),
            "output_stride": STRIDE,
            "storage": "float16",
        },
        "categories": list(CATEGORY_IDS),
        "training": {
            "dataset": DEMO_VERSION,
            "dataset_seed": TRAIN_SEED,
            "script": "tools/train_demo_detector.py",
            "command": " ".join(["python", "tools/train_demo_detector.py", *sys.argv[1:]]),
            "recipe": recipe,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "evaluation": evaluation,
    }
    write_json_atomic(args.output / METADATA_FILE, metadata)
    print(json.dumps(evaluation, indent=2))


if __name__ == "__main__":
    main()
