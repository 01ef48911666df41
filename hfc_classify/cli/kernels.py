"""``hfc-classify kernels``: the paper's Fig. 7, first-layer kernels as images."""

from __future__ import annotations

from pathlib import Path

import typer

from hfc_classify.cli import options
from hfc_detect.utils.cli import parse_number_list


def kernels_command(
    checkpoint: list[Path] = typer.Option(
        ...,
        "--checkpoint",
        "-c",
        metavar="FILE",
        help="Trained weights; repeat for several models.",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="FILE", help="Figure file (.png, .pdf or .svg)."
    ),
    arch: list[str] = typer.Option(
        None,
        "--arch",
        "-a",
        help="Architecture: one for all, or one per checkpoint. [default: the one each "
        f"checkpoint of hfc-classify train records, else {options.DEFAULT_ARCH}]",
        show_default=False,
    ),
    label: list[str] = typer.Option(
        None,
        "--label",
        "-l",
        help="Panel label per checkpoint [default: file name].",
        show_default=False,
    ),
    rho: list[str] = typer.Option(
        None,
        "--rho",
        help="Also draw each model smoothed with these rho (commas or repeats).",
        show_default=False,
    ),
    rescale: bool = typer.Option(
        False, "--rescale", help="Divide smoothed kernels by 1+8*rho (see robustness)."
    ),
) -> None:
    """Fig. 7 of the paper: draw the first-layer convolution kernels of one or more trained
    models (e.g. natural and adversarially trained) as a panel each, a row per input channel
    and a column per kernel (16 x 3 for the paper's ResNets), and with --rho also each model's
    kernels smoothed by Eq. 3. Each panel's label gives the kernels' high-frequency energy
    share. One --arch applies to all checkpoints, or give one per checkpoint. Writes FILE (.png,
    .pdf or .svg) atomically. Exit code 2 on bad arguments."""
    from hfc_detect.utils.errors import InputError
    from hfc_detect.utils.files import check_output

    check_output(output, folder=False)
    arch = list(arch or [])
    if len(arch) not in (0, 1, len(checkpoint)):
        raise InputError(
            f"give one --arch or one per checkpoint ({len(checkpoint)}), got {len(arch)}"
        )
    labels = list(label or [])
    if labels and len(labels) != len(checkpoint):
        raise InputError(f"give one --label per checkpoint ({len(checkpoint)}), got {len(labels)}")
    rhos = parse_number_list(rho or [], "--rho")
    if any(r < 0 for r in rhos):
        raise InputError(f"--rho must be >= 0, got {min(rhos):g}")
    if output.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"{output}: output must end in .png, .pdf or .svg")

    from hfc_classify.kernels_figure import first_layer_weight, plot_kernels
    from hfc_classify.smoothing import smooth_kernels

    given = arch * len(checkpoint) if len(arch) == 1 else arch or [None] * len(checkpoint)
    archs = [options.resolve_arch(a, path) for a, path in zip(given, checkpoint, strict=True)]
    suffix = " (rescaled)" if rescale else ""
    panels = []
    for i, (path, name) in enumerate(zip(checkpoint, archs, strict=True)):
        weight = first_layer_weight(name, path)
        tag = labels[i] if labels else f"{path.name} ({name})"
        panels.append((tag, weight))
        panels += [
            (f"{tag}, smoothed rho={r:g}{suffix}", smooth_kernels(weight, r, rescale=rescale))
            for r in rhos
        ]
    plot_kernels(panels, output, title="First-layer kernels (rows: input channels)")
    typer.echo(f"wrote {output} ({len(panels)} panels)")
