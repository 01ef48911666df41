"""Draw ground truth, detections and gained/lost objects on an RGB image for the report gallery.

One style per kind of box, shared with the report's legend (:data:`STYLES`), so that a reader
can tell them apart on any panel: thin ground truth, thin detections with score, thick gained and
lost objects (different colour and label). Labels are sized for the page: a panel is shown at
most :data:`PANEL_MAX_WIDTH` x :data:`PANEL_MAX_HEIGHT` CSS pixels (the report's stylesheet uses
the same numbers), and a label's text is :data:`LABEL_TEXT_PX` CSS pixels tall at that size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PANEL_MAX_WIDTH = 480  # CSS pixels: three panels side by side on a 1500 px page
PANEL_MAX_HEIGHT = 420
LABEL_TEXT_PX = 12  # height of a label's capital letters on the page, in CSS pixels

#: The tag before the category name on a gained or lost object's label ("L: airplane").
TAGS = {"gained": "G", "lost": "L"}
# kind -> (RGB colour, line thickness, legend text); the legend names the tags as drawn
STYLES: dict[str, tuple[tuple[int, int, int], int, str]] = {
    "gt": ((255, 215, 0), 1, "ground truth"),
    "det": ((0, 190, 255), 1, "detection (score >= threshold)"),
    "gained": ((0, 230, 64), 3, f"{TAGS['gained']}: gained, found here, missed on the original"),
    "lost": ((255, 0, 200), 3, f"{TAGS['lost']}: lost, found on the original, missed here"),
}


def label_font(height: int, width: int) -> tuple[float, int]:
    """OpenCV font scale and stroke for labels on a ``height`` x ``width`` panel, so that the
    text is :data:`LABEL_TEXT_PX` CSS pixels tall where the page shrinks the panel to fit
    :data:`PANEL_MAX_WIDTH` x :data:`PANEL_MAX_HEIGHT` (never shown larger than its size)."""
    import cv2

    shrink = max(width / PANEL_MAX_WIDTH, height / PANEL_MAX_HEIGHT, 1.0)
    (_, unit), _ = cv2.getTextSize("H", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    scale = LABEL_TEXT_PX * shrink / unit
    return scale, max(1, round(scale * 1.5))


def _box(
    canvas: np.ndarray,
    bbox: Sequence[float],
    kind: str,
    label: str | None,
    font: tuple[float, int],
) -> None:
    import cv2

    colour, thickness, _ = STYLES[kind]
    x, y, w, h = (float(v) for v in bbox)
    p1 = (round(x), round(y))
    p2 = (round(x + w), round(y + h))
    cv2.rectangle(canvas, p1, p2, colour, thickness, cv2.LINE_AA)
    if label:
        scale, stroke = font
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, stroke)
        top = max(p1[1] - th - base - 1, 0)
        cv2.rectangle(canvas, (p1[0], top), (p1[0] + tw + 2, top + th + base + 1), colour, -1)
        cv2.putText(
            canvas,
            label,
            (p1[0] + 1, top + th),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            stroke,
            cv2.LINE_AA,
        )


def _outline(canvas: np.ndarray, obj: Mapping[str, Any], kind: str) -> None:
    """Draw an object's mask outline (``segmentation``, compressed RLE) or its labelled
    keypoints (``keypoints``, (K, 3); points at (0, 0) are unlabelled) where it has them."""
    import cv2

    colour, thickness, _ = STYLES[kind]
    rle = obj.get("segmentation")
    if isinstance(rle, dict) and list(rle.get("size", ())) == list(canvas.shape[:2]):
        from pycocotools import mask as mask_utils

        mask = np.ascontiguousarray(mask_utils.decode(dict(rle)))  # counts: text or bytes
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, colour, thickness, cv2.LINE_AA)
    for x, y, *_ in obj.get("keypoints") or ():
        if x or y:
            cv2.circle(canvas, (round(x), round(y)), thickness + 1, colour, -1, cv2.LINE_AA)


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
    """A copy of ``image`` (RGB uint8, (H, W, 3)) with the boxes drawn, and the outlines of
    masks and the keypoints of objects that have them; detections below ``score_threshold``
    are left out. Gained/lost are drawn last so they stay on top."""
    names = category_names or {}
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    font = label_font(*canvas.shape[:2])
    for g in gts:
        if not g.get("iscrowd", 0):
            _box(canvas, g["bbox"], "gt", None, font)
            _outline(canvas, g, "gt")
    for d in dets:
        if d["score"] >= score_threshold:
            name = names.get(d["category_id"], str(d["category_id"]))
            _box(canvas, d["bbox"], "det", f"{name} {d['score']:.2f}", font)
            _outline(canvas, d, "det")
    for kind, objects in (("gained", gained), ("lost", lost)):
        for g in objects:
            name = names.get(g["category_id"], str(g["category_id"]))
            _box(canvas, g["bbox"], kind, f"{TAGS[kind]}: {name}", font)
            _outline(canvas, g, kind)
    return canvas


def placeholder(height: int = 240, width: int = 320, text: str = "image not found") -> np.ndarray:
    """A grey RGB panel with ``text``, shown where an image file is missing."""
    import cv2

    canvas = np.full((height, width, 3), 200, dtype=np.uint8)
    cv2.putText(
        canvas, text, (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (60, 60, 60), 1, cv2.LINE_AA
    )
    return canvas
