"""``hfc-classify robustness``: the paper's Table 2 (FGSM/PGD accuracy vs kernel smoothing)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hfc_classify.cli import options
from hfc_detect.utils.cli import parse_number_list, split_option_list

if TYPE_CHECKING:
    from hfc_classify.robustness import RobustnessTable


def robustness_command(
    checkpoint: Path = options.CHECKPOINT,
    data: str = options.DATA,
    output: Path = options.OUTPUT,
    arch: str = options.ARCH,
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
    limit: int = options.LIMIT,
    batch_size: int = typer.Option(250, "--batch-size", help="Images per batch."),
    device: str = options.DEVICE,
) -> None:
    """Table 2 of the paper: smooth the first-layer kernels of a trained classifier with each
    --rho (Eq. 3; 0 = unchanged), then measure clean accuracy and accuracy under FGSM and PGD
    (L-infinity, pixels in [0, 1]) at each --eps. Writes DIR/table2.csv and DIR/table2.md
    (atomically) and prints the table; DIR/perturbation_spectrum.csv (per rho, attack and eps
    the share of the perturbations' energy outside each radius r) and its radial-profile figure
    DIR/perturbation_spectrum.png. Lists take repeated options or commas: --rho
    0,0.1,0.25,0.5,1 --eps 0.03,0.06,0.09. --mode fixed attacks at exactly eps (PGD: 10 steps
    of 2.5*eps/steps); --mode search counts an image as fooled when any eps' <= eps fools it,
    as the paper's foolbox v1 searches do (FGSM grid 1/1000; PGD 40 steps of eps/30, success at
    any step). An image is robust only if classified correctly both clean and attacked. Exit
    code 2 on bad arguments."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy work
    import torch

    from hfc_classify.analysis.inputs import load_inputs
    from hfc_classify.robustness import RobustnessConfig, evaluate_robustness, write_robustness
    from hfc_detect.utils.cli import interruptible, start_over
    from hfc_detect.utils.distributed import is_main_rank
    from hfc_detect.utils.progress import progress_bar

    config = RobustnessConfig(
        rhos=tuple(parse_number_list(rho, "--rho")),
        attacks=tuple(split_option_list(attack)),
        epsilons=tuple(parse_number_list(eps, "--eps")),
        mode=mode,
        pgd_steps=pgd_steps,
        pgd_alpha=pgd_alpha,
        layers=layers,
        rescale=rescale,
        batch_size=batch_size,
    )  # checked before the slow part
    arch = options.resolve_arch(arch, checkpoint)
    model, images = load_inputs(arch, checkpoint, data, limit=limit, device=device)
    x, y = images.tensor(), torch.from_numpy(images.labels)
    with (
        interruptible(start_over(output)),
        progress_bar(f"{arch} rho x images", len(config.rhos) * len(y)) as advance,
    ):
        table = evaluate_robustness(model, x, y, config, progress=advance)
    if not is_main_rank():  # ranks shared the work; rank 0 writes
        return
    title = f"{arch} ({checkpoint.name}) on {images.source}"
    write_robustness(output, table, title)
    _print_table(table, title)
    typer.echo(
        f"wrote {output}/table2.csv, table2.md, perturbation_spectrum.csv and .png "
        f"({table.n_images} images)"
    )


def _print_table(table: RobustnessTable, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

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
