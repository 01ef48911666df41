"""The ground truth and detections behind a comparison folder, grouped by image.

``summary.json`` names the annotations file and each variant's predictions file; the reports
need them to say which objects make an image's AP differ and to draw boxes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfc_detect.reports.folder import Comparison
from hfc_detect.utils.errors import InputError


@dataclass(frozen=True)
class ObjectSources:
    """Annotations and detections per image id, and the category names."""

    gts: dict[int, list[dict[str, Any]]]
    dets: dict[str, dict[int, list[dict[str, Any]]]]
    category_names: dict[int, str]

    def image_gts(self, image_id: int) -> list[dict[str, Any]]:
        return self.gts.get(image_id, [])

    def image_dets(self, variant: str, image_id: int) -> list[dict[str, Any]]:
        return self.dets.get(variant, {}).get(image_id, [])


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found (named in summary.json)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def _group(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        out[int(item["image_id"])].append(item)
    return dict(out)


def load_sources(comparison: Comparison, variants: list[str]) -> ObjectSources:
    """Read the annotations and the predictions of ``variants`` named in the summary."""
    ann_path = comparison.summary.get("annotations")
    if not ann_path:
        raise InputError(f"{comparison.root / 'summary.json'}: no annotations path recorded")
    ann = _read_json(Path(ann_path), "annotations")
    if not isinstance(ann, dict) or not isinstance(ann.get("annotations"), list):
        raise InputError(f"{ann_path}: not a COCO annotations file (no 'annotations' list)")
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in ann.get("categories", [])}
    dets = {}
    for name in variants:
        pred_path = comparison.variant(name).get("predictions")
        if not pred_path:
            raise InputError(
                f"{comparison.root / 'summary.json'}: variant {name!r} has no predictions file "
                "(given in memory); its objects cannot be matched"
            )
        preds = _read_json(Path(pred_path), "predictions")
        if not isinstance(preds, list):
            raise InputError(f"{pred_path}: not a COCO results file (expected a JSON list)")
        dets[name] = _group(preds)
    return ObjectSources(gts=_group(ann["annotations"]), dets=dets, category_names=names)
