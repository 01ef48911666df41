"""``run_eval``: run a detector on original, LFC and HFC images and score every variant per image.

Flow per batch: DataLoader workers decode each image once (uint8, the model's channel order) ->
the batch moves to the model's device -> one forward FFT per image (batched over same-sized
images) gives every radius and both parts at the original resolution -> the pixel mode maps
LFC/HFC onto pixels -> the detector sees each variant as float (C, H, W) tensors on 0..255 ->
each finished image becomes one fsync'd line of ``progress.jsonl``. At the end rank 0 writes
``predictions/<variant>.json`` and ``compare`` scores them into ``per_image.csv`` and
``summary.json``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from hfc_detect import __version__
from hfc_detect.engine import distributed as dist
from hfc_detect.engine.dataset import (
    DecodedImages,
    EvalDataset,
    builtin_paths,
    coco_val2017_available,
    detectron2_datasets_root,
    load_coco,
    make_loader,
    write_subset_annotations,
)
from hfc_detect.engine.predictions import RunFolder, detections_to_rows
from hfc_detect.engine.variants import (
    Variant,
    VariantMaker,
    check_radii,
    plan_variants,
)
from hfc_detect.frequency import check_pixel_mode
from hfc_detect.modeling.base import Detector
from hfc_detect.utils.errors import InputError

DEFAULT_VARIANTS = ("original", "lfc", "hfc")
SCORED_ANNOTATIONS = "annotations_scored.json"


@dataclass
class EvalResult:
    """What an evaluation produced (``summary`` is None on ranks other than 0)."""

    output: Path
    summary: dict[str, Any] | None
    predictions: dict[str, Path] = field(default_factory=dict)
    failed_images: list[dict[str, Any]] = field(default_factory=list)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _demo_notice(console) -> None:
    from rich.panel import Panel

    ann, img = builtin_paths("coco_2017_val")
    console.print(
        Panel(
            "COCO val2017 was not found where Detectron2 looks for it:\n"
            f"  {ann}\n  {img}\n"
            "so this run uses the BUNDLED DEMO dataset and detector (synthetic shapes), "
            "not COCO. Its numbers are NOT the paper's.\n\n"
            "To evaluate on COCO: put val2017 under $DETECTRON2_DATASETS/coco "
            f"(now {detectron2_datasets_root()}) and run again, or pass "
            "--dataset coco_2017_val, or --annotations GT.json --images DIR.",
            title="[bold]DEMO RUN, NOT COCO[/bold]",
            border_style="bold yellow",
        )
    )


def resolve_dataset(
    dataset: str | None, annotations: str | os.PathLike | None, images: str | os.PathLike | None
) -> tuple[EvalDataset, bool]:
    """The dataset to evaluate on and whether it is the demo fallback (COCO not found)."""
    if annotations is not None or images is not None:
        if dataset is not None:
            raise InputError("give either --dataset or --annotations/--images, not both")
        if annotations is None or images is None:
            raise InputError("--annotations and --images go together: give both")
        return load_coco(annotations, images), False
    fallback = dataset is None and not coco_val2017_available()
    if dataset == "demo" or fallback:
        from hfc_detect.data.demo import ensure_demo_dataset

        ann, img = ensure_demo_dataset()
        ds = load_coco(ann, img)
        return replace(ds, name="demo"), fallback
    name = dataset or "coco_2017_val"
    ann, img = builtin_paths(name)
    if not ann.is_file() or not img.is_dir():
        raise InputError(
            f"dataset {name} not found: expected {ann} and {img} "
            "(set DETECTRON2_DATASETS to the folder holding coco/)"
        )
    ds = load_coco(ann, img)
    return replace(ds, name=name), False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"hfc-toolkit": __version__, "python": platform.python_version()}
    for dist_name in ("torch", "torchvision", "detectron2", "numpy", "pycocotools", "onnxruntime"):
        try:
            out[dist_name] = metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            out[dist_name] = None
    return out


def _check_counts(batch_size: int, num_workers: int, limit: int | None) -> None:
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise InputError(f"--num-workers must be >= 0, got {num_workers}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be >= 1, got {limit}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Runner:
    """Runs the planned variants of one batch through the detector and times each stage."""

    def __init__(self, detector: Detector, plan: list[Variant], pixel_mode: str):
        self.detector = detector
        self.device = torch.device(detector.device)
        self.plan = plan
        self.maker = VariantMaker(plan, pixel_mode)
        self.timings = {"decode": 0.0, "split": 0.0, "inference": 0.0}

    def __call__(self, batch, records) -> list[dict[str, Any]]:
        entries = []
        ok = []
        for item in batch:
            self.timings["decode"] += item.seconds
            if item.pixels is None:
                entries.append(
                    {"image_id": records[item.index].image_id, "ok": False, "error": item.error}
                )
            else:
                ok.append(item)
        if not ok:
            return entries
        start = time.perf_counter()
        pixels = [it.pixels.to(self.device, non_blocking=True).to(torch.float32) for it in ok]
        variants = self.maker(pixels)
        _sync(self.device)
        self.timings["split"] += time.perf_counter() - start
        start = time.perf_counter()
        rows: list[dict[str, Any]] = [{} for _ in ok]
        for v in self.plan:
            dets = self.detector.detect([per_image[v.name] for per_image in variants])
            if len(dets) != len(ok):
                raise RuntimeError(f"detector returned {len(dets)} results for {len(ok)} images")
            for i, d in enumerate(dets):
                rows[i][v.name] = detections_to_rows(d)
        self.timings["inference"] += time.perf_counter() - start
        for item, dets_by_variant in zip(ok, rows, strict=True):
            entries.append(
                {"image_id": records[item.index].image_id, "ok": True, "dets": dets_by_variant}
            )
        return entries


def _progress(total: int, done: int, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]eval[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} img/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=_console(),
        disable=not enabled,
    )
    task = progress.add_task("eval", total=total, completed=done, rate="-")
    return progress, task


def run_eval(
    radii: Sequence[float],
    output: str | os.PathLike,
    *,
    variants: str | Sequence[str] = DEFAULT_VARIANTS,
    dataset: str | None = None,
    annotations: str | os.PathLike | None = None,
    images: str | os.PathLike | None = None,
    backend: str | None = None,
    detector: Detector | None = None,
    config_file: str | None = None,
    weights: str | None = None,
    overrides: Sequence[str] = (),
    pixel_mode: str = "raw",
    device: str | None = None,
    batch_size: int = 1,
    num_workers: int = 2,
    limit: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> EvalResult:
    """Evaluate a detector on original/LFC/HFC images and write the comparison into ``output``.

    ``radii``: split radii (one or more). ``variants``: kinds to run (original, lfc, hfc).
    Data: ``annotations`` + ``images``, or a builtin ``dataset`` name (``coco_2017_val``,
    ``demo``); with neither, COCO val2017 where Detectron2 looks for it, else the bundled demo
    (with a loud notice). Model: ``detector`` (a ready :class:`Detector`) or ``backend``
    (registered name or ``package.module:Class``, default ``detectron2``, ``demo`` for the demo)
    built with ``config_file``, ``weights``, ``overrides`` (``KEY=VALUE``) and ``device``, each
    passed only when given. ``pixel_mode``: how LFC/HFC become pixels (``raw``: as the FFT
    gives them, the paper's inputs; ``clip``: to 0..255; ``max``: scaled by 255 / own max).
    Re-running on the same ``output`` with the same settings resumes (``resume=True`` also
    requires that there is a run to resume); other settings are refused. Under torch.distributed
    images are sharded across ranks and rank 0 writes.
    """
    created_group = dist.init_from_env()
    try:
        return _run(
            radii, Path(output), variants, dataset, annotations, images, backend, detector,
            config_file, weights, list(overrides), pixel_mode, device, batch_size, num_workers,
            limit, resume, progress,
        )  # fmt: skip
    finally:
        dist.shutdown(created_group)


def _run(
    radii, output, kinds, dataset, annotations, images, backend, detector, config_file, weights,
    overrides, pixel_mode, device, batch_size, num_workers, limit, resume, show_progress,
) -> EvalResult:  # fmt: skip
    start_wall = time.perf_counter()
    is_main = dist.rank() == 0
    console = _console()
    radii = check_radii(radii)
    plan = plan_variants(radii, kinds)
    check_pixel_mode(pixel_mode)
    _check_counts(batch_size, num_workers, limit)
    ds, demo_fallback = resolve_dataset(dataset, annotations, images)
    if detector is not None:
        backend = f"{type(detector).__module__}:{type(detector).__qualname__}"
    elif backend is None:
        backend = "demo" if ds.name == "demo" else "detectron2"
    records = ds.images[:limit] if limit is not None else ds.images

    settings = {
        "annotations": str(ds.annotations),
        "annotations_sha256": _sha256(ds.annotations),
        "images_dir": str(ds.images_dir),
        "limit": limit,
        "variants": [v.name for v in plan],
        "radii": radii,
        "pixel_mode": pixel_mode,
        "backend": backend,
        "config_file": config_file,
        "weights": weights,
        "overrides": overrides,
    }
    folder = RunFolder(output)
    # Rank 0 reads the output folder (an error stops every rank); all ranks learn which images
    # are finished, only rank 0 keeps their detections.
    done: dict[int, dict[str, Any]] = {}
    state: tuple[str, Any] = ("ok", [])
    if is_main:
        try:
            if folder.check_settings(settings, require_existing=resume):
                done = folder.load_progress()
            state = ("ok", [i for i, e in done.items() if e.get("ok")])
        except InputError as exc:
            state = ("error", str(exc))
    state = dist.broadcast(state)
    if state[0] == "error":
        raise InputError(state[1])
    finished_ids = set(state[1])

    if detector is None:
        from hfc_detect.modeling import build_detector

        options = {"config_file": config_file, "weights": weights,
                   "device": device or dist.default_device()}  # fmt: skip
        options = {k: v for k, v in options.items() if v is not None}
        if overrides:
            options["overrides"] = overrides
        detector = build_detector(backend, **options)

    if is_main:
        if demo_fallback:
            _demo_notice(console)
        folder.start(settings)
        if finished_ids:
            console.print(
                f"resuming {output}: {len(finished_ids)} of {len(records)} images already done"
            )
    remaining = [i for i, r in enumerate(records) if r.image_id not in finished_ids]
    shard = remaining[dist.rank() :: dist.world_size()]

    runner = _Runner(detector, plan, pixel_mode)
    decoded = DecodedImages(records, detector.channel_order)
    loader = make_loader(decoded, shard, batch_size, num_workers)
    run_start = time.perf_counter()
    new_images = 0
    log = folder.open_log() if is_main else None
    progress, task = _progress(
        len(records), len(records) - len(remaining), show_progress and is_main
    )
    try:
        with progress:
            batches = iter(loader)
            exhausted = False
            while True:
                batch = None if exhausted else next(batches, None)
                exhausted = batch is None
                entries = runner(batch, records) if batch is not None else []
                gathered = dist.gather((entries, batch is None))
                if is_main:
                    new = [e for rank_entries, _ in gathered for e in rank_entries]
                    RunFolder.append(log, new)
                    for e in new:
                        done[e["image_id"]] = e
                        if not e["ok"]:
                            console.print(
                                f"[yellow]warning[/yellow]: image {e['image_id']} skipped: "
                                f"{e['error']}"
                            )
                    new_images += len(new)
                    rate = new_images / max(time.perf_counter() - run_start, 1e-9)
                    progress.update(task, advance=len(new), rate=f"{rate:.2f}")
                if all(finished for _, finished in gathered):
                    break
    finally:
        if log is not None:
            log.close()
    loop_wall = time.perf_counter() - run_start
    stage_times = dist.gather(runner.timings)
    if not is_main:
        return EvalResult(output, None)

    timings = {k: sum(t[k] for t in stage_times) for k in stage_times[0]}
    image_ids = [r.image_id for r in records]
    by_id = {r.image_id: r for r in records}
    failed = [
        {"image_id": i, "file_name": by_id[i].file_name, "error": done[i]["error"]}
        for i in image_ids
        if i in done and not done[i].get("ok")
    ]
    if len(failed) == len(image_ids):
        raise InputError(
            f"none of the {len(image_ids)} images could be read (first: {failed[0]['error']})"
        )
    start = time.perf_counter()
    written = folder.write_predictions(image_ids, done, [v.name for v in plan])
    predictions = {name: path for name, (path, _) in written.items()}
    timings["write"] = time.perf_counter() - start

    scored_ann = ds.annotations
    if limit is not None or failed:
        failed_ids = {f["image_id"] for f in failed}
        kept = [i for i in image_ids if i not in failed_ids]
        scored_ann = write_subset_annotations(ds.annotations, kept, output / SCORED_ANNOTATIONS)
    else:
        (output / SCORED_ANNOTATIONS).unlink(missing_ok=True)

    extra = {
        "source_annotations": str(ds.annotations),
        "dataset": ds.name,
        "demo_fallback": demo_fallback,
        **({"radius": radii[0]} if len(radii) == 1 else {}),
        "radii": radii,
        "variant_kinds": {v.name: {"kind": v.kind, "radius": v.radius} for v in plan},
        "pixel_mode": pixel_mode,
        "backend": backend,
        "config": config_file,
        "weights": weights,
        "overrides": overrides,
        "device": str(torch.device(detector.device)),
        "channel_order": detector.channel_order,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "world_size": dist.world_size(),
        "torch_threads": torch.get_num_threads(),
        "limit": limit,
        "images_evaluated_this_run": new_images,
        "versions": _versions(),
        "failed_images": failed,
    }
    from hfc_detect.evaluation import compare

    start = time.perf_counter()
    # Score the results in memory: a variant may have no detection at all, and detections of
    # categories the annotations lack are ignored, as COCOeval ignores them (counted below).
    gt_categories = set(ds.category_ids)
    scored = {
        n: [r for r in res if r["category_id"] in gt_categories] for n, (_, res) in written.items()
    }
    extra["detections_outside_gt_categories"] = {
        n: len(res) - len(scored[n]) for n, (_, res) in written.items()
    }
    extra["timings"] = timings  # completed below, then the summary is rewritten once
    summary = compare(scored_ann, scored, output, images_dir=ds.images_dir, extra=extra)
    for entry in summary["variants"]:  # name the files written, as if compare had read them
        entry["predictions"] = str(predictions[entry["name"]].resolve())
    timings["scoring"] = time.perf_counter() - start
    timings["loop_wall"] = loop_wall
    timings["total"] = time.perf_counter() - start_wall
    summary["timings"] = {k: round(v, 4) for k, v in timings.items()}
    from hfc_detect.utils.files import write_json_atomic

    write_json_atomic(output / "summary.json", summary)
    if failed:
        console.print(
            f"[yellow]{len(failed)} image(s) could not be read; see summary.json[/yellow]"
        )
    return EvalResult(output, summary, predictions, failed)
