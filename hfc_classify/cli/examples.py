"""``hfc-classify examples``: the paper's Fig. 2 for a trained classifier."""

from __future__ import annotations

from pathlib import Path

import typer


def examples_command(
    arch: str = typer.Option(..., "--arch", help="Architecture name (e.g. resnet20)."),
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Weights (.th/.pt)."),
    data: str = typer.Option(
        ..., "--data", help=".npz, CIFAR-10 folder, mnist:ROOT, fashion-mnist:ROOT."
    ),
    radius: float = typer.Option(12.0, "--radius", "-r", help="Split radius (paper: 12)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for examples.csv and the figure."
    ),
    count: int = typer.Option(8, "--count", help="Examples drawn (paper: 8)."),
    normalize: str = typer.Option(
        "max", "--normalize", help="LFC/HFC pixel scaling: max, clip, raw."
    ),
    inclusive: bool = typer.Option(False, "--inclusive", help="Disk distance <= r (default < r)."),
    batch_norm: bool | None = typer.Option(
        None,
        "--batch-norm/--no-batch-norm",
        help="BatchNorm switch (default: from the checkpoint).",
    ),
    format_: list[str] = typer.Option(["png"], "--format", help="png, svg, pdf."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    cache_dir: str | None = typer.Option(
        None, "--cache-dir", help="LFC/HFC cache (default ~/.cache/hfc-toolkit)."
    ),
) -> None:
    """Find test images that the classifier gets right on the original and on the HFC but wrong
    on the LFC at --radius, and draw the first --count of them (original, LFC, HFC, each titled
    with the predicted class and its softmax confidence) to OUTPUT/examples.<fmt>; all such
    images are listed in OUTPUT/examples.csv."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy import or work
    from rich.console import Console

    from hfc_classify.data import PIXEL_MODES, default_cache_dir, load_split
    from hfc_classify.engine.evaluation import hfc_examples, resolve_device
    from hfc_classify.engine.loading import load_classifier
    from hfc_classify.plots import class_names, parse_formats, plot_examples
    from hfc_detect.frequency import check_radius
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import write_text_atomic

    check_radius(radius)
    if normalize not in PIXEL_MODES:
        raise InputError(f"--normalize must be one of {', '.join(PIXEL_MODES)}, got {normalize!r}")
    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    formats = parse_formats(format_)
    dev = resolve_device(device)
    images = load_split(data, "test")
    model = load_classifier(arch, checkpoint, images, batch_norm=batch_norm)
    found, versions = hfc_examples(
        model,
        images,
        radius,
        mode=normalize,
        inclusive=inclusive,
        device=dev,
        cache_dir=cache_dir or default_cache_dir(),
    )
    console = Console(stderr=True)
    names = class_names(model(images.tensor()[:1].to(dev)).shape[1], images.channels)
    lines = ["index,label,original_pred,original_conf,lfc_pred,lfc_conf,hfc_pred,hfc_conf"]
    for ex in found:
        preds = ",".join(
            f"{ex.predictions[v][0]},{ex.predictions[v][1]:.4f}" for v in ("original", "lfc", "hfc")
        )
        lines.append(f"{ex.index},{ex.label},{preds}")
    write_text_atomic(output / "examples.csv", "\n".join(lines) + "\n")
    console.print(f"{len(found)} of {len(images)} images: right on original and HFC, wrong on LFC")
    if found:
        for path in plot_examples(
            found[:count],
            versions,
            output / "examples",
            radius=radius,
            names=names,
            formats=formats,
        ):
            console.print(f"wrote {path}")
