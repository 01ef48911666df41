"""Draw ground truth, detections and gained/lost objects on an RGB image for the report gallery.

One style per kind of box, shared with the report's legend (:data:`STYLES`), so that a reader
can tell them apart on any panel: thin ground truth, thin detections with score, thick gained and
lost objects (different colour and label).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# kind -> (RGB colour, line thickness, legend text)
STYLES: dict[str, tuple[tuple[int, int, int], int, str]] = {
    "gt": ((255, 215, 0), 1, "ground truth"),
    "det": ((0, 190, 255), 1, "detection (score >= threshold)"),
    "gained": ((0, 230, 64), 3, "gained: found here, missed on the original"),
    "lost": ((255, 0, 200), 3, "lost: found on the original, missed here"),
}


def _box(
    canvas: np.ndarray, bbox: Sequence[float], kind: str, label: str | None, font_scale: float
) -> None:
    import cv2

    colour, thickness, _ = STYLES[kind]
    x, y, w, h = (float(v) for v in bbox)
    p1 = (round(x), round(y))
    p2 = (round(x + w), round(y + h))
    cv2.rectangle(canvas, p1, p2, colour, thickness, cv2.LINE_AA)
    if label:
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        top = max(p1[1] - th - base - 1, 0)
        cv2.rectangle(canvas, (p1[0], top), (p1[0] + tw + 2, top + th + base + 1), colour, -1)
        cv2.putText(
            canvas,
            label,
            (p1[0] + 1, top + th),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )


def draw_objects(
    image: np.ndarray,
    *,
    gts: Sequence[Mapping[str, Any]] = (),
    dets: Sequence[Mapping[str, Any]] = (),
    gained: Sequence[Mapping[str, Any]] = (),
    lost: Sequence[Mapping[str, Any]] = (),
    score_threshold: float = 0.5,
    category_names: Mapping[int, str] | None = None,
) -> np.ndarray:
    """A copy of ``image`` (RGB uint8, (H, W, 3)) with the boxes drawn; detections below
    ``score_threshold`` are left out. Gained/lost are drawn last so they stay on top."""
    names = category_names or {}
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    font_scale = max(0.35, min(canvas.shape[:2]) / 1200)
    for g in gts:
        if not g.get("iscrowd", 0):
            _box(canvas, g["bbox"], "gt", None, font_scale)
    for d in dets:
        if d["score"] >= score_threshold:
            name = names.get(d["category_id"], str(d["category_id"]))
            _box(canvas, d["bbox"], "det", f"{name} {d['score']:.2f}", font_scale)
    for kind, objects in (("gained", gained), ("lost", lost)):
        for g in objects:
            name = names.get(g["category_id"], str(g["category_id"]))
            _box(canvas, g["bbox"], kind, f"{kind[0].upper()}: {name}", font_scale)
    return canvas


def placeholder(height: int = 240, width: int = 320, text: str = "image not found") -> np.ndarray:
    """A grey RGB panel with ``text``, shown where an image file is missing."""
    import cv2

    canvas = np.full((height, width, 3), 200, dtype=np.uint8)
    cv2.putText(
        canvas, text, (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (60, 60, 60), 1, cv2.LINE_AA
    )
    return canvas
