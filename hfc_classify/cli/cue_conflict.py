"""``hfc-classify cue-conflict``: does a classifier follow low or high frequencies?"""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli import options
from hfc_classify.cli.app import app


@app.command(
    "cue-conflict",
    short_help="Hybrids LFC(k) + HFC(B): does the model follow the low or the high frequencies?",
    help="For image k, B is the first image after k (cyclically, data order) with another "
    "label; the hybrid is clip(LFC_r(k) + HFC_r(B), 0, 255) / 255 (per-channel split, disk "
    "distance < r). Writes DIR/cue_conflict.csv (radius, follows_low, follows_high, neither, as "
    "fractions of the images) and DIR/cue_conflict.png. Radii: repeat --radius or comma-separate.",
)
def cue_conflict_command(
    checkpoint: Path = options.CHECKPOINT,
    data: str = options.DATA,
    radius: list[str] = typer.Option(
        ..., "--radius", "-r", help="Radius; repeat or comma-separate."
    ),
    output: Path = options.OUTPUT,
    arch: str = options.ARCH,
    limit: int = options.LIMIT,
    batch_size: int = typer.Option(500, "--batch-size", help="Images per batch."),
    device: str = options.DEVICE,
) -> None:
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy work
    from hfc_classify.analysis.cue_conflict import cue_conflict, plot_cue_conflict, rows_to_csv
    from hfc_classify.analysis.inputs import load_inputs
    from hfc_classify.cli.evaluate import parse_radii
    from hfc_detect.utils.distributed import is_main_rank
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import write_text_atomic
    from hfc_detect.utils.progress import progress_bar

    radii = sorted(set(parse_radii(radius)))
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    model, images = load_inputs(arch, checkpoint, data, limit=limit, device=device)
    with progress_bar("cue conflict", len(images)) as advance:
        rows = cue_conflict(
            model, images.images, images.labels, radii, batch_size=batch_size, progress=advance
        )
    if not is_main_rank():  # ranks shared the work; rank 0 writes
        return
    write_text_atomic(output / "cue_conflict.csv", rows_to_csv(rows))
    plot_cue_conflict(
        output / "cue_conflict.png",
        rows,
        f"{arch} on {len(images)} images of {Path(images.source).name}",
    )
    for row in rows:
        typer.echo(
            f"r={row.radius:g}: follows low {row.follows_low:.3f}, high {row.follows_high:.3f}, "
            f"neither {row.neither:.3f}"
        )
    typer.echo(f"wrote {output}/cue_conflict.csv and cue_conflict.png")
