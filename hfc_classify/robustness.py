"""Table 2: clean and adversarial accuracy of a model whose first-layer kernels are smoothed
with several rho (Eq. 3), under FGSM and PGD at several eps.

Two ways to count an image as robust at ``eps`` (``mode``):

- ``"fixed"``: the model classifies the image correctly both clean and after one attack at
  exactly ``eps`` (torchattacks' FGSM/PGD; PGD defaults: 10 steps of 2.5 * eps / steps, no
  random start).
- ``"search"``: as the paper's foolbox v1 searches count it: the image is clean-correct and no
  eps' <= eps of a grid fools the model. FGSM tries eps' in steps of 1/1000 (foolbox's grid);
  PGD tries the table's eps values, success at any of its steps (defaults: 40 steps of eps/30,
  foolbox v1's). A search is never weaker than the fixed attack at the same eps.

``spectra`` of the table: the summed power spectrum of the perturbations ``x_adv - x`` of the
attack at exactly eps (with the mode's PGD steps), per (rho, attack, eps), over all images
(:mod:`hfc_classify.analysis.spectrum`); in search mode that attack is one extra run.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from hfc_classify.analysis.spectrum import SpectrumKey, plot_spectra, power_spectrum, spectra_csv
from hfc_classify.attacks import fgsm, fgsm_min_eps, foolbox_fgsm_grid, pgd, pgd_min_eps
from hfc_classify.smoothing import LAYERS, Layers, smooth_model
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_text_atomic
from hfc_detect.utils.torch_tools import eval_mode

ATTACKS = ("fgsm", "pgd")
MODES = ("fixed", "search")
Mode = Literal["fixed", "search"]
TABLE_CSV, TABLE_MD = "table2.csv", "table2.md"
SPECTRUM_CSV, SPECTRUM_PNG = "perturbation_spectrum.csv", "perturbation_spectrum.png"
#: PGD defaults per mode: steps, and the step size as a fraction of eps (None: 2.5 / steps).
PGD_DEFAULTS: dict[str, tuple[int, float | None]] = {"fixed": (10, None), "search": (40, 1 / 30)}


@dataclass(frozen=True)
class RobustnessConfig:
    """How Table 2 is measured: the smoothing strengths ``rhos`` (0: the model itself), the
    attacks and their L-infinity budgets ``epsilons`` (images on [0, 1]), the ``mode`` (module
    docstring), PGD's steps and absolute step size (None: the mode's defaults,
    :data:`PGD_DEFAULTS`), which convolutions are smoothed and whether rescaled
    (:func:`~hfc_classify.smoothing.smooth_model`), and the images per batch. Checked when
    made: :class:`InputError` with a one-line reason, naming the CLI's option."""

    rhos: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    attacks: tuple[str, ...] = ATTACKS
    epsilons: tuple[float, ...] = (0.03, 0.06, 0.09)
    mode: Mode = "fixed"
    pgd_steps: int | None = None
    pgd_alpha: float | None = None
    layers: Layers = "first"
    rescale: bool = False
    batch_size: int = 250

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "rhos", tuple(_check(self.rhos, "rho", positive=False)))
        set_(self, "epsilons", tuple(_check(self.epsilons, "eps", positive=True)))
        attacks = tuple(dict.fromkeys(a.lower() for a in self.attacks))
        unknown = [a for a in attacks if a not in ATTACKS]
        if unknown or not attacks:
            raise InputError(
                f"unknown attack {unknown[0] if unknown else '(none)'!r}; "
                f"choose from {', '.join(ATTACKS)}"
            )
        set_(self, "attacks", attacks)
        if self.mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.layers not in LAYERS:
            raise InputError(f"--layers must be one of {', '.join(LAYERS)}, got {self.layers!r}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {self.batch_size}")
        pgd_settings(self.mode, self.pgd_steps, self.pgd_alpha)

    @property
    def columns(self) -> list[tuple[str, float]]:
        """The table's (attack, eps) columns."""
        return [(a, e) for a in self.attacks for e in self.epsilons]


@dataclass(frozen=True)
class RobustnessRow:
    """Accuracies of one (smoothed) model: clean, and per ``(attack, eps)``."""

    rho: float
    clean: float
    attacked: dict[tuple[str, float], float]


@dataclass
class RobustnessTable:
    """Table 2 for one model: a row per rho; ``settings`` records how it was measured."""

    rows: list[RobustnessRow]
    attacks: list[str]
    epsilons: list[float]
    n_images: int
    settings: dict[str, object] = field(default_factory=dict)
    spectra: dict[SpectrumKey, np.ndarray] = field(default_factory=dict)

    @property
    def columns(self) -> list[tuple[str, float]]:
        return [(a, e) for a in self.attacks for e in self.epsilons]

    def to_csv(self) -> str:
        """One row per rho: ``rho, clean, fgsm@0.03, ...``; accuracies as fractions."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["rho", "clean", *(f"{a}@{e:g}" for a, e in self.columns)])
        for row in self.rows:
            values = [row.clean, *(row.attacked[c] for c in self.columns)]
            writer.writerow([f"{row.rho:g}", *(f"{v:.4f}" for v in values)])
        return buf.getvalue()

    def to_markdown(self, title: str = "") -> str:
        """A Markdown table shaped like the paper's Table 2, best value per column in bold."""
        header = ["rho", "clean", *(f"{a.upper()} eps={e:g}" for a, e in self.columns)]
        keys: list[str | tuple[str, float]] = ["clean", *self.columns]
        best = {k: max(self._value(r, k) for r in self.rows) for k in keys}
        lines = [f"### {title}", ""] if title else []
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            cells = [f"{row.rho:g}"]
            for k in keys:
                v = self._value(row, k)
                cells.append(f"**{v:.3f}**" if v == best[k] else f"{v:.3f}")
            lines.append("| " + " | ".join(cells) + " |")
        notes = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        lines += ["", f"{self.n_images} images; {notes}"]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _value(row: RobustnessRow, key: str | tuple[str, float]) -> float:
        return row.clean if key == "clean" else row.attacked[key]  # type: ignore[index]


def _check(values: Sequence[float], name: str, *, positive: bool) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise InputError(f"give at least one {name}")
    bad = [v for v in out if not math.isfinite(v) or v < 0 or (positive and v == 0)]
    if bad:
        raise InputError(f"{name} must be {'> 0' if positive else '>= 0'}, got {bad[0]:g}")
    return out


def pgd_settings(mode: Mode, steps: int | None, alpha: float | None) -> tuple[int, str]:
    """The PGD steps and a description of its step size for ``mode`` (defaults filled in)."""
    default_steps, rel = PGD_DEFAULTS[mode]
    steps = default_steps if steps is None else steps
    if steps < 1:
        raise InputError(f"--pgd-steps must be >= 1, got {steps}")
    if alpha is not None:
        if alpha <= 0:
            raise InputError(f"--pgd-alpha must be > 0, got {alpha:g}")
        return steps, f"{alpha:g}"
    return steps, f"eps*{rel:.4g}" if rel is not None else f"2.5*eps/{steps}"


def _pgd_alpha(mode: Mode, steps: int, alpha: float | None, eps: float) -> float:
    if alpha is not None:
        return alpha
    rel = PGD_DEFAULTS[mode][1]
    return eps * (rel if rel is not None else 2.5 / steps)


def evaluate_robustness(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: RobustnessConfig = RobustnessConfig(),
    *,
    progress: Callable[[int], None] | None = None,
) -> RobustnessTable:
    """Table 2 for ``model`` on ``images`` (N, C, H, W) in [0, 1] as ``config`` says: for each
    rho a smoothed copy (``rho = 0`` is the model itself), its clean accuracy and its accuracy
    under each attack and eps. ``progress(k)`` is called after each batch with the number of
    images done (``len(rhos) * N`` in all). The given model is not changed. Under
    torch.distributed the ranks share the batches and every rank returns the one-process table
    (counts summed, spectra added in batch order)."""
    if images.ndim != 4 or labels.shape != (images.shape[0],) or images.shape[0] == 0:
        raise InputError(
            f"need images (N, C, H, W) and labels (N,) with N > 0, got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}"
        )
    n = images.shape[0]
    steps, alpha_text = pgd_settings(config.mode, config.pgd_steps, config.pgd_alpha)
    columns = config.columns
    rows = []
    spectra: dict[SpectrumKey, np.ndarray] = {}
    for rho in config.rhos:
        net = (
            smooth_model(model, rho, layers=config.layers, rescale=config.rescale) if rho else model
        )
        correct = {key: 0 for key in ["clean", *columns]}
        batch_power: dict[int, dict[tuple[str, float], torch.Tensor]] = {}
        size = config.batch_size
        for start in dist.shard(range(0, n, size)):
            x, y = images[start : start + size], labels[start : start + size]
            batch_power[start] = {}
            hits = _batch_hits(net, x, y, config, steps, batch_power[start])
            batch_power[start] = {k: p.cpu() for k, p in batch_power[start].items()}
            for key, count in hits:
                correct[key] += count
            if progress is not None:
                progress(x.shape[0])
        correct = dict(zip(correct, dist.sum_over_ranks(np.array(list(correct.values()))),
                           strict=True))  # fmt: skip
        power = _sum_in_batch_order(dist.gather(batch_power))
        rows.append(RobustnessRow(rho, correct["clean"] / n, {c: correct[c] / n for c in columns}))
        spectra.update({(rho, a, e): p.numpy() for (a, e), p in power.items()})
    settings: dict[str, object] = {
        "mode": config.mode,
        "layers": config.layers,
        "rescale": config.rescale,
    }
    if "pgd" in config.attacks:
        settings.update(pgd_steps=steps, pgd_alpha=alpha_text)
    if config.mode == "search" and "fgsm" in config.attacks:
        settings["fgsm_grid"] = "1/1000"
    return RobustnessTable(rows, list(config.attacks), list(config.epsilons), n, settings, spectra)


def write_robustness(output: str | Path, table: RobustnessTable, title: str) -> list[Path]:
    """Write ``table2.csv``, ``table2.md``, ``perturbation_spectrum.csv`` and its figure
    ``perturbation_spectrum.png`` into ``output``, each atomically; return their paths."""
    output = Path(output)
    paths = [output / name for name in (TABLE_CSV, TABLE_MD, SPECTRUM_CSV, SPECTRUM_PNG)]
    write_text_atomic(paths[0], table.to_csv())
    write_text_atomic(paths[1], table.to_markdown(title))
    write_text_atomic(paths[2], spectra_csv(table.spectra))
    plot_spectra(paths[3], table.spectra, f"perturbations: {title}")
    return paths


def _sum_in_batch_order(
    per_rank: list[dict[int, dict[tuple[str, float], torch.Tensor]]],
) -> dict[tuple[str, float], torch.Tensor]:
    """The batches' power spectra summed in batch order, as one process adds them."""
    batches = {start: power for part in per_rank for start, power in part.items()}
    total: dict[tuple[str, float], torch.Tensor] = {}
    for start in sorted(batches):
        for key, power in batches[start].items():
            total[key] = total.get(key, 0) + power
    return total


def _batch_hits(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: RobustnessConfig,
    steps: int,
    power: dict[tuple[str, float], torch.Tensor],
) -> list[tuple[str | tuple[str, float], int]]:
    """Numbers of robust images in one batch: clean and per (attack, eps); adds the power
    spectra of the fixed-eps perturbations to ``power``."""
    attacks, epsilons, mode, alpha = config.attacks, config.epsilons, config.mode, config.pgd_alpha
    device = next(iter(net.parameters())).device
    x, y = x.to(device), y.to(device)
    with eval_mode(net):
        with torch.no_grad():
            clean_ok = net(x).argmax(1) == y
        hits: list[tuple[str | tuple[str, float], int]] = [("clean", int(clean_ok.sum()))]
        if mode == "search":
            for attack in attacks:
                if attack == "fgsm":
                    min_eps = fgsm_min_eps(net, x, y, foolbox_fgsm_grid(max(epsilons)))
                else:
                    rel = None if alpha is not None else PGD_DEFAULTS["search"][1]
                    min_eps = pgd_min_eps(
                        net, x, y, epsilons, steps=steps, alpha=alpha, rel_alpha=rel
                    )
                # Grid values are compared with a tolerance: 0.03 from the grid is 30 * 0.001.
                hits += [((attack, e), int((min_eps > e + 1e-9).sum())) for e in epsilons]
        for attack in attacks:
            for eps in epsilons:
                if attack == "fgsm":
                    x_adv = fgsm(net, x, y, eps)
                else:
                    x_adv = pgd(net, x, y, eps, _pgd_alpha(mode, steps, alpha, eps), steps)
                spectrum = power_spectrum(x_adv.detach() - x)
                power[(attack, eps)] = power.get((attack, eps), 0) + spectrum
                if mode == "fixed":
                    with torch.no_grad():
                        ok = clean_ok & (net(x_adv).argmax(1) == y)
                    hits.append(((attack, eps), int(ok.sum())))
        return hits
