"""``hfc-detect curve``: AP against radius (and per band) from an eval folder run with several
radii or bands."""

from __future__ import annotations

from pathlib import Path

import typer


def curve_command(
    directory: Path = typer.Argument(..., metavar="DIR", help="An hfc-detect eval folder."),
    resamples: int = typer.Option(10_000, "--resamples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        metavar="DIR",
        help="Folder to write the curve files to. [default: DIR, the eval folder]",
        show_default=False,
    ),
) -> None:
    """Read an eval folder run with several radii (eval --radius-sweep N, or --radius repeated)
    and/or bands (--band-sweep N, --band) and write DIR/curve.csv (per kind and radius: AP,
    AP50, AP75, APs, APm, APl and the paired-bootstrap 95% CI of the mean per-image AP
    difference against the original; bands last, with their inner radius),
    DIR/curve_per_category.csv (AP per category and radius) and DIR/curve.png (AP against
    radius for LFC and HFC, each band as a segment over its radii, the original as a horizontal
    line, one panel per object size, and the per-image difference with its CI). Nothing is
    recomputed from images."""
    from hfc_detect.results import check_comparison_folder
    from hfc_detect.utils.files import check_output

    output = check_output(output or check_comparison_folder(directory))  # before heavy work
    from hfc_detect.analysis.curve import load_curve, write_curve

    curve = load_curve(directory, resamples=resamples, seed=seed)
    write_curve(output, curve, f"AP against radius: {directory.resolve().name}")
    radii = [f"{p.radius:g}" if p.inner is None else f"{p.inner:g}-{p.radius:g}"
             for p in curve.points]  # fmt: skip
    width = max(8, *map(len, radii))  # a band on a 4K image: 1101.5-2202.9
    typer.echo(f"{'':>4} {'radius':>{width}} {'AP':>7} {'dAP mean':>9}  95% CI")
    for p, radius in zip(curve.points, radii, strict=True):
        d = p.delta
        typer.echo(f"{p.kind:>4} {radius:>{width}} {p.stats['AP']:>7.4f} {d.mean:>9.4f}  "
                   f"[{d.low:.4f}, {d.high:.4f}]")  # fmt: skip
    typer.echo(f"original AP {curve.original['AP']:.4f}")
    typer.echo(f"wrote {output}/curve.csv, curve_per_category.csv, curve.png")
