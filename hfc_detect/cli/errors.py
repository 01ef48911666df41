"""``hfc-detect errors``: TIDE's error breakdown per variant of a results folder."""

from __future__ import annotations

from pathlib import Path

import typer


def errors_command(
    directory: Path = typer.Argument(..., metavar="DIR", help="A results folder (eval/compare)."),
) -> None:
    """Read a results folder (eval or compare; bbox) and its predictions files and write
    DIR/errors.csv (per variant: TIDE's AP50, the main errors Cls, Loc, Both, Dupe, Bkg, Miss
    and the special errors FalsePos, FalseNeg as delta AP50 in points, foreground IoU 0.5,
    background 0.1, and the count of each main error), DIR/errors_per_image.csv (the count of
    each main error per image and variant, read by wins) and DIR/errors.png. The numbers equal
    those of tidecv, TIDE's authors' package (tested); tidecv is not needed."""
    from hfc_detect.utils.files import check_output

    check_output(directory)  # before any heavy work
    from hfc_detect.analysis.errors import (
        MAIN_ERRORS,
        SPECIAL_ERRORS,
        folder_errors,
        write_errors,
    )
    from hfc_detect.results import load_comparison
    from hfc_detect.utils.cli import name_column
    from hfc_detect.utils.progress import progress_bar

    variants = load_comparison(directory).variant_names
    with progress_bar("TIDE errors", len(variants)) as advance:
        result = folder_errors(directory, advance=advance)
    paths = write_errors(directory, result)
    kinds = (*MAIN_ERRORS, *SPECIAL_ERRORS)
    width = name_column([v.variant for v in result.variants])
    typer.echo(f"{'variant':<{width}} {'AP50':>6} " + " ".join(f"{k:>8}" for k in kinds))
    for v in result.variants:
        values = [*v.main.values(), *v.special.values()]
        line = f"{v.variant:<{width}} {v.ap50:>6.2f} " + " ".join(f"{x:>8.2f}" for x in values)
        typer.echo(line)
    typer.echo("delta AP50 in points if that error were fixed (TIDE, IoU 0.5, background 0.1)")
    typer.echo(f"wrote {', '.join(str(p) for p in reversed(paths))}")
