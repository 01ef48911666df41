"""Epoch time of the paper's recipe, split into training, test accuracy and LFC/HFC tracking.

Runs the package's own Trainer (released ResNet, Adam, batch 100, the default tracking: 16
accuracies on the LFC/HFC at r = 4, 8, 12, 16 of 1,000 training and 1,000 test images) on
random CIFAR-sized images, everything on --device as a real run keeps it. Per timed epoch:
- training: Trainer.train_epoch over --train-images images, scaled to --epoch-images (CIFAR-10:
  50,000; on a GPU the default trains on all 50,000; on a CPU on 1,000 and extrapolates, as the
  per-image cost of a step does not depend on the set size);
- test accuracy on --test-images images, scaled to 10,000;
- tracking, measured as it is (its cost does not depend on the training set's size).
Prints the median of --repeats epochs after one warm-up epoch, the shares of the epoch, and the
time of a 100-epoch run; --eval-batches 100,1000 also times the tracking at each eval batch.

    python tools/bench_train.py [--device cuda] [--channels-last] [--precision bf16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hfc_classify.data.datasets import ImageSet
from hfc_classify.engine import TrainConfig, accuracy, build_trainer, resolve_device


def _random_set(n: int, seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return ImageSet(images, rng.integers(0, 10, n), "random")


def _timed(device: torch.device, fn) -> float:
    return _wall_and_cpu(device, fn)[0]


def _wall_and_cpu(device: torch.device, fn) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (robust to other jobs on a shared CPU)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="released_resnet")
    p.add_argument("--device", default="auto")
    p.add_argument("--train-images", type=int, help="default: 50,000 on a GPU, 1,000 on a CPU")
    p.add_argument("--test-images", type=int, help="default: 10,000 on a GPU, 1,000 on a CPU")
    p.add_argument("--epoch-images", type=int, default=50_000)
    p.add_argument("--eval-batch-size", type=int, help="default: per device")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--eval-batches", default="", help="e.g. 100,1000: time tracking at each")
    args = p.parse_args()

    device = resolve_device(args.device)
    full = device.type == "cuda"
    n_train = args.train_images or (50_000 if full else 1_000)
    n_test = args.test_images or (10_000 if full else 1_000)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            train_data="random",
            test_data="random",
            arch=args.arch,
            device=str(device),
            cache_dir=str(Path(tmp) / "cache"),
            eval_batch_size=args.eval_batch_size,
            channels_last=args.channels_last,
            precision=args.precision,
        )
        setup = time.perf_counter()
        trainer = build_trainer(config, data=(_random_set(n_train, 0), _random_set(n_test, 1)))
        setup = time.perf_counter() - setup
        model = trainer.model

        def test() -> None:
            with trainer.runtime.autocast():
                accuracy(
                    model,
                    trainer.data.test_x,
                    trainer.data.test_y.cpu(),
                    batch_size=trainer.runtime.eval_batch,
                    device=device,
                )

        def track() -> None:
            with trainer.runtime.autocast():
                trainer.tracker.measure(model)

        trainer.train_epoch(0)  # warm-up
        sizes = [int(b) for b in args.eval_batches.split(",") if b]
        by_batch: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
        for _ in range(args.repeats):  # interleaved, so load changes hit every size alike
            for size in sizes:
                trainer.tracker.batch_size = size
                by_batch[size].append(_wall_and_cpu(device, track))
        trainer.tracker.batch_size = trainer.runtime.eval_batch
        rows = []
        for rep in range(args.repeats):
            train_s = _timed(device, lambda r=rep: trainer.train_epoch(r + 1))
            rows.append(
                (
                    train_s / n_train * args.epoch_images,
                    _timed(device, test) / n_test * 10_000,
                    _timed(device, track),
                )
            )
    train_s, test_s, track_s = (statistics.median(col) for col in zip(*rows, strict=True))
    epoch = train_s + test_s + track_s
    tracked = sum(len(x) for x, _ in trainer.tracker.sets.values())
    where = "measured" if n_train == args.epoch_images else f"scaled from {n_train}"
    print(
        f"{args.arch} on {device} ({torch.get_num_threads()} CPU threads), batch "
        f"{config.batch_size}, eval batch {trainer.runtime.eval_batch}, precision {args.precision}"
        f"{', channels_last' if args.channels_last else ''}; median of {args.repeats} epochs"
    )
    print(f"setup (data and LFC/HFC sets onto the device): {setup:8.2f} s")
    print(f"training, {args.epoch_images} images ({where}):   {train_s:8.2f} s")
    print(
        f"test accuracy, 10000 images ({'measured' if n_test == 10_000 else 'scaled'}):"
        f"  {test_s:8.2f} s = {100 * test_s / epoch:4.1f}% of the epoch"
    )
    print(
        f"tracking, 16 accuracies on {tracked} images:  {track_s:8.2f} s "
        f"= {100 * track_s / epoch:4.1f}% of the epoch"
    )
    print(f"epoch: {epoch:.2f} s; 100 epochs: {100 * epoch / 60:.1f} min")
    for size, times in by_batch.items():
        wall, cpu = (1000 * statistics.median(t) / tracked for t in zip(*times, strict=True))
        print(
            f"tracking at eval batch {size:5d}: {wall:.2f} ms an image wall, {cpu:.2f} ms CPU "
            "time of this process"
        )


if __name__ == "__main__":
    main()
