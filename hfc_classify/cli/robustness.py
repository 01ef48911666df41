"""``hfc-classify robustness``: the paper's Table 2 (FGSM/PGD accuracy vs kernel smoothing)."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli.app import app
from hfc_detect.utils.cli import parse_number_list, split_option_list


@app.command(
    "robustness",
    short_help="Table 2: accuracy under FGSM/PGD vs first-layer kernel smoothing.",
    help="Table 2 of the paper: smooth the first-layer kernels of a trained classifier with "
    "each --rho (Eq. 3; 0 = unchanged), then measure clean accuracy and accuracy under FGSM and "
    "PGD (L-infinity, pixels in [0, 1]) at each --eps. Writes DIR/table2.csv and "
    "DIR/table2.md (atomically) and prints the table; DIR/perturbation_spectrum.csv (per rho, "
    "attack and eps the share of the perturbations' energy outside each radius r) and its "
    "radial-profile figure DIR/perturbation_spectrum.png. Lists take repeated options or commas: "
    "--rho 0,0.1,0.25,0.5,1 --eps 0.03,0.06,0.09. --mode fixed attacks at exactly eps "
    "(PGD: 10 steps of 2.5*eps/steps); --mode search counts an image as fooled when any eps' "
    "<= eps fools it, as the paper's foolbox v1 searches do (FGSM grid 1/1000; PGD 40 steps of "
    "eps/30, success at any step). An image is robust only if classified correctly both clean "
    "and attacked. Exit code 2 on bad arguments.",
)
def robustness_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="Trained weights (.th/.pt)."),
    data: str = typer.Option(
        ...,
        "--data",
        "-d",
        help="Test images: an .npz (images, labels), a CIFAR-10 folder, mnist:ROOT, "
        "fashion-mnist:ROOT.",
    ),
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write to."),
    arch: str = typer.Option("resnet20", "--arch", "-a", help="Registered architecture."),
    rho: list[str] = typer.Option(
        ["0,0.1,0.25,0.5,1.0"], "--rho", help="Smoothing strengths (>= 0)."
    ),
    attack: list[str] = typer.Option(["fgsm,pgd"], "--attack", help="fgsm and/or pgd."),
    eps: list[str] = typer.Option(["0.03,0.06,0.09"], "--eps", help="L-inf budgets (> 0)."),
    mode: str = typer.Option("fixed", "--mode", help="fixed or search (see above)."),
    pgd_steps: int = typer.Option(
        None, "--pgd-steps", help="PGD steps [default: 10 fixed, 40 search].", show_default=False
    ),
    pgd_alpha: float = typer.Option(
        None,
        "--pgd-alpha",
        help="Absolute PGD step for every eps [default: 2.5*eps/steps fixed, eps/30 search].",
        show_default=False,
    ),
    layers: str = typer.Option("first", "--layers", help="Smooth the 'first' or 'all' convs."),
    rescale: bool = typer.Option(
        False,
        "--rescale",
        help="Divide smoothed kernels by 1+8*rho (keeps a following BatchNorm's statistics "
        "valid; Eq. 3 as printed does not).",
    ),
    limit: int = typer.Option(
        None, "--limit", help="Use the first N images only.", show_default=False
    ),
    batch_size: int = typer.Option(250, "--batch-size", help="Images per batch."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
) -> None:
    """Table 2: accuracy under FGSM/PGD for several kernel-smoothing strengths."""
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import check_output

    check_output(output)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")
    if mode not in ("fixed", "search"):
        raise InputError(f"--mode must be fixed or search, got {mode!r}")
    if layers not in ("first", "all"):
        raise InputError(f"--layers must be first or all, got {layers!r}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    rhos, epsilons = parse_number_list(rho, "--rho"), parse_number_list(eps, "--eps")
    attacks = [name.lower() for name in split_option_list(attack)]

    import numpy as np
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from hfc_classify.analysis.spectrum import plot_spectra, spectra_csv
    from hfc_classify.data import load_split
    from hfc_classify.engine.evaluation import resolve_device
    from hfc_classify.engine.loading import load_classifier
    from hfc_classify.robustness import evaluate_robustness, pgd_settings
    from hfc_detect.utils.distributed import is_main_rank
    from hfc_detect.utils.files import write_text_atomic

    pgd_settings(mode, pgd_steps, pgd_alpha)  # validate before the slow part
    dev = resolve_device(device)
    images = load_split(data, "test")
    if limit is not None:
        images = images.subset(np.arange(min(limit, len(images))))
    model = load_classifier(arch, checkpoint, images).to(dev)
    x, y = images.tensor(), torch.from_numpy(images.labels)

    err = Console(stderr=True)
    columns = [
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"{arch} rho x images", total=len(rhos) * len(y))
        table = evaluate_robustness(
            model,
            x,
            y,
            rhos=rhos,
            attacks=attacks,
            epsilons=epsilons,
            mode=mode,
            pgd_steps=pgd_steps,
            pgd_alpha=pgd_alpha,
            layers=layers,
            rescale=rescale,
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
        )
    if not is_main_rank():  # ranks shared the work; rank 0 writes
        return
    title = f"{arch} ({checkpoint.name}) on {images.source}"
    write_text_atomic(output / "table2.csv", table.to_csv())
    write_text_atomic(output / "table2.md", table.to_markdown(title))
    write_text_atomic(output / "perturbation_spectrum.csv", spectra_csv(table.spectra))
    plot_spectra(output / "perturbation_spectrum.png", table.spectra, f"perturbations: {title}")

    shown = Table(title=title, caption=", ".join(f"{k}={v}" for k, v in table.settings.items()))
    shown.add_column("rho", justify="right")
    shown.add_column("clean", justify="right")
    for name, e in table.columns:
        shown.add_column(f"{name.upper()} {e:g}", justify="right")
    for row in table.rows:
        shown.add_row(
            f"{row.rho:g}", f"{row.clean:.3f}", *(f"{row.attacked[c]:.3f}" for c in table.columns)
        )
    Console().print(shown)
    typer.echo(
        f"wrote {output}/table2.csv, table2.md, perturbation_spectrum.csv and .png "
        f"({table.n_images} images)"
    )
