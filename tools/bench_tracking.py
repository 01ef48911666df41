"""How much the per-epoch LFC/HFC tracking costs relative to an epoch of training.

Times, with the package's own code (Trainer.train_epoch, Tracker.measure, accuracy):
- training: a few full batches (default 5 x 100 images), scaled to an epoch of --epoch-images
  (CIFAR-10: 50,000) -- the per-image cost of a training step does not depend on the set size;
- tracking: the 16 accuracies (train/test x LFC/HFC x r = 4, 8, 12, 16) on the default subsets
  (1,000 training + 1,000 test images), measured directly;
- the test accuracy on --test-images (CIFAR-10: 10,000), scaled from 1,000 images.
Prints each as seconds and as a share of the training epoch (median of --repeats).

    python tools/bench_tracking.py [--arch released_resnet] [--device cpu] [--data ../shared]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hfc_classify.data import load_npz
from hfc_classify.data.datasets import ImageSet
from hfc_classify.engine import TrainConfig, Trainer, accuracy
from hfc_classify.engine.tracking import Tracker


def _data(shared: Path) -> tuple[ImageSet, ImageSet]:
    folder = shared / "data" / "cifar10"
    if (folder / "train_first4000.npz").is_file():
        return load_npz(folder / "train_first4000.npz"), load_npz(folder / "test_first1000.npz")
    rng = np.random.default_rng(0)
    make = lambda n: ImageSet(  # noqa: E731
        rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n), "random"
    )
    return make(4000), make(1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="released_resnet")
    p.add_argument("--device", default="auto")
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    p.add_argument("--batches", type=int, default=5, help="training batches timed")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--epoch-images", type=int, default=50_000)
    p.add_argument("--test-images", type=int, default=10_000)
    p.add_argument("--track-train", type=int, default=1000)
    p.add_argument("--track-test", type=int, default=1000)
    p.add_argument("--eval-batch-size", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    train_set, test_set = _data(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = args.batches * args.batch_size
        np.savez(tmp / "part.npz", images=train_set.images[:n], labels=train_set.labels[:n])
        config = TrainConfig(
            train_data=str(tmp / "part.npz"),
            test_data=str(tmp / "part.npz"),
            arch=args.arch,
            batch_size=args.batch_size,
            track_train=1,
            track_test=1,
            track_radii=[4],
            device=args.device,
            cache_dir=str(tmp / "cache"),
            eval_batch_size=args.eval_batch_size,
        )
        trainer = Trainer(config, tmp / "run", log=lambda _: None)
        tracker = Tracker(
            {"train": train_set, "test": test_set},
            [4, 8, 12, 16],
            {"train": args.track_train, "test": args.track_test},
            device=trainer.device,
            cache_dir=tmp / "cache",
            batch_size=args.eval_batch_size,
        )
        test_x, test_y = test_set.tensor(), torch.from_numpy(test_set.labels)
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        trainer.train_epoch(0)  # warm-up
        train_s, track_s, test_s = [], [], []
        for rep in range(args.repeats):
            sync()
            t0 = time.perf_counter()
            trainer.train_epoch(rep + 1)
            sync()
            t1 = time.perf_counter()
            tracker.measure(trainer.model)
            sync()
            t2 = time.perf_counter()
            accuracy(
                trainer.model,
                test_x,
                test_y,
                batch_size=args.eval_batch_size,
                device=trainer.device,
            )
            sync()
            t3 = time.perf_counter()
            train_s.append((t1 - t0) / n * args.epoch_images)
            track_s.append(t2 - t1)
            test_s.append((t3 - t2) / len(test_set) * args.test_images)
    epoch, track, test = map(statistics.median, (train_s, track_s, test_s))
    tracked = sum(len(x) for x, _ in tracker.sets.values())
    print(
        f"arch {args.arch} on {trainer.device}, {torch.get_num_threads()} CPU threads, "
        f"batch {args.batch_size}, median of {args.repeats}"
    )
    print(f"training epoch ({args.epoch_images} images, scaled from {n}): {epoch:9.1f} s")
    print(
        f"tracking 16 accuracies ({tracked} images, measured):   {track:9.1f} s "
        f"= {100 * track / epoch:5.1f}% of the epoch"
    )
    print(
        f"test accuracy ({args.test_images} images, scaled):      {test:9.1f} s "
        f"= {100 * test / epoch:5.1f}% of the epoch"
    )


if __name__ == "__main__":
    main()
