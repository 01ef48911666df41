"""``hfc-detect spectrum``: where each variant of an eval run sits in the spectrum."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_detect.analysis.spectrum import DEFAULT_SAMPLE, DEFAULT_SEED


def spectrum_command(
    directory: Path = typer.Argument(..., metavar="DIR", help="An hfc-detect eval folder."),
    sample: int = typer.Option(
        DEFAULT_SAMPLE,
        "--sample",
        metavar="N",
        help="Images averaged: a seeded sample of the run's scored images (all where fewer).",
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the sample."),
) -> None:
    """Read an eval folder, make its variants again from a seeded sample of its images (at their
    original resolution, by eval's own variant maker) and write DIR/variant_spectrum.csv (per
    variant and radial bin [k, k+1) of the distance --radius measures: the variant's share of
    the original's spectral energy, averaged over the images, and how many images), its sample
    in DIR/variant_spectrum.json and the figure DIR/variant_spectrum.png. eval writes them at
    the end of a run; this command writes them again (another sample or seed)."""
    from hfc_detect.results import check_comparison_folder
    from hfc_detect.utils.files import check_output

    check_output(check_comparison_folder(directory))  # before any heavy work
    from hfc_detect.analysis.spectrum import folder_spectrum, sample_images
    from hfc_detect.results import load_comparison
    from hfc_detect.utils.cli import name_column
    from hfc_detect.utils.progress import progress_bar

    total = len(sample_images([r["image_id"] for r in load_comparison(directory).rows],
                              sample, seed))  # fmt: skip
    with progress_bar("spectrum", total) as advance:
        result, paths = folder_spectrum(directory, sample=sample, seed=seed, advance=advance)
    marks = [r for r in (4, 8, 16, 32, 64, 128, 256) if r < result.num_bins]
    typer.echo(f"share of the original's energy at radius ({len(result.image_ids)} images, "
               f"seed {seed})")  # fmt: skip
    width = name_column(list(result.shares)) + 1
    typer.echo(f"{'variant':<{width}}" + "".join(f"{f'r={r}':>9}" for r in marks))
    for name, share in result.shares.items():
        typer.echo(f"{name:<{width}}" + "".join(f"{share[r]:>9.3g}" for r in marks))
    typer.echo(f"wrote {', '.join(str(p) for p in reversed(paths))}")
