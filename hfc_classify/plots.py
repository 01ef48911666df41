"""Figures and tables from finished (or running) training runs.

- :func:`plot_curves`: the paper's Fig. 3-6 style: one column per run; the top row shows train
  and test accuracy with the accuracy on the LFC (solid) and HFC (dotted) of *training* images
  at each tracked radius, the bottom row the same on *test* images.
- :func:`results_table`: Table 1 style: per run its training input (original/LFC/HFC and
  radius) and its final train and test accuracy, as Markdown and CSV.
- :func:`plot_examples`: the paper's Fig. 2: original, LFC and HFC of images with the predicted
  class and its confidence.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfc_classify.engine.run_folder import METRICS, RunFolder
from hfc_detect.frequency.variant import KINDS, Variant
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_path, write_text_atomic

FIGURE_FORMATS = ("png", "svg", "pdf")
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclass(frozen=True)
class RunResult:
    """A run folder's settings and per-epoch metrics (numbers as floats)."""

    name: str
    path: Path
    config: dict
    metrics: list[dict[str, float]]

    def tracked(self, split: str, variant: str) -> dict[float, list[float]]:
        """``{radius: accuracies by epoch}`` of the tracked ``split``/``variant`` columns
        (``<split>_<variant name>``, e.g. ``train_lfc_r4``)."""
        out: dict[float, list[float]] = {}
        for key in self.metrics[0]:
            prefix, _, name = key.partition("_")
            spec = Variant.parse_or_none(name)
            if prefix == split and spec is not None and spec.kind == variant:
                out[spec.radius] = [row[key] for row in self.metrics]
        return dict(sorted(out.items()))


def load_run(path: str | Path) -> RunResult:
    """Read the settings and metrics of a run folder."""
    folder = RunFolder(path)
    return RunResult(folder.path.name, folder.path, folder.read_config(), folder.read_metrics())


def find_runs(paths: Sequence[str | Path]) -> list[RunResult]:
    """Runs named directly, or every run folder one level below a given folder (a sweep)."""
    runs = []
    for p in map(Path, paths):
        if RunFolder(p).has_metrics:
            runs.append(load_run(p))
        elif p.is_dir():
            found = sorted(q for q in p.iterdir() if RunFolder(q).has_metrics)
            if not found:
                raise InputError(f"{p}: no run folders (with {METRICS}) in it")
            runs.extend(load_run(q) for q in found)
        else:
            raise InputError(f"{p}: run folder not found")
    return runs


def parse_formats(values: Sequence[str]) -> list[str]:
    """Figure formats from repeated and/or comma-separated option values (``--format png,svg``);
    an unknown one raises :class:`InputError`, so a command can check before writing anything."""
    formats = [p.strip() for v in values for p in v.split(",") if p.strip()]
    for fmt in formats:
        if fmt not in FIGURE_FORMATS:
            raise InputError(
                f"figure format must be one of {', '.join(FIGURE_FORMATS)}, got {fmt!r}"
            )
    return formats


def _save(fig, out: Path, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in parse_formats(formats):
        target = out.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        written.append(target)
    return written


#: Up to this many epochs every point is marked: a run of one or a few epochs shows its points
#: (a line through one point draws nothing) on whole-number epoch ticks.
FEW_EPOCHS = 30


def curves_figure(runs: Sequence[RunResult]) -> Any:
    """The matplotlib figure of :func:`plot_curves`: a column per run, training images' LFC/HFC
    accuracies on top, test images' below."""
    from matplotlib.ticker import MaxNLocator

    from hfc_detect.utils.figures import pyplot

    plt = pyplot()
    if not runs:
        raise InputError("no runs to plot")
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 7), squeeze=False, sharey=True)
    colors = plt.get_cmap("viridis")
    for col, run in enumerate(runs):
        epochs = [row["epoch"] for row in run.metrics]
        marker = "o" if len(epochs) <= FEW_EPOCHS else ""
        for row_i, split in enumerate(("train", "test")):
            ax = axes[row_i][col]
            ax.plot(epochs, [r["train_acc"] for r in run.metrics], f"k-{marker}", label="train",
                    markersize=4)  # fmt: skip
            ax.plot(epochs, [r["test_acc"] for r in run.metrics], f"k--{marker}", label="test",
                    markersize=4)  # fmt: skip
            lfc, hfc = run.tracked(split, "lfc"), run.tracked(split, "hfc")
            for i, radius in enumerate(lfc):
                color = colors(i / max(1, len(lfc) - 1) * 0.85)
                ax.plot(epochs, lfc[radius], f"-{marker}", color=color, label=f"LFC r={radius:g}",
                        markersize=3)  # fmt: skip
                if radius in hfc:
                    ax.plot(epochs, hfc[radius], f":{marker}", color=color, markersize=3,
                            label=f"HFC r={radius:g}")  # fmt: skip
            ax.set_ylim(0, 1)
            if len(epochs) <= FEW_EPOCHS:
                ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.grid(alpha=0.3)
            if row_i == 0:
                ax.set_title(run.name, fontsize=10)
            else:
                ax.set_xlabel("epoch")
            if col == 0:
                ax.set_ylabel(f"accuracy (LFC/HFC of {split} images)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(len(labels), 5),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.04),
    )
    fig.tight_layout()
    return fig


def plot_curves(
    runs: Sequence[RunResult], out: str | Path, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Fig. 3-6 style accuracy curves of ``runs``; writes ``out.<fmt>`` and returns the paths."""
    from hfc_detect.utils.figures import pyplot

    fig = curves_figure(runs)
    written = _save(fig, Path(out), formats)
    pyplot().close(fig)
    return written


TABLE_COLUMNS = ("run", "train_on", "radius", "epochs", "train_acc", "test_acc", "best_test_acc")


def results_table(runs: Sequence[RunResult]) -> list[dict[str, str]]:
    """Table 1 style rows: each run's training input and its final/best accuracies."""
    rows = []
    for run in runs:
        last = run.metrics[-1]
        train_on = run.config.get("train_on", "original")
        radius = run.config.get("train_radius")
        rows.append(
            {
                "run": run.name,
                "train_on": train_on,
                "radius": "" if train_on == "original" or radius is None else f"{radius:g}",
                "epochs": f"{int(last['epoch'])}",
                "train_acc": f"{last['train_acc']:.4f}",
                "test_acc": f"{last['test_acc']:.4f}",
                "best_test_acc": f"{max(r['test_acc'] for r in run.metrics):.4f}",
            }
        )
    return rows


def write_table(rows: list[dict[str, str]], out: str | Path) -> list[Path]:
    """Write ``out.md`` (Markdown) and ``out.csv``; returns both paths."""
    out = Path(out)
    md = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    md += ["| " + " | ".join(row[c] for c in TABLE_COLUMNS) + " |" for row in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return [
        write_text_atomic(out.with_suffix(".md"), "\n".join(md) + "\n"),
        write_text_atomic(out.with_suffix(".csv"), buf.getvalue()),
    ]


def class_names(num_classes: int, channels: int) -> list[str]:
    """CIFAR-10's names for 10-class colour data, else the class indices."""
    if num_classes == 10 and channels == 3:
        return list(CIFAR10_CLASSES)
    return [str(i) for i in range(num_classes)]


def plot_examples(
    examples: Sequence,
    versions: dict,
    out: str | Path,
    *,
    radius: float,
    names: Sequence[str],
    formats: Sequence[str] = ("png",),
    columns: int = 2,
) -> list[Path]:
    """Fig. 2: a panel per example with its original, LFC and HFC (clipped to [0, 1] for
    display) titled with the predicted class and confidence; writes ``out.<fmt>``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not examples:
        raise InputError("no examples to draw")
    rows = -(-len(examples) // columns)
    fig, axes = plt.subplots(
        rows, 3 * columns, figsize=(2.0 * 3 * columns, 2.3 * rows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for k, ex in enumerate(examples):
        r, c0 = divmod(k, columns)
        for j, version in enumerate(KINDS):
            ax = axes[r][c0 * 3 + j]
            img = versions[version][ex.index].clamp(0, 1).permute(1, 2, 0).numpy()
            ax.imshow(
                img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", interpolation="nearest"
            )
            pred, conf = ex.predictions[version]
            right = pred == ex.label
            label = {"original": "", "lfc": f"LFC r={radius:g}\n", "hfc": f"HFC r={radius:g}\n"}
            ax.set_title(
                f"{label[version]}{names[pred]} {conf:.2f}",
                fontsize=8,
                color="green" if right else "red",
            )
    fig.suptitle(f"right on original and HFC, wrong on LFC (r={radius:g})", fontsize=10)
    fig.tight_layout()
    written = _save(fig, Path(out), formats)
    plt.close(fig)
    return written
