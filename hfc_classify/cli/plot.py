"""``hfc-classify plot``: accuracy curves (Fig. 3-6) and result tables (Table 1) of runs."""

from __future__ import annotations

from pathlib import Path

import typer


def plot_command(
    runs: list[Path] = typer.Argument(..., metavar="DIR", help="Run folders or sweep folders."),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="DIR", help="Folder for the figure and tables."
    ),
    format_: list[str] = typer.Option(["png", "svg"], "--format", help="png, svg, pdf."),
) -> None:
    """Read run folders (or sweep folders holding runs) and write into the --output folder
    curves.<fmt> (accuracy by epoch: train, test, LFC/HFC of training and test images per
    radius) and table.md + table.csv (final train/test accuracy per run, with what it trained
    on)."""
    from hfc_detect.utils.files import check_output

    check_output(output)
    from rich.console import Console

    from hfc_classify.plots import find_runs, parse_formats, plot_curves, results_table, write_table

    formats = parse_formats(format_)
    found = find_runs(runs)
    written = plot_curves(found, output / "curves", formats)
    written += write_table(results_table(found), output / "table")
    console = Console(stderr=True)
    for path in written:
        console.print(f"wrote {path}")
