"""``hfc-classify sweep``: run a YAML grid of training runs, skipping finished ones."""

from __future__ import annotations

from pathlib import Path

import typer


def sweep_command(
    config: Path = typer.Argument(
        ..., metavar="FILE", help="Sweep YAML, e.g. configs/classify/table1.yaml."
    ),
    output: Path = typer.Option(
        Path("runs"), "--output", "-o", metavar="DIR", help="Root folder of the runs."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a base setting, key=value (e.g. train_data=data/cifar10)."
    ),
    only: list[str] = typer.Option(
        [], "--only", help="Run only this run of the sweep (repeatable); default: all."
    ),
    launcher: str = typer.Option("local", "--launcher", help="local, gpus or slurm."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs and their state only."),
    slurm_partition: str | None = typer.Option(
        None, "--slurm-partition", help="slurm: partition (default: the cluster's)."
    ),
    slurm_timeout_min: int = typer.Option(
        24 * 60, "--slurm-timeout-min", help="slurm: time limit per run, in minutes."
    ),
    slurm_cpus: int = typer.Option(4, "--slurm-cpus", help="slurm: CPUs per run."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Expand the sweep file FILE (base settings, named runs, a grid) into training runs
    under DIR/NAME/RUN and run the unfinished ones: here one after another (local), one per
    GPU in parallel (gpus), or as a Slurm array through submitit (slurm). Finished runs are
    skipped; interrupted ones resume."""
    from hfc_detect.utils.files import check_output

    check_output(output)  # before any heavy import or work
    from rich.console import Console
    from rich.table import Table

    from hfc_classify.engine.run_folder import RunFolder
    from hfc_classify.sweep import load_sweep, parse_override, run_sweep, select_runs
    from hfc_detect.utils.cli import interruptible

    overrides = dict(parse_override(item) for item in set_)
    runs = select_runs(load_sweep(config, output, overrides), only)
    console = Console(stderr=True)
    if dry_run:
        table = Table(title=f"{config} ({len(runs)} runs)")
        table.add_column("run")
        table.add_column("folder")
        table.add_column("state")
        for run in runs:
            table.add_row(run.name, str(run.run_dir), RunFolder(run.run_dir).state())
        Console().print(table)
        return
    slurm = {"timeout_min": slurm_timeout_min, "cpus_per_task": slurm_cpus}
    if slurm_partition:
        slurm["slurm_partition"] = slurm_partition
    with interruptible(
        lambda: (
            f"{sum(RunFolder(r.run_dir).finished for r in runs)} of {len(runs)} runs are finished "
            f"under {output}; run the same command again to continue (finished runs are skipped, "
            "the interrupted one resumes from its last saved epoch)"
        )
    ):
        status = run_sweep(
            runs, launcher=launcher, progress=progress, log=console.print, slurm=slurm
        )
    counts = {s: list(status.values()).count(s) for s in sorted(set(status.values()))}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts.get("failed"):
        raise typer.Exit(1)
