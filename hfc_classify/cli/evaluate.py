"""``hfc-classify evaluate``: a trained classifier's accuracy on images and their LFC/HFC."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli import options
from hfc_detect.utils.cli import parse_number_list


def parse_radii(values: list[str], option: str = "--radius") -> list[float]:
    """Radii from repeated and/or comma-separated values; each must be a number > 0."""
    from hfc_detect.frequency import check_radius

    return [check_radius(r) for r in parse_number_list(values, option)]


def evaluate_command(
    checkpoint: Path = options.CHECKPOINT,
    data: str = options.DATA,
    radius: list[str] = options.RADII,
    band: list[str] = typer.Option(
        None,
        "--band",
        metavar="TEXT",
        help="R1:R2: also evaluate the frequency band R1 <= d < R2 (LFC(R2) - LFC(R1), same FFT, "
        "scaled as the HFC); repeat for more.",
    ),
    output: Path = options.OUTPUT,
    arch: str = options.ARCH,
    pixel_mode: str = options.PIXEL_MODE,
    normalize: str = options.NORMALIZE,
    inclusive: bool = typer.Option(False, "--inclusive", help="Disk distance <= r (default < r)."),
    batch_norm: bool | None = typer.Option(
        None,
        "--batch-norm/--no-batch-norm",
        help="BatchNorm switch (default: from the checkpoint).",
    ),
    split: str = typer.Option("test", "--split", help="Split of a CIFAR/MNIST data set."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    batch_size: int = typer.Option(1000, "--batch-size", help="Images per forward pass."),
    cache_dir: str | None = typer.Option(
        None, "--cache-dir", metavar="DIR", help="LFC/HFC cache (default ~/.cache/hfc-toolkit)."
    ),
) -> None:
    """Evaluate a trained classifier on the test split of --data, on its low- and
    high-frequency versions at each --radius and on each --band. Writes DIR/accuracy.csv
    (variant, radius, accuracy; radius empty for the original images; with bands a last column
    inner, a band's inner radius) and prints a table."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy import or work
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from hfc_classify.data import default_cache_dir, load_split
    from hfc_classify.engine.evaluation import evaluate_variants, resolve_device, rows_to_csv
    from hfc_classify.engine.loading import load_classifier
    from hfc_detect.frequency.trivial import radius_warnings
    from hfc_detect.frequency.variant import parse_band
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import write_text_atomic

    radii = parse_radii(radius)
    bands = [parse_band(b) for b in band or []]
    if len(set(bands)) < len(bands):
        raise InputError("a --band is given twice")
    mode = options.resolve_pixel_mode(pixel_mode, normalize)
    arch = options.resolve_arch(arch, checkpoint)
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    dev = resolve_device(device)
    console = Console(stderr=True)
    images = load_split(data, split, option="--data")
    height, width = images.images.shape[1:3]
    for line in radius_warnings(radii, [(width, height)], bands):
        console.print(f"[yellow]warning:[/] {line}", highlight=False)
    model = load_classifier(arch, checkpoint, images, batch_norm=batch_norm)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("evaluating", total=1 + len(radii) + len(bands))
        rows = evaluate_variants(
            model,
            images,
            radii,
            bands=bands,
            mode=mode,
            inclusive=inclusive,
            device=dev,
            batch_size=batch_size,
            cache_dir=cache_dir or default_cache_dir(),
            on_step=lambda _: bar.advance(task),
        )
    path = write_text_atomic(Path(output) / "accuracy.csv", rows_to_csv(rows))
    table = Table(title=f"{arch} on {images.source} ({len(images)} images)")
    for col in ("variant", "radius", "accuracy"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for row in rows:
        table.add_row(row.variant, row.radius_text, f"{row.accuracy:.4f}")
    Console().print(table)
    console.print(f"wrote {path}")
