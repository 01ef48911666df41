"""``run_eval``: run a detector on original, LFC and HFC images and score every variant per image.

One straight line of four stages:

- **prepare**: resolve the :class:`EvalConfig` (dataset, backend, output folder, CPU defaults),
  parse the annotations once, lock the output folder and read what it already holds;
- **infer**: DataLoader workers decode each image once (uint8, the model's channel order) ->
  the batch moves to the model's device -> one forward FFT per image (batched over same-sized
  images) gives every radius and both parts at the original resolution -> the pixel mode maps
  LFC/HFC onto pixels -> the detector sees each variant as float (C, H, W) tensors on 0..255 ->
  each finished image becomes one fsync'd line of ``progress.jsonl``;
- **score**: the pure :func:`~hfc_detect.evaluation.score` of every variant against the ground
  truth of the images that were read (subset in memory);
- **write**: rank 0 writes ``predictions/<variant>.json`` and, once, the comparison folder;
  then each variant's share of the original's spectral energy per radius over a seeded sample
  of the images (``variant_spectrum.csv``, :mod:`hfc_detect.analysis.spectrum`).

Progress goes to the ``on_progress`` callback (the CLI draws the bar); nothing is printed here.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from hfc_detect.evaluation import Comparison, score
from hfc_detect.frequency.trivial import radius_warnings
from hfc_detect.frequency.variant import Variant
from hfc_detect.modeling.base import Detector
from hfc_detect.pipeline.config import (
    RESULT_FIELDS,
    EvalConfig,
    default_output,
    sha256_of,
)
from hfc_detect.pipeline.environment import cpu_defaults, versions
from hfc_detect.pipeline.inputs import (
    DecodedImages,
    EvalDataset,
    ImageRecord,
    make_loader,
    resolve_dataset,
    write_subset_annotations,
)
from hfc_detect.pipeline.predictions import RunFolder, collect_results, detections_to_rows
from hfc_detect.pipeline.transforms import CORRUPTION_PACKAGES, load_transforms
from hfc_detect.pipeline.variants import VariantMaker, run_variants, variant_maker
from hfc_detect.results import SCORED_ANNOTATIONS, SUMMARY_FILE, write_comparison
from hfc_detect.utils import distributed as dist
from hfc_detect.utils.errors import InputError

__all__ = ["EvalConfig", "EvalEvent", "EvalResult", "run_eval"]


@dataclass
class EvalResult:
    """What an evaluation produced (``summary`` is None on ranks other than 0). ``reused``: the
    folder already held this finished run, which was reported, not recomputed."""

    output: Path
    summary: dict[str, Any] | None
    predictions: dict[str, Path] = field(default_factory=dict)
    failed_images: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False
    spectrum: Path | None = None  # variant_spectrum.csv, where the run wrote it


@dataclass(frozen=True)
class EvalEvent:
    """What ``run_eval`` reports to ``on_progress`` (on rank 0).

    ``start``: the model is loaded and the loop begins (``done`` of ``total`` images already
    finished by earlier runs); ``images``: more images finished (``failed``: those of them that
    could not be used, with ``image_id``, ``file_name``, ``error``); ``finished``: the folder
    already holds this finished run, which is reported as it is (nothing is computed or
    written); ``warning``: ``message``. ``demo_fallback`` (start, finished): the run is on the
    bundled demo because COCO was not found.
    """

    kind: str
    output: Path
    done: int = 0
    total: int = 0
    failed: tuple[dict[str, Any], ...] = ()
    message: str = ""
    demo_fallback: bool = False


ProgressCallback = Callable[[EvalEvent], None]


@dataclass
class _Run:
    """What the prepare stage found; the later stages read it."""

    config: EvalConfig  # resolved
    dataset: EvalDataset
    records: list[ImageRecord]
    plan: dict[str, Variant]  # name -> variant, in run order
    folder: RunFolder
    annotations_sha256: str
    demo_fallback: bool
    done: dict[int, dict[str, Any]] = field(default_factory=dict)  # rank 0 only
    finished_ids: set[int] = field(default_factory=set)
    finished_summary: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    new_images: int = 0


def run_eval(
    config: EvalConfig,
    detector: Detector | None = None,
    on_progress: ProgressCallback | None = None,
) -> EvalResult:
    """Evaluate a detector on original/LFC/HFC images as ``config`` says; write the comparison
    into its output folder (see :class:`EvalConfig` and docs/eval.md).

    ``detector``: a ready :class:`Detector` instead of building ``config.backend``.
    ``on_progress``: called with :class:`EvalEvent` s on rank 0 (None: warnings become Python
    warnings). Re-running on the same folder with the same settings resumes, and a finished run
    is reported without recomputing; other settings are refused, as is a folder another eval is
    writing. Under torch.distributed images are sharded across ranks and rank 0 writes.
    """
    start = time.perf_counter()
    report = on_progress or _warn
    threads_before = torch.get_num_threads()
    created_group = dist.init_from_env()
    try:
        run = _plan(config, detector)
        is_main = dist.rank() == 0
        if is_main:
            sizes = [r.size for r in run.records]
            for line in radius_warnings(run.config.radii, sizes, run.config.bands):
                report(EvalEvent("warning", run.folder.root, message=line))
        with run.folder.lock() if is_main else nullcontext():
            _prepare(run, report)
            if run.finished_summary is not None:
                if is_main:
                    total = len(run.records)
                    report(EvalEvent("finished", run.folder.root, total, total,
                                     demo_fallback=run.demo_fallback))  # fmt: skip
                    _warn_without_spectrum(run, report)
                return _reused(run)
            load_transforms(run.plan)  # a transform that cannot load fails before the model
            detector = detector if detector is not None else _build_detector(run)
            if is_main:
                run.folder.start(run.config.to_json(), run.annotations_sha256)
            try:
                _infer(run, detector, report)
            except InputError:  # e.g. a detector without the masks --iou-type segm needs
                if is_main and not run.done:
                    run.folder.discard_unused()  # so other settings may use the folder
                raise
            if not is_main:
                return EvalResult(run.folder.root, None)
            results = collect_results([r.image_id for r in run.records], run.done,
                                      list(run.plan))  # fmt: skip
            failed = _failed_images(run)
            comparison = _score(run, results, failed)
            result = _write(run, detector, results, comparison, failed, start)
            result.spectrum = _spectrum(run, report)
            return result
    finally:
        torch.set_num_threads(threads_before)
        dist.shutdown(created_group)


def _warn(event: EvalEvent) -> None:
    if event.kind == "warning":
        warnings.warn(event.message, stacklevel=3)


def _plan(config: EvalConfig, detector: Detector | None) -> _Run:
    """Resolve the config (parsing the annotations, once) and set the CPU threads."""
    dataset, demo_fallback = resolve_dataset(
        config.dataset, config.annotations, config.images, config.iou_type
    )
    sha = sha256_of(dataset.annotations)
    config = _resolve(config, dataset, detector, sha)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    records = dataset.images[: config.limit] if config.limit is not None else dataset.images
    plan = run_variants(config)
    return _Run(config, dataset, records, plan, RunFolder(config.output), sha, demo_fallback)


def _resolve(config: EvalConfig, ds: EvalDataset, detector: Detector | None, sha: str):
    """The config with everything filled in that the defaults leave open."""
    if detector is not None:
        backend = f"{type(detector).__module__}:{type(detector).__qualname__}"
    else:
        backend = config.backend or ("demo" if ds.name == "demo" else "detectron2")
    if detector is not None:
        on_cpu = torch.device(detector.device).type == "cpu"
    else:
        wanted = config.device or dist.default_device()
        on_cpu = torch.device(wanted).type == "cpu" if wanted else not torch.cuda.is_available()
    workers, threads = cpu_defaults(config.num_workers, config.threads, on_cpu=on_cpu)
    config = replace(config, dataset=ds.name, annotations=str(ds.annotations),
                     images=str(ds.images_dir), backend=backend, num_workers=workers,
                     threads=threads)  # fmt: skip
    if config.output is None:
        config = replace(config, output=str(default_output(config, sha)))
    return config


def _prepare(run: _Run, report: ProgressCallback) -> None:
    """Rank 0 reads the output folder (an error stops every rank); every rank learns which
    images are finished and whether the whole run is; only rank 0 keeps their detections."""
    state: tuple[str, Any] = ("ok", [], None)
    if dist.rank() == 0:
        try:
            state = ("ok", *_read_folder(run, report))
        except InputError as exc:
            state = ("error", str(exc), None)
    state = dist.broadcast(state)
    if state[0] == "error":
        raise InputError(state[1])
    run.finished_ids, run.finished_summary = set(state[1]), state[2]


def _read_folder(run: _Run, report: ProgressCallback) -> tuple[list[int], dict | None]:
    key = {**run.config.to_json(), "annotations_sha256": run.annotations_sha256}
    compared = [*RESULT_FIELDS, "annotations_sha256"]
    if not run.folder.check_run(key, compared, require_existing=run.config.resume):
        return [], None
    run.done, corrupt = run.folder.load_progress()
    if corrupt:
        report(EvalEvent("warning", run.folder.root, message=(
            f"{run.folder.progress_file}: dropped {corrupt} corrupt line(s) and kept every "
            "valid one; their images are computed again")))  # fmt: skip
    finished = [i for i, e in run.done.items() if e.get("ok")]
    all_done = {r.image_id for r in run.records} <= set(finished)
    return finished, _finished_summary(run.folder.root) if all_done else None


def _finished_summary(root: Path) -> dict[str, Any] | None:
    """The summary of a finished run (None when it is missing or unreadable: write it again)."""
    import json

    try:
        summary = json.loads((root / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) and "variants" in summary else None


def _reused(run: _Run) -> EvalResult:
    """The finished run as its summary records it, failed images included."""
    summary = run.finished_summary if dist.rank() == 0 else None
    paths = {name: run.folder.predictions_dir / f"{name}.json" for name in run.plan}
    failed = list((summary or {}).get("failed_images") or [])
    return EvalResult(run.folder.root, summary, paths, failed, reused=True)


def _build_detector(run: _Run) -> Detector:
    from hfc_detect.modeling.settings import DetectorSettings

    c = run.config
    settings = DetectorSettings(c.backend, c.config_file, c.weights, c.overrides,
                                c.device or dist.default_device())  # fmt: skip
    return settings.build(run.dataset.gt.category_names_by_id())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Runner:
    """Runs the planned variants of one batch through the detector and times each stage."""

    def __init__(self, detector: Detector, maker: VariantMaker, iou_type: str):
        self.detector = detector
        self.iou_type = iou_type
        self.device = torch.device(detector.device)
        self.plan = maker.variants
        self.maker = maker
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
        pixels = [it.pixels.to(self.device, non_blocking=True) for it in ok]  # as decoded
        for it in ok:
            it.pixels = None  # the maker holds it (on a GPU, the host copy is freed)
        variants = self.maker(pixels, [records[it.index].image_id for it in ok])
        _sync(self.device)
        self.timings["split"] += time.perf_counter() - start
        rows: list[dict[str, Any]] = [{} for _ in ok]
        for name in self.plan:
            start = time.perf_counter()
            inputs = [per_image[name] for per_image in variants]  # made when read: split time
            _sync(self.device)
            made = time.perf_counter()
            dets = self.detector.detect(inputs)
            if len(dets) != len(ok):
                raise RuntimeError(f"detector returned {len(dets)} results for {len(ok)} images")
            for i, d in enumerate(dets):
                rows[i][name] = detections_to_rows(d, self.iou_type)
            del inputs
            self.timings["split"] += made - start
            self.timings["inference"] += time.perf_counter() - made
        for item, dets_by_variant in zip(ok, rows, strict=True):
            entries.append(
                {"image_id": records[item.index].image_id, "ok": True, "dets": dets_by_variant}
            )
        return entries


def _infer(run: _Run, detector: Detector, report: ProgressCallback) -> None:
    """Run the images not finished yet (this rank's shard); rank 0 logs every finished image."""
    is_main = dist.rank() == 0
    records, output = run.records, run.folder.root
    by_id = {r.image_id: r for r in records}
    remaining = [i for i, r in enumerate(records) if r.image_id not in run.finished_ids]
    shard = remaining[dist.rank() :: dist.world_size()]
    done_count = len(records) - len(remaining)
    if is_main:
        report(EvalEvent("start", output, done_count, len(records),
                         demo_fallback=run.demo_fallback))  # fmt: skip
    maker = variant_maker(run.config, detector.channel_order)
    runner = _Runner(detector, maker, run.config.iou_type)
    decoded = DecodedImages(records, detector.channel_order)
    loader = make_loader(decoded, shard, run.config.batch_size, run.config.num_workers)
    loop_start = time.perf_counter()
    log = run.folder.open_log() if is_main else None
    try:
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
                run.done.update((e["image_id"], e) for e in new)
                run.new_images += len(new)
                done_count += len(new)
                failed = tuple(_failure(by_id[e["image_id"]], e) for e in new if not e["ok"])
                report(EvalEvent("images", output, done_count, len(records), failed))
            if all(finished for _, finished in gathered):
                break
    finally:
        if log is not None:
            log.close()
    loop_wall = time.perf_counter() - loop_start
    stage_times = dist.gather(runner.timings)
    run.timings = {k: sum(t[k] for t in stage_times) for k in stage_times[0]}
    run.timings["loop_wall"] = loop_wall


def _failure(record: ImageRecord, entry: dict[str, Any]) -> dict[str, Any]:
    return {"image_id": record.image_id, "file_name": record.file_name, "error": entry["error"]}


def _failed_images(run: _Run) -> list[dict[str, Any]]:
    """Images that could not be used, with file and reason, in image-id order."""
    failed = [
        _failure(r, run.done[r.image_id])
        for r in run.records
        if r.image_id in run.done and not run.done[r.image_id].get("ok")
    ]
    if len(failed) == len(run.records):
        raise InputError(
            f"none of the {len(failed)} images could be read (first: {failed[0]['error']})"
        )
    return failed


def _score(
    run: _Run, results: dict[str, list[dict[str, Any]]], failed: list[dict[str, Any]]
) -> Comparison:
    """Score every variant on the images that were read. A variant may have no detection at
    all; detections of categories the annotations lack stay in the predictions files and, as
    COCOeval ignores them, are not scored (counted in the summary)."""
    start = time.perf_counter()
    gt = run.dataset.gt
    failed_ids = {f["image_id"] for f in failed}
    if run.config.limit is not None or failed_ids:
        gt = gt.subset([r.image_id for r in run.records if r.image_id not in failed_ids])
    categories = set(gt.category_ids.tolist())
    scored = {n: [r for r in rows if r["category_id"] in categories] for n, rows in results.items()}
    comparison = score(gt, scored)
    run.timings["scoring"] = time.perf_counter() - start
    return comparison


def _write(
    run: _Run,
    detector: Detector,
    results: dict[str, list[dict[str, Any]]],
    comparison: Comparison,
    failed: list[dict[str, Any]],
    start: float,
) -> EvalResult:
    """Write the predictions files, the scored annotations (a subset only) and, once, the
    comparison folder with the run's settings, versions and timings."""
    write_start = time.perf_counter()
    paths = run.folder.write_predictions(results)
    scored_file = run.folder.root / SCORED_ANNOTATIONS
    gt = comparison.gt
    if gt is not run.dataset.gt:
        write_subset_annotations(run.dataset.data, gt.image_ids.tolist(), scored_file)
        gt = replace(gt, path=scored_file.resolve(), source=str(scored_file))
    else:
        scored_file.unlink(missing_ok=True)
    named = {n: replace(p, path=paths[n].resolve()) for n, p in comparison.predictions.items()}
    comparison = replace(comparison, gt=gt, predictions=named)
    run.timings["write"] = time.perf_counter() - write_start
    extra = _summary_extra(run, detector, results, failed, start)
    summary = write_comparison(run.folder.root, comparison, variants=run.plan,
                               images_dir=run.dataset.images_dir, extra=extra)  # fmt: skip
    return EvalResult(run.folder.root, summary, paths, failed)


def _spectrum(run: _Run, report: ProgressCallback) -> Path | None:
    """Write the finished run's variant spectrum (:mod:`hfc_detect.analysis.spectrum`, its
    default sample); where it cannot be made (e.g. an image gone since it was read) a warning
    says so and the run stays finished. Its path, or None."""
    from hfc_detect.analysis.spectrum import folder_spectrum

    try:
        return folder_spectrum(run.folder.root)[1][-1]
    except InputError as exc:
        message = f"variant spectrum not written ({exc}); {_spectrum_command(run)}"
        report(EvalEvent("warning", run.folder.root, message=message))
        return None


def _warn_without_spectrum(run: _Run, report: ProgressCallback) -> None:
    """A finished folder without its variant spectrum (interrupted while it was made, or written
    by an earlier release) says how to make it; a reused run writes nothing."""
    from hfc_detect.analysis.spectrum import SPECTRUM_CSV

    if not (run.folder.root / SPECTRUM_CSV).is_file():
        message = f"{SPECTRUM_CSV} is missing; {_spectrum_command(run)}"
        report(EvalEvent("warning", run.folder.root, message=message))


def _spectrum_command(run: _Run) -> str:
    return f"hfc-detect spectrum {run.folder.root} writes it"


def _summary_extra(
    run: _Run,
    detector: Detector,
    results: dict[str, list[dict[str, Any]]],
    failed: list[dict[str, Any]],
    start: float,
) -> dict[str, Any]:
    """What ``summary.json`` holds beyond the comparison: the run's settings and environment."""
    config, ds = run.config, run.dataset
    categories = set(ds.gt.category_ids.tolist())
    outside = {n: sum(r["category_id"] not in categories for r in rows)
               for n, rows in results.items()}  # fmt: skip
    timings = {k: run.timings[k] for k in ("decode", "split", "inference", "write", "scoring",
                                           "loop_wall")}  # fmt: skip
    timings["total"] = time.perf_counter() - start
    return {
        "source_annotations": str(ds.annotations),
        "dataset": ds.name,
        "demo_fallback": run.demo_fallback,
        "pixel_mode": config.pixel_mode,
        "backend": config.backend,
        "config_file": config.config_file,
        "weights": config.weights,
        "overrides": list(config.overrides),
        "device": str(torch.device(detector.device)),
        "channel_order": detector.channel_order,
        "batch_size": config.batch_size,
        "num_workers": config.num_workers,
        "world_size": dist.world_size(),
        "torch_threads": torch.get_num_threads(),
        "limit": config.limit,
        "images_evaluated_this_run": run.new_images,
        "versions": versions(CORRUPTION_PACKAGES if config.corruptions else ()),
        "failed_images": failed,
        "detections_outside_gt_categories": outside,
        "timings": {k: round(v, 4) for k, v in timings.items()},
    }
