"""A detector's Fourier heat map: COCO AP when one Fourier basis image is added to every image.

Frequencies are in cycles per image, so that a cell means the same at every image size (and
the same as a split radius, which counts the same bins): the grid holds ``fy, fx = S k`` for
``k = -G//2, ..., G - G//2 - 1`` (``G = grid``, ``S = step``; zero at (G//2, G//2), the
centred layout of the classifier heat maps). A full-resolution map of a COCO image would have
640 x 480 cells; the step spreads a small grid over the spectrum instead (G 16, S 16: up to
128 cycles per image, the paper's r = 128 disk). For an H x W image the basis of (fy, fx) is
``cos(2 pi (fy y / H + fx x / W))`` scaled to unit L2 norm over the image
(:func:`hfc_detect.frequency.basis.fourier_basis`), then to ``eps`` on the 0..255 scale, added
to every channel, and the result clipped to 0..255 (the images stay images). Per frequency the
detector runs on every image, and the cell records the whole-set COCO AP and the mean per-image
AP difference against the unperturbed images (images without ground truth left out).

The L2 norm is per channel over the whole image, as Yin et al. define it, so the same ``eps`` is
a smaller per-pixel change on a larger image: the RMS change is ``eps / sqrt(H W)`` grey levels
(``eps`` 2000 on a 640 x 480 COCO image: 3.6, peak 5.1).

Cost: (fy, fx) and (-fy, -fx) are the same image, so one of each pair on the grid is run:
(G^2 + 1) / 2 frequencies for odd G, G^2 / 2 + G for even G (row and column -G/2 have their
partners off the grid), each on all N images, plus one clean pass: about N G^2 / 2 detector
runs on perturbed full-size images (:func:`heatmap_cost`), growing with the square of the grid
and linearly in the images.
Results are logged per frequency, so a killed run resumes where it stopped, with any number of
ranks. Under torchrun (or Detectron2's ``launch``) ranks share the clean pass by images and the
frequencies by chunks (:func:`detector_heatmap`); :mod:`hfc_detect.analysis.heatmap_job` plans,
runs and writes a whole ``hfc-detect heatmap``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.evaluation import GroundTruth, evaluate, load_predictions
from hfc_detect.frequency.basis import Frequency, fourier_bases, pair_representatives
from hfc_detect.modeling.base import Detector
from hfc_detect.pipeline.inputs import DecodedImages, EvalDataset
from hfc_detect.pipeline.predictions import detections_to_rows, rows_to_coco
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_text_atomic

LOG_NAME = "heatmap_progress.jsonl"


@dataclass(frozen=True)
class DetectorHeatmapConfig:
    """``grid``: frequencies per axis, ``step`` cycles per image apart (see the module
    docstring); ``eps``: L2
    norm of the basis image per channel on the 0..255 scale; ``batch_size``: perturbed copies of
    an image per detector call; ``limit``: the first N images (by id), None for all."""

    grid: int = 16
    step: int = 16
    eps: float = 2000.0
    batch_size: int = 8
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.grid < 1 or self.step < 1:
            raise InputError(f"--grid and --step must be >= 1, got {self.grid}, {self.step}")
        if not math.isfinite(self.eps) or self.eps < 0:
            raise InputError(f"--eps must be a finite number >= 0, got {self.eps:g}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1, got {self.limit}")


@dataclass(frozen=True)
class DetectorHeatmap:
    """(G, G) maps in centred layout (row fy, column fx, both ``frequencies``): whole-set AP
    and mean per-image AP difference; the unperturbed AP; images run and scored; detector
    runs of this call on each rank."""

    frequencies: np.ndarray
    ap: np.ndarray
    delta_ap: np.ndarray
    clean_ap: float
    num_images: int
    num_scored: int
    runs_per_rank: tuple[int, ...] = ()


def grid_axis(grid: int, step: int = 1) -> np.ndarray:
    """The frequencies along one axis of the grid: step * (-G//2, ..., G - G//2 - 1)."""
    return (np.arange(grid) - grid // 2) * step


def grid_frequencies(grid: int, step: int = 1) -> tuple[list[Frequency], np.ndarray]:
    """One (fy, fx) per {f, -f} pair on the grid, and the (G, G) map from each cell to it."""
    axis = grid_axis(grid, step).tolist()
    points = [(fy, fx) for fy in axis for fx in axis]
    reps, mapping = pair_representatives(points, lambda p: (-p[0], -p[1]))
    return reps, mapping.reshape(grid, grid)


def heatmap_cost(grid: int, images: int) -> int:
    """Detector runs for a heat map: every image, clean and at each computed frequency."""
    return images * (len(grid_frequencies(grid)[0]) + 1)


def _scoring_gt(dataset: EvalDataset, image_ids: list[int]) -> GroundTruth:
    """The dataset's ground truth (parsed once, when it was loaded), cut to ``image_ids``."""
    gt = dataset.gt
    return gt if len(image_ids) == len(dataset.images) else gt.subset(image_ids)


def _score(gt: GroundTruth, dets: list[dict[str, Any]]):
    known = set(gt.category_ids.tolist())  # others are ignored, as COCOeval ignores them
    return evaluate(gt, load_predictions([d for d in dets if d["category_id"] in known], gt))


def _parse_log(lines: list[str]) -> tuple[dict[Frequency, tuple[float, float]], int]:
    """The frequencies logged in ``lines`` (after the header) and how many lines are kept: all
    up to the first torn one (a run killed mid-write)."""
    done = {}
    for count, line in enumerate(lines[1:], start=1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            return done, count
        done[(rec["fy"], rec["fx"])] = (rec["ap"], rec["delta_ap"])
    return done, len(lines)


def read_log(
    path: Path, settings: dict[str, Any], *, repair: bool = True
) -> dict[Frequency, tuple[float, float]]:
    """Finished frequencies of an earlier run with the same settings (a torn line is dropped,
    and with ``repair`` cut from the file)."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0]) if lines else {}
    if header.get("settings") != json.loads(json.dumps(settings)):
        raise InputError(
            f"{path.parent} holds a heat map with other settings; choose another --output"
        )
    done, kept = _parse_log(lines)
    if repair and kept < len(lines):  # killed mid-write: keep the lines before it
        write_text_atomic(path, "\n".join(lines[:kept]) + "\n")
    return done


def logged_frequencies(output: str | Path) -> int:
    """How many frequencies the heat map log in ``output`` holds: what a resume will not run
    again (read only; 0 without a log)."""
    path = Path(output) / LOG_NAME
    if not path.is_file():
        return 0
    return len(_parse_log(path.read_text(encoding="utf-8").splitlines())[0])


def _append(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(record) + "\n" for record in records))
        f.flush()


def detector_heatmap(
    detector: Detector,
    dataset: EvalDataset,
    config: DetectorHeatmapConfig,
    output: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    on_resume: Callable[[int, int], None] | None = None,
) -> DetectorHeatmap:
    """The heat map of ``detector`` on ``dataset``; ``output`` keeps the per-frequency log
    (``heatmap_progress.jsonl``, headed by ``settings`` plus ``config``) from which a re-run with
    the same settings resumes, with any number of ranks. ``progress(k)`` gets the detector runs
    of each step (on rank 0: its own as they happen, the other ranks' after each round);
    ``on_resume(done, total)`` (on rank 0) hears how many of the frequencies an earlier run
    logged.

    Under torch.distributed (torchrun, Detectron2's ``launch``) the work is shared: the clean
    pass by images, the frequencies by chunks of ``batch_size`` (the chunks a one-process run
    makes, so every detector call sees the same batch; chunk k of each round goes to rank k),
    each rank scoring its own chunks on the whole set; rank 0 alone writes the log. The map is
    the one-process map exactly, and every rank returns it."""
    output = Path(output)
    records = dataset.images[: config.limit] if config.limit else dataset.images
    images = _decode(records, detector.channel_order)
    smallest = min(min(img.shape[-2:]) for img in images)
    top = config.step * (config.grid // 2)
    if top > smallest // 2:
        raise InputError(
            f"--grid {config.grid} x --step {config.step} reaches {top} cycles per image, "
            f"beyond the Nyquist limit of a {smallest}-pixel side"
        )
    gt = _scoring_gt(dataset, [r.image_id for r in records])
    header = {"settings": {**(settings or {}), **asdict(config)}}
    done = _open_log(output, header)
    is_main, rank, world = dist.rank() == 0, dist.rank(), dist.world_size()
    own_step = progress or (lambda k: None)
    calls = [0]

    def step(k: int) -> None:
        calls[0] += k
        own_step(k)

    def others(counts: list[int]) -> None:  # rank 0's bar also counts the other ranks' runs
        if is_main:
            own_step(sum(counts) - counts[0])

    mine = list(range(rank, len(records), world))
    clean_part = _detect_all(detector, [images[i] for i in mine], [records[i] for i in mine],
                             [(0, 0)], 0.0, step)[(0, 0)]  # fmt: skip
    parts = dist.gather((len(mine), clean_part))
    others([n for n, _ in parts])
    clean = _score(gt, [d for _, part in parts for d in part])
    reps, mapping = grid_frequencies(config.grid, config.step)
    if done and is_main and on_resume is not None:
        on_resume(len(done), len(reps))
    todo = [c for c in frequency_chunks(reps, config.batch_size, done) if c]
    log = output / LOG_NAME
    for start in range(0, len(todo), world):
        chunk = todo[start + rank] if start + rank < len(todo) else []
        before = calls[0]
        runs = _detect_all(detector, images, records, chunk, config.eps, step) if chunk else {}
        cells = []
        for freq, dets in runs.items():
            ev = _score(gt, dets)
            with np.errstate(invalid="ignore"):
                delta = float(np.nanmean(ev.ap - clean.ap))
            cells.append({"fy": freq[0], "fx": freq[1], "ap": float(ev.stats[0]),
                          "delta_ap": delta})  # fmt: skip
        gathered = dist.gather((calls[0] - before, cells))
        others([n for n, _ in gathered])
        new = [cell for _, rank_cells in gathered for cell in rank_cells]
        if is_main:
            _append(log, new)
        done.update(((c["fy"], c["fx"]), (c["ap"], c["delta_ap"])) for c in new)
    values = np.array([done[f] for f in reps])
    return DetectorHeatmap(
        frequencies=grid_axis(config.grid, config.step),
        ap=values[mapping, 0],
        delta_ap=values[mapping, 1],
        clean_ap=float(clean.stats[0]),
        num_images=len(records),
        num_scored=int(np.count_nonzero(~np.isnan(clean.ap))),
        runs_per_rank=tuple(dist.gather(calls[0])),
    )


def frequency_chunks(
    frequencies: Sequence[Frequency], size: int, done: Collection[Frequency] = ()
) -> list[list[Frequency]]:
    """The frequencies in chunks of ``size`` (one detector call per image and chunk), each
    without those already ``done``: a chunk is the same whatever the number of ranks and
    however often the run was resumed, so each cell sees the same batches."""
    chunks = [list(frequencies[i : i + size]) for i in range(0, len(frequencies), size)]
    return [[f for f in chunk if f not in done] for chunk in chunks]


def _open_log(output: Path, header: dict[str, Any]) -> dict[Frequency, tuple[float, float]]:
    """Rank 0 reads (or starts) the log; every rank gets its finished frequencies, or the
    same error."""
    state: tuple[str, Any] = ("ok", {})
    if dist.rank() == 0:
        try:
            output.mkdir(parents=True, exist_ok=True)
            done = read_log(output / LOG_NAME, header["settings"])
            if not done:
                write_text_atomic(output / LOG_NAME, json.dumps(header) + "\n")
            state = ("ok", done)
        except InputError as exc:
            state = ("error", str(exc))
    kind, value = dist.broadcast(state)
    if kind == "error":
        raise InputError(value)
    return value


def _decode(records: Sequence, channel_order: str) -> list[torch.Tensor]:
    decoded = DecodedImages(records, channel_order)
    images = []
    for i in range(len(records)):
        item = decoded[i]
        if item.pixels is None:
            raise InputError(f"{records[i].path}: {item.error}")
        images.append(item.pixels)
    return images


def _detect_all(
    detector: Detector,
    images: list[torch.Tensor],
    records: Sequence,
    frequencies: list[Frequency],
    eps: float,
    step: Callable[[int], None],
) -> dict[Frequency, list[dict[str, Any]]]:
    """COCO results of every image perturbed at each frequency, one detector call an image."""
    out: dict[Frequency, list[dict[str, Any]]] = {f: [] for f in frequencies}
    device = torch.device(detector.device)
    bases_by_shape: dict[tuple[int, int], torch.Tensor] = {}
    for pixels, record in zip(images, records, strict=True):
        x = pixels.to(device, torch.float32)
        shape = (x.shape[-2], x.shape[-1])
        if shape not in bases_by_shape:
            bases = fourier_bases(*shape, frequencies) * eps
            bases_by_shape[shape] = torch.from_numpy(bases).to(device, torch.float32)
        dets = detector.detect(list((x[None] + bases_by_shape[shape][:, None]).clamp_(0, 255)))
        for freq, d in zip(frequencies, dets, strict=True):
            out[freq] += rows_to_coco(record.image_id, detections_to_rows(d))
        step(len(frequencies))
    return out


def heatmap_csv(result: DetectorHeatmap) -> str:
    """``fy,fx,AP,delta_ap`` for every grid cell, row by row."""
    lines = ["fy,fx,AP,delta_ap"]
    for i, fy in enumerate(result.frequencies.tolist()):
        for j, fx in enumerate(result.frequencies.tolist()):
            lines.append(f"{fy},{fx},{result.ap[i, j]:.6f},{result.delta_ap[i, j]:.6f}")
    return "\n".join(lines) + "\n"


def write_heatmap(
    output: str | Path,
    result: DetectorHeatmap,
    config: DetectorHeatmapConfig,
    settings: dict[str, Any],
    *,
    seconds: float | None = None,
) -> list[Path]:
    """Write ``heatmap.npy`` ((2, G, G): AP, mean per-image AP difference), ``heatmap.csv``,
    ``heatmap.png`` and ``heatmap.json`` (``settings``, ``config``, the results and, when given,
    the ``seconds`` this run took, the ranks' detector runs) into ``output``, each atomically;
    the paths."""
    from hfc_detect.utils.figures import centred_extent, plot_heatmaps
    from hfc_detect.utils.files import atomic_path, write_json_atomic, write_text_atomic

    output = Path(output)
    with atomic_path(output / "heatmap.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.stack([result.ap, result.delta_ap]))
    csv_path = write_text_atomic(output / "heatmap.csv", heatmap_csv(result))
    step = config.step
    png = plot_heatmaps(
        output / "heatmap.png",
        [
            ("whole-set AP", result.ap, "AP"),
            ("mean per-image AP difference", result.delta_ap, "AP - clean AP"),
        ],
        tuple(v * step for v in centred_extent(config.grid, config.grid)),
        xlabel="fx (cycles per image width)",
        ylabel="fy (cycles per image height)",
        title=f"{settings.get('backend', 'detector')} on {result.num_images} images, eps "
        f"{config.eps:g}: clean AP {result.clean_ap:.3f}",
    )
    record = {
        **settings,
        "grid": config.grid,
        "step": step,
        "eps": config.eps,
        "limit": config.limit,
        "images": result.num_images,
        "images_scored": result.num_scored,
        "clean_ap": result.clean_ap,
        "layers": ["ap", "mean_delta_ap"],
        "frequencies": result.frequencies.tolist(),
        "detector_runs": heatmap_cost(config.grid, result.num_images),
    }
    if result.runs_per_rank:
        record["world_size"] = len(result.runs_per_rank)
        record["detector_runs_per_rank_this_run"] = list(result.runs_per_rank)
    if seconds is not None:
        record["seconds_this_run"] = round(seconds, 2)
    json_path = write_json_atomic(output / "heatmap.json", record)
    return [output / "heatmap.npy", csv_path, png, json_path]
