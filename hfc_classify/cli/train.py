"""``hfc-classify train``: train a classifier, tracking its accuracy on LFC/HFC every epoch."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli import options
from hfc_detect.utils.cli import parse_number_list

#: The options whose name is not --<setting> (errors name what the user typed).
RENAMED = {
    "train_data": "--data",
    "train_radius": "--radius",
    "mixup_alpha": "--mixup",
    "normalize": "--pixel-mode",
    "track_radii": "--track-radius",
}


def train_command(
    data: str = typer.Option(
        ..., "--data", "-d", metavar="PATH", help=f"Training data: {options.DATA_HELP}."
    ),
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Run folder."),
    test_data: str = typer.Option(
        "",
        "--test-data",
        metavar="PATH",
        help="Test data (default: --data's test split; required for an .npz --data).",
    ),
    arch: str = typer.Option(
        options.DEFAULT_ARCH,
        "--arch",
        "-a",
        help="Architecture: released_resnet, resnet18, resnet20/32/44/56, lenet, alexnet, "
        "vgg11, vgg16.",
    ),
    epochs: int = typer.Option(100, "--epochs", help="Training epochs."),
    batch_size: int = typer.Option(100, "--batch-size", help="Training batch size."),
    optimizer: str = typer.Option(
        "adam", "--optimizer", help="sgd, adam, adagrad, adadelta, rmsprop."
    ),
    lr: float = typer.Option(1e-4, "--lr", help="Learning rate."),
    momentum: float = typer.Option(0.0, "--momentum", help="SGD/RMSprop momentum."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 weight decay."),
    mixup: float = typer.Option(
        0.0, "--mixup", help="Mixup alpha, Beta(a, a); 0: off (released code: 1)."
    ),
    batch_norm: bool | None = typer.Option(
        None, "--batch-norm/--no-batch-norm", help="BatchNorm switch (default: the model's)."
    ),
    dropout: float = typer.Option(0.0, "--dropout", help="Dropout p on dense layers."),
    shuffle_labels: bool = typer.Option(
        False, "--shuffle-labels", help="Train on one seeded permutation of the labels."
    ),
    train_on: str = typer.Option("original", "--train-on", help="original, lfc or hfc."),
    radius: float | None = typer.Option(
        None, "--radius", "-r", help="Radius for --train-on lfc/hfc."
    ),
    augment: bool = typer.Option(
        False, "--augment", help="Random crop (pad 4) and horizontal flip."
    ),
    adversarial: bool = typer.Option(False, "--adversarial", help="PGD adversarial training."),
    adv_eps: float = typer.Option(
        8 / 255, "--adv-eps", help="Adversarial training: L-inf budget (pixels in [0, 1])."
    ),
    adv_steps: int = typer.Option(10, "--adv-steps", help="Adversarial training: PGD steps."),
    adv_step_size: float | None = typer.Option(None, "--adv-step-size", help="Default eps/10."),
    adv_random_start: bool = typer.Option(
        False, "--adv-random-start", help="Adversarial training: start PGD at a random point."
    ),
    pixel_mode: str = options.PIXEL_MODE,
    normalize: str = options.NORMALIZE,
    inclusive: bool = typer.Option(False, "--inclusive", help="Disk distance <= r (default < r)."),
    track_radius: list[str] = typer.Option(["4,8,12,16"], "--track-radius", help="Tracked radii."),
    track_train: int = typer.Option(
        1000, "--track-train", help="Tracked training images (0: all)."
    ),
    track_test: int = typer.Option(1000, "--track-test", help="Tracked test images (0: all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of weights, shuffling and augmentation."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    eval_batch_size: int | None = typer.Option(
        None, "--eval-batch-size", help="Eval/tracking batch (default: 100 on CPU, 2000 on GPU)."
    ),
    channels_last: bool = typer.Option(
        False, "--channels-last", help="channels_last memory format (GPU speed; last bits)."
    ),
    precision: str = typer.Option(
        "fp32", "--precision", help="fp32, or bf16/fp16 autocast (faster, other numbers)."
    ),
    cache_dir: str | None = typer.Option(
        None, "--cache-dir", metavar="DIR", help="LFC/HFC cache (default ~/.cache/hfc-toolkit)."
    ),
    download: bool = typer.Option(
        False, "--download", help="Fetch CIFAR-10/MNIST via torchvision."
    ),
    tensorboard: bool = typer.Option(False, "--tensorboard", help="Also log to DIR/tensorboard."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Train a classifier (default: the paper's vanilla set-up: the released code's ResNet,
    Adam, lr 1e-4, batch 100, 100 epochs, pixels in [0, 1]). Every epoch writes
    DIR/metrics.csv (train loss/accuracy, test accuracy, accuracy on the LFC and HFC of
    training and test images at each tracked radius) and DIR/checkpoint.pt; running the same
    command again resumes a killed run."""
    from hfc_detect.utils.files import check_output

    check_output(output)
    from rich.console import Console

    from hfc_classify.engine import TrainConfig, train
    from hfc_classify.engine.train import saved_epochs
    from hfc_detect.utils.cli import interruptible

    values = dict(
        train_data=data,
        test_data=test_data,
        arch=arch,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        mixup_alpha=mixup,
        batch_norm=batch_norm,
        dropout=dropout,
        shuffle_labels=shuffle_labels,
        train_on=train_on,
        train_radius=radius,
        augment=augment,
        adversarial=adversarial,
        adv_eps=adv_eps,
        adv_steps=adv_steps,
        adv_step_size=adv_step_size,
        adv_random_start=adv_random_start,
        normalize=options.resolve_pixel_mode(pixel_mode, normalize),
        inclusive=inclusive,
        track_radii=parse_number_list(track_radius, "--track-radius"),
        track_train=track_train,
        track_test=track_test,
        seed=seed,
        device=device,
        eval_batch_size=eval_batch_size,
        channels_last=channels_last,
        precision=precision,
        cache_dir=cache_dir,
        download=download,
        tensorboard=tensorboard,
    )
    names = {key: "--" + key.replace("_", "-") for key in values} | RENAMED
    config = TrainConfig.from_dict(values, where="train", names=names)
    console = Console(stderr=True)
    with interruptible(
        lambda: (
            f"{saved_epochs(output)} of {config.epochs} epochs are saved in {output}; run "
            "the same command again to continue"
        )
    ):
        summary = train(config, output, progress=progress, log=console.print)
    final = summary["final"]
    console.print(
        f"[bold]{output}[/]: {summary['epochs']} epochs, train acc {final['train_acc']:.4f}, "
        f"test acc {final['test_acc']:.4f}"
    )
