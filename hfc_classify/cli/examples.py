"""``hfc-classify examples``: the paper's Fig. 2 for a trained classifier."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli import options


def examples_command(
    checkpoint: Path = options.CHECKPOINT,
    data: str = options.DATA,
    radius: float = typer.Option(12.0, "--radius", "-r", help="Split radius (paper: 12)."),
    output: Path = options.OUTPUT,
    arch: str = options.ARCH,
    count: int = typer.Option(8, "--count", help="Examples drawn (paper: 8)."),
    pixel_mode: str = options.PIXEL_MODE,
    normalize: str = options.NORMALIZE,
    inclusive: bool = typer.Option(False, "--inclusive", help="Disk distance <= r (default < r)."),
    batch_norm: bool | None = typer.Option(
        None,
        "--batch-norm/--no-batch-norm",
        help="BatchNorm switch (default: from the checkpoint).",
    ),
    format_: list[str] = typer.Option(["png"], "--format", help="png, svg, pdf."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    cache_dir: str | None = typer.Option(
        None, "--cache-dir", metavar="DIR", help="LFC/HFC cache (default ~/.cache/hfc-toolkit)."
    ),
) -> None:
    """Find test images that the classifier gets right on the original and on the HFC but wrong
    on the LFC at --radius, and draw the first --count of them (original, LFC, HFC, each titled
    with the predicted class and its softmax confidence) to DIR/examples.<fmt>; all such
    images are listed in DIR/examples.csv."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy import or work
    from rich.console import Console

    from hfc_classify.data import default_cache_dir, load_split
    from hfc_classify.engine.evaluation import hfc_examples, resolve_device
    from hfc_classify.engine.loading import load_classifier
    from hfc_classify.plots import class_names, parse_formats, plot_examples
    from hfc_detect.frequency import check_radius
    from hfc_detect.frequency.variant import KINDS
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import write_text_atomic

    check_radius(radius)
    mode = options.resolve_pixel_mode(pixel_mode, normalize)
    arch = options.resolve_arch(arch, checkpoint)
    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    formats = parse_formats(format_)
    dev = resolve_device(device)
    images = load_split(data, "test", option="--data")
    model = load_classifier(arch, checkpoint, images, batch_norm=batch_norm)
    found, versions = hfc_examples(
        model,
        images,
        radius,
        mode=mode,
        inclusive=inclusive,
        device=dev,
        cache_dir=cache_dir or default_cache_dir(),
    )
    console = Console(stderr=True)
    names = class_names(model(images.tensor()[:1].to(dev)).shape[1], images.channels)
    lines = ["index,label,original_pred,original_conf,lfc_pred,lfc_conf,hfc_pred,hfc_conf"]
    for ex in found:
        preds = ",".join(f"{ex.predictions[v][0]},{ex.predictions[v][1]:.4f}" for v in KINDS)
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
