"""``hfc-classify heatmap``: Yin et al.'s Fourier heat map of a trained classifier."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hfc_classify.cli import options
from hfc_classify.cli.app import app


@app.command(
    "heatmap",
    short_help="Fourier heat map: error rate under each Fourier basis perturbation.",
    help="Yin et al.'s Fourier heat map: for every frequency (u, v) of the centred H x W "
    "spectrum add eps * s * U to each image (U: the real Fourier basis of (u, v) and its "
    "Hermitian partner, unit L2 norm, on every channel; images in [0, 1], clipped) and record "
    "the error rate. --sign random (default) draws s = +-1 per image and channel from --seed; "
    "positive uses s = +1. Half the plane is computed (a basis equals its partner's), many "
    "bases per forward pass. Writes DIR/heatmap.npy (H, W error rates, zero frequency at "
    "(H//2, W//2)), DIR/heatmap.png and DIR/heatmap.json (settings, clean error, time). "
    "The plan's size is printed first (--dry-run: only that); under torchrun the ranks share "
    "the passes and rank 0 writes.",
)
def heatmap_command(
    checkpoint: Path = options.CHECKPOINT,
    data: str = options.DATA,
    output: Path = options.OUTPUT,
    arch: str = options.ARCH,
    eps: float = typer.Option(4.0, "--eps", help="L2 norm of the perturbation (images in [0, 1])."),
    sign: str = typer.Option(
        "random", "--sign", help="random (+-1 per image and channel) or positive."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random signs."),
    limit: int = options.LIMIT,
    batch_size: int = typer.Option(
        256, "--batch-size", help="Perturbed images per forward pass (GPU: thousands)."
    ),
    device: str = options.DEVICE,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (cells, images, forward passes) and exit."
    ),
) -> None:
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy work
    import numpy as np
    import torch

    from hfc_classify.analysis.heatmap import (
        HeatmapConfig,
        centred_frequencies,
        describe_heatmap,
        fourier_heatmap,
        images_on_this_rank,
    )
    from hfc_classify.analysis.inputs import load_inputs
    from hfc_classify.engine.evaluation import accuracy
    from hfc_detect.utils.distributed import is_main_rank
    from hfc_detect.utils.figures import centred_extent, plot_heatmaps
    from hfc_detect.utils.files import atomic_path, write_json_atomic
    from hfc_detect.utils.progress import progress_bar

    config = HeatmapConfig(eps=eps, sign=sign, seed=seed, batch_size=batch_size)
    model, images = load_inputs(arch, checkpoint, data, limit=limit, device=device)
    x, y = images.tensor(), torch.from_numpy(images.labels)
    height, width = x.shape[-2:]
    bases = len(centred_frequencies(height, width)[0])
    if is_main_rank():
        typer.echo(describe_heatmap(height, width, len(y), config))
    if dry_run:
        return
    start = time.perf_counter()
    mine = bases * images_on_this_rank(len(y), config)
    with progress_bar(f"heat map, {bases} bases", mine) as advance:
        errors = fourier_heatmap(model, x, y, config, progress=advance)
    seconds = time.perf_counter() - start
    if not is_main_rank():  # ranks shared the work; rank 0 writes
        return
    clean_error = 1 - accuracy(model, x, y)
    with atomic_path(output / "heatmap.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, errors)
    title = (f"{arch} on {len(y)} images of {Path(images.source).name}: eps {eps:g}, sign {sign}; "
             f"clean error {clean_error:.3f}")  # fmt: skip
    plot_heatmaps(
        output / "heatmap.png",
        [("error rate under the Fourier basis", errors, "error rate")],
        centred_extent(height, width),
        xlabel="horizontal frequency v - W//2",
        ylabel="vertical frequency u - H//2",
        title=title,
    )
    settings = {"arch": arch, "checkpoint": str(checkpoint), "data": images.source,
                "images": len(y), "eps": eps, "sign": sign, "seed": seed, "bases": bases,
                "clean_error": clean_error, "max_error": float(errors.max()),
                "seconds": round(seconds, 2), "device": str(next(model.parameters()).device),
                "torch_threads": torch.get_num_threads()}  # fmt: skip
    write_json_atomic(output / "heatmap.json", settings)
    typer.echo(
        f"wrote {output}/heatmap.npy, heatmap.png, heatmap.json ({bases} bases x {len(y)} "
        f"images in {seconds:.1f} s; clean error {clean_error:.3f}, max {errors.max():.3f})"
    )
