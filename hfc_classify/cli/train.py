"""``hfc-classify train``: train a classifier, tracking its accuracy on LFC/HFC every epoch."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from hfc_classify.cli import options
from hfc_classify.cli.options import ConfigOption, config_parameters, config_values
from hfc_classify.engine.config import TrainConfig
from hfc_detect.utils.cli import parse_number_list

#: The options that set a :class:`TrainConfig` field, in --help order; their types and defaults
#: are the field's. ``--output`` and ``--progress`` are the command's own.
SETTINGS = (
    ConfigOption(
        "train_data",
        "--data",
        f"Training data: {options.DATA_HELP}.",
        required=True,
        short="-d",
        metavar="PATH",
    ),
    ConfigOption(
        "test_data",
        "--test-data",
        "Test data (default: --data's test split; required for an .npz --data).",
        metavar="PATH",
    ),
    ConfigOption("arch", "--arch", f"Architecture: {options.ARCH_HELP}.", short="-a"),
    ConfigOption("epochs", "--epochs", "Training epochs."),
    ConfigOption("batch_size", "--batch-size", "Training batch size."),
    ConfigOption("optimizer", "--optimizer", "sgd, adam, adagrad, adadelta, rmsprop."),
    ConfigOption("lr", "--lr", "Learning rate."),
    ConfigOption("momentum", "--momentum", "SGD/RMSprop momentum."),
    ConfigOption("weight_decay", "--weight-decay", "L2 weight decay."),
    ConfigOption("mixup_alpha", "--mixup", "Mixup alpha, Beta(a, a); 0: off (released code: 1)."),
    ConfigOption(
        "batch_norm", "--batch-norm/--no-batch-norm", "BatchNorm switch (default: the model's)."
    ),
    ConfigOption("dropout", "--dropout", "Dropout p on dense layers."),
    ConfigOption(
        "shuffle_labels", "--shuffle-labels", "Train on one seeded permutation of the labels."
    ),
    ConfigOption("train_on", "--train-on", "original, lfc or hfc."),
    ConfigOption(
        "train_radius", "--radius", "Radius for --train-on lfc/hfc.", short="-r", metavar="X"
    ),
    ConfigOption("augment", "--augment", "Random crop (pad 4) and horizontal flip."),
    ConfigOption("adversarial", "--adversarial", "PGD adversarial training."),
    ConfigOption("adv_eps", "--adv-eps", "Adversarial training: L-inf budget (pixels in [0, 1])."),
    ConfigOption("adv_steps", "--adv-steps", "Adversarial training: PGD steps."),
    ConfigOption("adv_step_size", "--adv-step-size", "Default eps/10."),
    ConfigOption(
        "adv_random_start",
        "--adv-random-start",
        "Adversarial training: start PGD at a random point.",
    ),
    ConfigOption("normalize", "--pixel-mode", options.PIXEL_MODE_HELP, alias="--normalize"),
    ConfigOption("inclusive", "--inclusive", "Disk distance <= r (default < r)."),
    ConfigOption(
        "track_radii", "--track-radius", "Tracked radii; repeat or comma-separate.", metavar="X"
    ),
    ConfigOption("track_train", "--track-train", "Tracked training images (0: all)."),
    ConfigOption("track_test", "--track-test", "Tracked test images (0: all)."),
    ConfigOption("seed", "--seed", "Seed of weights, shuffling and augmentation."),
    ConfigOption("device", "--device", "auto, cpu, cuda, cuda:1, ..."),
    ConfigOption(
        "eval_batch_size",
        "--eval-batch-size",
        "Eval/tracking batch (default: 100 on CPU, 2000 on GPU).",
    ),
    ConfigOption(
        "channels_last",
        "--channels-last",
        "channels_last memory format (GPU speed; last bits).",
    ),
    ConfigOption(
        "precision", "--precision", "fp32, or bf16/fp16 autocast (faster, other numbers)."
    ),
    ConfigOption(
        "cache_dir", "--cache-dir", "LFC/HFC cache (default ~/.cache/hfc-toolkit).", metavar="DIR"
    ),
    ConfigOption("download", "--download", "Fetch CIFAR-10/MNIST via torchvision."),
    ConfigOption("tensorboard", "--tensorboard", "Also log to DIR/tensorboard."),
)


def train_command(
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Run folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    **settings: Any,
) -> None:
    """Train a classifier (default: the paper's vanilla set-up: the released code's ResNet,
    Adam, lr 1e-4, batch 100, 100 epochs, pixels in [0, 1]). Every epoch writes
    DIR/metrics.csv (train loss/accuracy, test accuracy, accuracy on the LFC and HFC of
    training and test images at each tracked radius) and DIR/checkpoint.pt; running the same
    command again resumes a killed run."""
    from hfc_detect.utils.files import check_output

    check_output(output)
    from rich.console import Console

    from hfc_classify.engine import train
    from hfc_classify.engine.run_folder import RunFolder
    from hfc_detect.utils.cli import interruptible

    values, names = config_values(SETTINGS, settings)
    values["track_radii"] = parse_number_list(values["track_radii"], names["track_radii"])
    config = TrainConfig.from_dict(values, where="train", names=names)
    console = Console(stderr=True)
    with interruptible(
        lambda: (
            f"{RunFolder(output).saved_epochs()} of {config.epochs} epochs are saved in "
            f"{output}; run the same command again to continue"
        )
    ):
        summary = train(config, output, progress=progress, log=console.print)
    final = summary["final"]
    console.print(
        f"[bold]{output}[/]: {summary['epochs']} epochs, train acc {final['train_acc']:.4f}, "
        f"test acc {final['test_acc']:.4f}"
    )


def _signature() -> inspect.Signature:
    """--data, --output, the other settings, --progress (the order of --help)."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    output, progress = (
        p.replace(kind=keyword)
        for p in inspect.signature(train_command).parameters.values()
        if p.kind != p.VAR_KEYWORD
    )
    data, *rest = config_parameters(TrainConfig, SETTINGS)
    return inspect.Signature([data, output, *rest, progress])


train_command.__signature__ = _signature()  # type: ignore[attr-defined]
