"""Predictions that survive a kill: an append-only log, one fsync'd JSON line per finished image.

An output folder of ``eval`` holds ``run.json`` (the run's :class:`EvalConfig` and the hash of its
annotations) and ``progress.jsonl``: one line per image, ``{"image_id": 1, "ok": true, "dets":
{variant: [[x, y, w, h, score, category_id], ...]}}`` (``segm`` runs add the mask's compressed RLE
to each row, ``keypoints`` runs the flat keypoint list) or ``{"image_id": 1, "ok": false, "error":
"..."}``. A line is the image's completion marker: a torn last line (killed mid-write) is cut off
on resume, and a corrupt line elsewhere is dropped (its image is recomputed) while every valid
line is kept. Numbers are stored as the shortest decimal that round-trips to float32, so the final
``predictions/<variant>.json`` files are identical whether or not the run was interrupted. While a
run writes, it holds ``.eval.lock`` (an OS file lock, released by the kernel when the process
dies, so a killed run never leaves the folder locked).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.modeling.base import Detections
from hfc_detect.results import LOCK_FILE, PREDICTIONS_DIR, PROGRESS_FILE, RUN_FILE, SUMMARY_FILE
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_json_atomic, write_text_atomic

FORMAT_VERSION = 2


def _f32(values: np.ndarray) -> list[float]:
    return [float(str(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


# what each iouType needs beyond boxes: the Detections field and a model that predicts it
_EXTRA = {
    "segm": ("masks", "torchvision-maskrcnn or a Detectron2 Mask R-CNN config"),
    "keypoints": ("keypoints", "torchvision-keypointrcnn or a Detectron2 keypoint R-CNN config"),
}


def detections_to_rows(dets: Detections, iou_type: str = "bbox") -> list[list[Any]]:
    """``Detections`` -> ``[[x, y, w, h, score, category_id], ...]`` (COCO xywh boxes); for
    ``segm`` each row also holds the mask (compressed RLE), for ``keypoints`` the flat
    ``[x1, y1, v1, ...]`` list. InputError when the detector gives no masks / keypoints."""
    boxes = np.asarray(dets.boxes, dtype=np.float32).reshape(-1, 4)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    coords = _f32(xywh)
    scores = _f32(dets.scores)
    cats = [int(c) for c in np.asarray(dets.category_ids).ravel()]
    if not (len(scores) == len(cats) == len(coords) // 4):
        raise ValueError("detector returned boxes, scores and category_ids of different lengths")
    rows = [[*coords[4 * i : 4 * i + 4], scores[i], cats[i]] for i in range(len(scores))]
    if iou_type == "bbox" or not rows:
        return rows
    extra = _extra_column(dets, iou_type)
    if len(extra) != len(rows):
        name = _EXTRA[iou_type][0]
        raise ValueError(f"detector returned {len(extra)} {name} for {len(rows)} boxes")
    return [[*row, value] for row, value in zip(rows, extra, strict=True)]


def _extra_column(dets: Detections, iou_type: str) -> list[Any]:
    """The masks (RLE dicts) or flat keypoint lists of ``dets``, as the results file holds them."""
    name, models = _EXTRA[iou_type]
    values = getattr(dets, name)
    if values is None:
        raise InputError(
            f"--iou-type {iou_type}: the detector returns no {name}; use a model that predicts "
            f"them ({models}) or --iou-type bbox"
        )
    if iou_type == "segm":
        return [{"size": [int(v) for v in m["size"]], "counts": _text(m["counts"])} for m in values]
    flat = np.asarray(values, dtype=np.float32).reshape(len(values), -1)
    return [_f32(k) for k in flat]


def _text(counts: str | bytes) -> str:
    return counts.decode("ascii") if isinstance(counts, bytes) else counts


def rows_to_coco(image_id: int, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows of one image -> COCO results entries (with ``segmentation`` or ``keypoints`` where
    the rows hold them)."""
    entries = []
    for r in rows:
        entry = {"image_id": image_id, "category_id": int(r[5]), "bbox": list(r[:4]),
                 "score": r[4]}  # fmt: skip
        if len(r) > 6:
            entry["segmentation" if isinstance(r[6], dict) else "keypoints"] = r[6]
        entries.append(entry)
    return entries


def _parse_entry(line: bytes) -> dict[str, Any] | None:
    """A complete, valid progress line as its entry; None otherwise."""
    if not line.endswith(b"\n"):
        return None
    try:
        entry = json.loads(line)
        int(entry["image_id"])
    except (ValueError, KeyError, TypeError):
        return None
    return entry if isinstance(entry, dict) else None


#: Descriptors of the eval locks this process holds (see _release_in_child).
_HELD_LOCKS: set[int] = set()


def _release_in_child() -> None:
    """In a forked child (a DataLoader worker decoding images), let go of the parent's eval
    locks: flock belongs to the open file, which the child shares, so a worker that outlives a
    killed parent would otherwise keep the folder locked. Pointing the child's copies of the
    descriptors at /dev/null leaves the parent's lock as it is."""
    if not _HELD_LOCKS:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in _HELD_LOCKS:
        os.dup2(null, fd)
    os.close(null)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_in_child)


def _acquire(path: Path):
    """An open handle holding an exclusive lock on ``path`` (None without ``fcntl``), held by
    this process only: forked children do not keep it (:func:`_release_in_child`)."""
    try:
        import fcntl
    except ImportError:
        return None
    while True:
        handle = open(path, "a+b")  # noqa: SIM115  (held for the whole run)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise InputError(
                f"{path.parent} is in use by another eval (it holds {path.name}); wait for it "
                "to finish or choose another --output"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file a finishing run unlinked meanwhile
            _HELD_LOCKS.add(handle.fileno())
            return handle
        handle.close()


class RunFolder:
    """The output folder of one evaluation: settings check, progress log, final predictions."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.run_file = self.root / RUN_FILE
        self.progress_file = self.root / PROGRESS_FILE
        self.predictions_dir = self.root / PREDICTIONS_DIR

    def read_run(self) -> dict[str, Any] | None:
        """The recorded run (its config's fields and ``annotations_sha256``, flat); None when
        there is none. InputError when ``run.json`` is not an eval run of this format."""
        if not self.run_file.is_file():
            return None
        try:
            stored = json.loads(self.run_file.read_text(encoding="utf-8"))
            if not isinstance(stored["config"], dict):
                raise TypeError("config is not an object")
            older = {"iou_type": "bbox", "bands": [], "corruptions": [], "transforms": []}
            config = {**older, **stored["config"]}  # runs of earlier releases
            return {**config, "annotations_sha256": stored["annotations_sha256"]}
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{self.run_file} is unreadable; use another --output") from None

    def check_run(
        self, run: dict[str, Any], compared: Sequence[str], *, require_existing: bool
    ) -> bool:
        """Whether the folder already holds this run (the ``compared`` keys of ``run`` equal).
        InputError when it holds another run, something that is not an eval run, or
        (``require_existing``) nothing to resume."""
        stored = self.read_run()
        if stored is not None:
            diff = [k for k in compared if stored.get(k) != run.get(k)]
            if diff:
                details = "; ".join(f"{k}: {stored.get(k)!r} -> {run.get(k)!r}" for k in diff)
                raise InputError(
                    f"{self.root} holds a run with other settings ({details}); "
                    "re-run with the same settings to resume, or choose another --output"
                )
            return True
        if require_existing:
            raise InputError(f"--resume: {self.root} holds no eval run to resume")
        clashing = [p.name for p in (self.root / SUMMARY_FILE, self.predictions_dir) if p.exists()]
        if clashing:
            raise InputError(
                f"{self.root} already holds {', '.join(clashing)} but no {RUN_FILE}; "
                "choose another --output"
            )
        return False

    def start(self, config: dict[str, Any], annotations_sha256: str) -> None:
        """Record the run (before any prediction is written)."""
        if not self.run_file.is_file():
            record = {"format": FORMAT_VERSION, "config": config,
                      "annotations_sha256": annotations_sha256}  # fmt: skip
            write_json_atomic(self.run_file, record)

    def discard_unused(self) -> None:
        """Remove the run record and progress log of a run that finished no image."""
        if self.progress_file.is_file() and self.progress_file.stat().st_size == 0:
            self.progress_file.unlink()
        if not self.progress_file.exists():
            self.run_file.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one run; InputError at once when another process holds it.

        Creates the folder if needed and removes it again if the run leaves nothing else in it
        (a refused or failed start leaves nothing behind). Without ``fcntl`` (Windows) no lock.
        """
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--output {self.root} exists and is not a directory")
        created = [p for p in (self.root, *self.root.parents) if not p.exists()]
        self.root.mkdir(parents=True, exist_ok=True)
        handle = _acquire(self.root / LOCK_FILE)
        try:
            yield
        finally:
            if handle is not None:
                (self.root / LOCK_FILE).unlink(missing_ok=True)
                _HELD_LOCKS.discard(handle.fileno())
                handle.close()
            for folder in created:  # innermost first; stop at the first that holds something
                if any(folder.iterdir()):
                    break
                folder.rmdir()

    def _read_progress(self) -> tuple[dict[int, dict[str, Any]], list[bytes], int]:
        """The log's entries by image (the last line per image wins), its valid lines and the
        number of corrupt lines; the file is only read."""
        done: dict[int, dict[str, Any]] = {}
        good: list[bytes] = []
        corrupt = 0
        if not self.progress_file.is_file():
            return done, good, corrupt
        with open(self.progress_file, "rb") as f:
            for line in f:
                entry = _parse_entry(line)
                if entry is None:
                    corrupt += line.endswith(b"\n")  # a torn last line is not corruption
                    continue
                done[int(entry["image_id"])] = entry
                good.append(line)
        return done, good, corrupt

    def load_progress(self) -> tuple[dict[int, dict[str, Any]], int]:
        """Finished images (the last line per image wins) and the number of corrupt lines
        dropped. A torn last line is cut off; a corrupt line elsewhere is dropped and the file
        rewritten with every valid line kept."""
        done, good, corrupt = self._read_progress()
        exists = self.progress_file.is_file()
        if exists and sum(map(len, good)) != self.progress_file.stat().st_size:
            write_text_atomic(self.progress_file, b"".join(good).decode("utf-8"))
        return done, corrupt

    def finished_ids(self) -> set[int]:
        """The images a resume will not run again (logged as read and detected), read without
        touching the log: what an interrupted run has saved."""
        done, _, _ = self._read_progress()
        return {image_id for image_id, entry in done.items() if entry.get("ok")}

    def open_log(self):
        """Open ``progress.jsonl`` for appending (text, line-oriented)."""
        return open(self.progress_file, "a", encoding="utf-8")

    @staticmethod
    def append(log, entries: Sequence[dict[str, Any]]) -> None:
        """Append finished images and make them durable before returning."""
        if not entries:
            return
        log.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries))
        log.flush()
        os.fsync(log.fileno())

    def write_predictions(self, results: dict[str, list[dict[str, Any]]]) -> dict[str, Path]:
        """Write ``predictions/<variant>.json`` (COCO results); returns variant -> path."""
        written = {}
        for name, rows in results.items():
            path = self.predictions_dir / f"{name}.json"
            write_text_atomic(path, json.dumps(rows, separators=(",", ":")) + "\n")
            written[name] = path
        return written


def collect_results(
    image_ids: Sequence[int], done: dict[int, dict[str, Any]], variants: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Per variant, the COCO results of the finished images, in ``image_ids`` order."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for image_id in image_ids:
        entry = done.get(image_id)
        if entry and entry.get("ok"):
            for name in variants:
                results[name].extend(rows_to_coco(image_id, entry["dets"][name]))
    return results
