"""Predictions that survive a kill: an append-only log, one fsync'd JSON line per finished image.

An output folder of ``eval`` holds ``run.json`` (the settings that determine the results) and
``progress.jsonl``: one line per image, ``{"image_id": 1, "ok": true, "dets": {variant:
[[x, y, w, h, score, category_id], ...]}}`` or ``{"image_id": 1, "ok": false, "error": "..."}``.
A line is the image's completion marker: a torn last line (killed mid-write) is cut off on
resume. Numbers are stored as the shortest decimal that round-trips to float32, so the final
``predictions/<variant>.json`` files are identical whether or not the run was interrupted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.modeling.base import Detections
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_json_atomic, write_text_atomic

RUN_FILE = "run.json"
PROGRESS_FILE = "progress.jsonl"
FORMAT_VERSION = 1


def _f32(values: np.ndarray) -> list[float]:
    return [float(str(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


def detections_to_rows(dets: Detections) -> list[list[float | int]]:
    """``Detections`` -> ``[[x, y, w, h, score, category_id], ...]`` (COCO xywh boxes)."""
    boxes = np.asarray(dets.boxes, dtype=np.float32).reshape(-1, 4)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    coords = _f32(xywh)
    scores = _f32(dets.scores)
    cats = [int(c) for c in np.asarray(dets.category_ids).ravel()]
    if not (len(scores) == len(cats) == len(coords) // 4):
        raise ValueError("detector returned boxes, scores and category_ids of different lengths")
    return [[*coords[4 * i : 4 * i + 4], scores[i], cats[i]] for i in range(len(scores))]


def rows_to_coco(image_id: int, rows: Iterable[Sequence[float]]) -> list[dict[str, Any]]:
    """Rows of one image -> COCO results entries."""
    return [
        {"image_id": image_id, "category_id": int(r[5]), "bbox": list(r[:4]), "score": r[4]}
        for r in rows
    ]


class RunFolder:
    """The output folder of one evaluation: settings check, progress log, final predictions."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.run_file = self.root / RUN_FILE
        self.progress_file = self.root / PROGRESS_FILE
        self.predictions_dir = self.root / "predictions"

    def check_settings(self, settings: dict[str, Any], *, require_existing: bool) -> bool:
        """Whether the folder already holds this run. InputError when it holds another run,
        something that is not an eval run, or (``require_existing``) nothing to resume."""
        if self.run_file.is_file():
            try:
                stored = json.loads(self.run_file.read_text(encoding="utf-8"))["settings"]
                if not isinstance(stored, dict):
                    raise TypeError("settings is not an object")
            except (OSError, ValueError, KeyError, TypeError):
                raise InputError(f"{self.run_file} is unreadable; use another --output") from None
            if stored != settings:
                diff = sorted(
                    k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k)
                )
                details = "; ".join(f"{k}: {stored.get(k)!r} -> {settings.get(k)!r}" for k in diff)
                raise InputError(
                    f"{self.root} holds a run with other settings ({details}); "
                    "re-run with the same settings to resume, or choose another --output"
                )
            return True
        if require_existing:
            raise InputError(f"--resume: {self.root} holds no eval run to resume")
        clashing = [
            p.name for p in (self.root / "summary.json", self.predictions_dir) if p.exists()
        ]
        if clashing:
            raise InputError(
                f"{self.root} already holds {', '.join(clashing)} but no {RUN_FILE}; "
                "choose another --output"
            )
        return False

    def start(self, settings: dict[str, Any]) -> None:
        """Create the folder and record the settings (before any prediction is written)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.run_file.is_file():
            write_json_atomic(self.run_file, {"format": FORMAT_VERSION, "settings": settings})

    def load_progress(self) -> dict[int, dict[str, Any]]:
        """Finished images (the last line per image wins); cuts off a torn last line."""
        done: dict[int, dict[str, Any]] = {}
        if not self.progress_file.is_file():
            return done
        good_end = 0
        with open(self.progress_file, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    entry = json.loads(line)
                    image_id = int(entry["image_id"])
                except (ValueError, KeyError, TypeError):
                    break
                done[image_id] = entry
                good_end += len(line)
        if good_end != self.progress_file.stat().st_size:
            with open(self.progress_file, "r+b") as f:
                f.truncate(good_end)
        return done

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

    def write_predictions(
        self, image_ids: Sequence[int], done: dict[int, dict[str, Any]], variants: Sequence[str]
    ) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
        """Write ``predictions/<variant>.json`` (COCO results, images in ``image_ids`` order);
        returns variant -> (path, results)."""
        written = {}
        for name in variants:
            results: list[dict[str, Any]] = []
            for image_id in image_ids:
                entry = done.get(image_id)
                if entry and entry.get("ok"):
                    results.extend(rows_to_coco(image_id, entry["dets"][name]))
            path = self.predictions_dir / f"{name}.json"
            write_text_atomic(path, json.dumps(results, separators=(",", ":")) + "\n")
            written[name] = (path, results)
        return written
