"""``hfc-detect decompose``: LFC/HFC pictures, arrays and figures of image files."""

from __future__ import annotations

from pathlib import Path

import typer


def decompose_command(
    images: list[Path] = typer.Argument(..., metavar="FILE", help="Image files (JPEG/PNG)."),
    radius: str = typer.Option(
        ..., "--radius", "-r", metavar="X", help="Disk radius in frequency bins, > 0."
    ),
    inclusive: bool = typer.Option(
        False, "--inclusive", help="Keep distance <= r (the paper) instead of < r (its code)."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="DIR", help="Folder to write to (created)."
    ),
    npy: bool = typer.Option(False, "--npy", help="Also write lossless float64 .npy arrays."),
    figure: bool = typer.Option(False, "--figure", help="Also write a four-panel figure PNG."),
) -> None:
    """Split each image FILE (JPEG/PNG; gray, RGB, RGBA, 8- or 16-bit) into its low- and
    high-frequency components with a centred disk of radius r (--radius) in the shifted
    spectrum, and write to DIR (--output): <stem>_r<r>_lfc.png (LFC rounded and clipped to the
    pixel range) and <stem>_r<r>_hfc.png (mid-grey + HFC: 128 + HFC in 8 bits, 32768 + HFC in
    16 bits, clipped), at the image's bit depth (alpha dropped); with --npy the exact float64
    arrays (H, W, 3) RGB or (H, W) gray; with --figure one panel original | LFC | HFC
    (stretched) | log-magnitude spectrum with the disk. With --inclusive names end in <r>i.
    Exit code 0 if all images were decomposed, 1 if some could not be read or written (each
    named on one line, the others are still written), 2 on bad arguments. Files are written
    atomically."""
    from rich.console import Console
    from rich.progress import Progress

    from hfc_detect.decompose import check_inputs, decompose_files
    from hfc_detect.frequency import check_radius

    r = check_radius(radius)
    check_inputs(images, output)

    err = Console(stderr=True)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("decomposing", total=len(set(images)))
        outcome = decompose_files(
            images,
            r,
            output,
            inclusive=inclusive,
            npy=npy,
            figure=figure,
            on_image=lambda _path: progress.advance(task),
        )
    for message in outcome.failed.values():
        typer.echo(f"error: {message}", err=True)
    done = len(outcome.written)
    typer.echo(f"decomposed {done} of {done + len(outcome.failed)} images into {output}")
    if outcome.failed:
        raise typer.Exit(code=1)
