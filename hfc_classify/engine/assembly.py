"""Assemble a :class:`~hfc_classify.engine.train.Trainer` from a :class:`TrainConfig`.

The one place that turns settings into objects: it resolves the device, loads (or takes) the
data, shuffles the labels, builds the model and optimizer, computes the LFC/HFC the run trains
on, puts the sets where the run keeps them (:mod:`hfc_classify.engine.device`) and builds the
tracker. The trainer itself only receives what is built here, so tests and Python users can
hand it their own data, model or tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hfc_classify.data.datasets import ImageSet, load_split
from hfc_classify.data.frequency_sets import default_cache_dir, frequency_sets
from hfc_classify.engine.config import TrainConfig
from hfc_classify.engine.device import Runtime, fits_on_device, keep
from hfc_classify.engine.evaluation import resolve_device
from hfc_classify.engine.optim import build_optimizer
from hfc_classify.engine.tracking import Tracker
from hfc_classify.engine.trainer import RunData, Trainer
from hfc_classify.models import build_model
from hfc_detect.utils.errors import InputError


def label_permutation(n: int, seed: int) -> np.ndarray:
    """The one seeded permutation used to shuffle ``n`` training labels: new = labels[perm]."""
    return np.random.default_rng([seed, 1, n]).permutation(n)


def build_classifier(config: TrainConfig, in_channels: int) -> nn.Module:
    """The configured architecture; options it does not take raise :class:`InputError`."""
    try:
        return build_model(
            config.arch,
            num_classes=config.num_classes,
            in_channels=in_channels,
            **config.model_options(),
        )
    except TypeError as exc:
        raise InputError(
            f"architecture {config.arch!r} does not take these options "
            f"({', '.join(config.model_options())}): {exc}"
        ) from None


def load_data(config: TrainConfig) -> tuple[ImageSet, ImageSet]:
    """The training split of ``train_data`` and the test split of ``test_data``."""
    return (
        load_split(config.train_data, "train", download=config.download),
        load_split(config.test_data, "test", download=config.download),
    )


def _check_pair(train: ImageSet, test: ImageSet, num_classes: int) -> None:
    if train.images.shape[1:] != test.images.shape[1:]:
        raise InputError(
            f"{test.source}: test images {test.images.shape[1:]} differ in shape from the "
            f"training images {train.images.shape[1:]}"
        )
    for data in (train, test):
        if data.labels.max() >= num_classes:
            raise InputError(
                f"{data.source}: label {data.labels.max()} out of range for {num_classes} classes"
            )


def _training_images(
    train: ImageSet, config: TrainConfig, device: torch.device, cache_dir: Path
) -> torch.Tensor:
    """The images the run trains on: the originals, or their LFC/HFC at ``train_radius``
    (computed on the device, and kept there when the set fits)."""
    if config.train_on == "original":
        return train.tensor()
    on_device = fits_on_device(train.images.size * 4, device)
    return frequency_sets(
        train.images,
        [config.train_radius],
        variants=[config.train_on],
        mode=config.normalize,
        inclusive=config.inclusive,
        device=device,
        cache_dir=cache_dir,
        out_device=device if on_device else "cpu",
    )[(config.train_on, config.train_radius)]


def build_trainer(
    config: TrainConfig,
    *,
    data: tuple[ImageSet, ImageSet] | None = None,
    log: Callable[[str], None] = print,
) -> Trainer:
    """The run ``config`` describes, ready to train. ``data`` (train, test) replaces loading
    ``config.train_data``/``test_data`` (which then only name the run's data in its config)."""
    device = resolve_device(config.device)
    runtime = Runtime(device, config.precision, config.channels_last, config.eval_batch_size)
    cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    train, test = data if data is not None else load_data(config)
    _check_pair(train, test, config.num_classes)
    permutation = label_permutation(len(train), config.seed) if config.shuffle_labels else None
    if permutation is not None:
        train = train.with_labels(train.labels[permutation])
    torch.manual_seed(config.seed)
    model = runtime.prepare(build_classifier(config, train.channels))
    optimizer = build_optimizer(
        config.optimizer,
        model.parameters(),
        config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    train_x, train_y = keep(
        [_training_images(train, config, device, cache_dir), torch.from_numpy(train.labels)],
        device,
    )
    test_x, test_y = keep([test.tensor(), torch.from_numpy(test.labels)], device)
    tracker = _tracker(train, test, config, runtime, cache_dir)
    sets = RunData(train_x, train_y, test_x, test_y, permutation)
    return Trainer(config, model, optimizer, sets, tracker, runtime, log=log)


def _tracker(
    train: ImageSet, test: ImageSet, config: TrainConfig, runtime: Runtime, cache_dir: Path
) -> Tracker:
    """Accuracy on the LFC/HFC of the configured subsets of ``train`` (with the labels the run
    trains on) and ``test``."""
    return Tracker(
        {"train": train, "test": test},
        config.track_radii,
        {"train": config.track_train, "test": config.track_test},
        seed=config.seed,
        mode=config.normalize,
        inclusive=config.inclusive,
        device=runtime.device,
        cache_dir=cache_dir,
        batch_size=runtime.eval_batch,
    )
