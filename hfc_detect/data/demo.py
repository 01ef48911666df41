"""The bundled demo: a small, deterministic COCO-format dataset where frequency matters.

Each image (384 x 512 RGB, saved losslessly as PNG) shows 3 to 8 objects, many small, on a
textured, noisy background. Five categories differ by shape and by *fine texture*: a striped
disc and a plain disc have the same outline and differ only in sinusoidal stripes whose
frequency lies beyond radius 128 of the centred spectrum (as does the checkerboard that
separates a checkered square from a plain one). So the texture that tells these classes apart
lives entirely in the high-frequency component at ``--radius 128``, while shapes and colours
live mostly in the low-frequency one.

Image ``i`` of seed ``s`` depends only on ``(s, i)``, so a dataset with fewer images is a prefix
of one with more, and the same seed gives byte-identical files (with the same numpy/OpenCV).
``EVAL_SEED`` gives the held-out images ``hfc-detect eval`` uses; ``TRAIN_SEED`` the images
``tools/train_demo_detector.py`` trains on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hfc_detect.data.images import encode_png
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import atomic_dir, atomic_path, write_text_atomic

DEMO_VERSION = "demo-v1"  # names the cache folder: bump it whenever rendering changes
IMAGE_HEIGHT, IMAGE_WIDTH = 384, 512
EVAL_SEED = 0  # held-out images: what ``hfc-detect eval`` scores
TRAIN_SEED = 1  # training images: never evaluated on
DEMO_EVAL_IMAGES = 32  # images in the cached evaluation set

CATEGORIES: list[dict] = [
    {"id": 11, "name": "plain_disc", "supercategory": "disc"},
    {"id": 12, "name": "striped_disc", "supercategory": "disc"},
    {"id": 21, "name": "plain_square", "supercategory": "square"},
    {"id": 22, "name": "checkered_square", "supercategory": "square"},
    {"id": 31, "name": "triangle", "supercategory": "triangle"},
]
CATEGORY_IDS: tuple[int, ...] = tuple(c["id"] for c in CATEGORIES)

# Texture periods in pixels: every fundamental is at distance >= min(H, W) / period > 128 from
# the spectrum's centre, i.e. entirely in the HFC at radius 128.
_TEXTURE_PERIOD = (2.3, 2.8)
_TEXTURE_AMPLITUDE = 55.0
_OBJECT_SIZE = (14.0, 128.0)  # object diameter / side in pixels, drawn log-uniformly
_OBJECTS_PER_IMAGE = (3, 8)
_NOISE_SIGMA = 6.0


@dataclass(frozen=True)
class DemoObject:
    """One drawn object: its category and its tight box (x, y, w, h) and area in pixels."""

    category_id: int
    bbox: tuple[float, float, float, float]
    area: float


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth colour field plus mid-frequency clutter (faint lines and blobs), float (H, W, 3)."""
    h, w = IMAGE_HEIGHT, IMAGE_WIDTH
    ys = 2 * np.pi * np.arange(h)[:, None] / h
    xs = 2 * np.pi * np.arange(w)[None, :] / w
    img = np.empty((h, w, 3))
    base = rng.uniform(60, 190, size=3)
    for c in range(3):
        field = np.full((h, w), base[c])
        for _ in range(4):  # random plane waves of at most 4 cycles per image
            fy, fx = rng.uniform(-4, 4, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(8, 22)
            # cos(a + b) = cos a cos b - sin a sin b: two outer products instead of a full cos.
            a, b = fy * ys + phase, fx * xs
            field += amp * (np.cos(a) * np.cos(b) - np.sin(a) * np.sin(b))
        img[..., c] = field
    clutter = np.zeros((h, w, 3))
    for _ in range(int(rng.integers(4, 9))):
        p0 = rng.uniform([0, 0], [w, h])
        p1 = p0 + rng.uniform(-160, 160, size=2)
        colour = tuple(float(v) for v in rng.uniform(-35, 35, size=3))
        pts = np.round(np.stack([p0, p1]) * 16).astype(np.int32)
        cv2.line(
            clutter,
            tuple(pts[0]),
            tuple(pts[1]),
            colour,
            int(rng.integers(1, 4)),
            cv2.LINE_AA,
            shift=4,
        )
    for _ in range(int(rng.integers(2, 5))):
        centre = np.round(rng.uniform([0, 0], [w, h]) * 16).astype(np.int32)
        axes = np.round(rng.uniform(10, 60, size=2) * 16).astype(np.int32)
        colour = tuple(float(v) for v in rng.uniform(-25, 25, size=3))
        cv2.ellipse(
            clutter,
            tuple(centre),
            tuple(axes),
            float(rng.uniform(0, 180)),
            0,
            360,
            colour,
            -1,
            cv2.LINE_AA,
            shift=4,
        )
    return img + cv2.GaussianBlur(clutter, (0, 0), 1.5)


def _disc_coverage(cx: float, cy: float, r: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a disc, from the signed distance to its edge."""
    dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    return np.clip(r - dist + 0.5, 0.0, 1.0)


def _polygon_coverage(vertices: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a convex polygon: the largest signed distance to its
    edge lines (positive outside) approximates the distance to the outline."""
    centre = vertices.mean(axis=0)
    signed = np.full(xs.shape, -np.inf)
    for k in range(len(vertices)):
        (x0, y0), (x1, y1) = vertices[k], vertices[(k + 1) % len(vertices)]
        ex, ey = (x1 - x0) / np.hypot(x1 - x0, y1 - y0), (y1 - y0) / np.hypot(x1 - x0, y1 - y0)
        if (centre[0] - x0) * ey - (centre[1] - y0) * ex > 0:
            ex, ey = -ex, -ey  # orient the normal (ey, -ex) away from the centre
        signed = np.maximum(signed, (xs - x0) * ey - (ys - y0) * ex)
    return np.clip(0.5 - signed, 0.0, 1.0)


def _shape(category_id: int, cx: float, cy: float, size: float, angle: float) -> tuple:
    """(kind, params, tight box x0, y0, x1, y1, area) of an object's outline."""
    if category_id in (11, 12):
        r = size / 2
        return "disc", (cx, cy, r), (cx - r, cy - r, cx + r, cy + r), np.pi * r * r
    if category_id in (21, 22):
        n, radius, area = 4, size / np.sqrt(2), size * size
    else:
        n, radius, area = 3, size / np.sqrt(3), np.sqrt(3) / 4 * size * size
    t = angle + 2 * np.pi * np.arange(n) / n
    verts = np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], axis=1)
    box = (verts[:, 0].min(), verts[:, 1].min(), verts[:, 0].max(), verts[:, 1].max())
    return "polygon", verts, box, area


def _texture(category_id: int, ys: np.ndarray, xs: np.ndarray, rng: np.random.Generator):
    """Zero-mean fine texture for textured categories (None for plain ones)."""
    if category_id not in (12, 22):
        return None
    period = rng.uniform(*_TEXTURE_PERIOD)
    theta = rng.uniform(0, np.pi)
    u = xs * np.cos(theta) + ys * np.sin(theta)
    phase = rng.uniform(0, 2 * np.pi)
    if category_id == 12:  # stripes
        return _TEXTURE_AMPLITUDE * np.cos(2 * np.pi * u / period + phase)
    v = -xs * np.sin(theta) + ys * np.cos(theta)  # checkerboard: product of two gratings
    return (
        1.3
        * _TEXTURE_AMPLITUDE
        * np.cos(2 * np.pi * u / period + phase)
        * np.cos(2 * np.pi * v / period)
    )


def _overlaps(box: tuple, boxes: list[tuple]) -> bool:
    x0, y0, x1, y1 = box
    for a0, b0, a1, b1 in boxes:
        iw = min(x1, a1) - max(x0, a0)
        ih = min(y1, b1) - max(y0, b0)
        if iw > 0 and ih > 0:
            inter = iw * ih
            smaller = min((x1 - x0) * (y1 - y0), (a1 - a0) * (b1 - b0))
            if inter > 0.15 * smaller:
                return True
    return False


def render_demo_image(seed: int, index: int) -> tuple[np.ndarray, list[DemoObject]]:
    """Image ``index`` of seed ``seed``: (uint8 RGB (H, W, 3), its objects). Deterministic."""
    rng = np.random.default_rng([20201, int(seed), int(index)])
    img = _background(rng)
    objects: list[DemoObject] = []
    boxes: list[tuple] = []
    wanted = int(rng.integers(_OBJECTS_PER_IMAGE[0], _OBJECTS_PER_IMAGE[1] + 1))
    for _ in range(wanted * 20):
        if len(objects) == wanted:
            break
        category_id = CATEGORY_IDS[int(rng.integers(len(CATEGORY_IDS)))]
        size = float(np.exp(rng.uniform(*np.log(_OBJECT_SIZE))))
        cx, cy = rng.uniform([0, 0], [IMAGE_WIDTH, IMAGE_HEIGHT])
        kind, params, box, area = _shape(category_id, cx, cy, size, rng.uniform(0, 2 * np.pi))
        inside = box[0] >= 1 and box[1] >= 1
        inside = inside and box[2] <= IMAGE_WIDTH - 1 and box[3] <= IMAGE_HEIGHT - 1
        if not inside or _overlaps(box, boxes):
            continue
        x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
        x1, y1 = int(np.ceil(box[2])) + 1, int(np.ceil(box[3])) + 1
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        ys, xs = ys + 0.5, xs + 0.5  # pixel centres
        if kind == "disc":
            cover = _disc_coverage(*params, ys, xs)
        else:
            cover = _polygon_coverage(params, ys, xs)
        region = img[y0:y1, x0:x1]
        local = region.reshape(-1, 3).mean(axis=0)
        colour = rng.uniform(35, 220, size=3)
        if np.abs(colour - local).mean() < 55:  # keep objects visible against the background
            colour = np.where(local > 127, local - 90, local + 90)
        gx, gy = rng.uniform(-0.25, 0.25, size=2)
        shading = 1.0 + (gx * (xs - cx) + gy * (ys - cy)) / max(size, 1.0)
        fill = colour[None, None, :] * shading[..., None]
        texture = _texture(category_id, ys, xs, rng)
        if texture is not None:
            fill = fill + texture[..., None]
        region[...] = region * (1 - cover[..., None]) + fill * cover[..., None]
        boxes.append(box)
        bw, bh = box[2] - box[0], box[3] - box[1]
        objects.append(
            DemoObject(
                category_id,
                (
                    round(float(box[0]), 2),
                    round(float(box[1]), 2),
                    round(float(bw), 2),
                    round(float(bh), 2),
                ),
                round(float(area), 2),
            )
        )
    img += rng.normal(0.0, _NOISE_SIGMA, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), objects


def _check_args(num_images: int, seed: int) -> None:
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise InputError(f"num_images must be an integer >= 1, got {num_images!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")


def make_demo_dataset(
    root: str | os.PathLike, *, num_images: int = DEMO_EVAL_IMAGES, seed: int = EVAL_SEED
) -> tuple[Path, Path]:
    """Write the demo dataset into ``root``: ``images/*.png`` and ``annotations.json`` (COCO).

    Returns ``(annotations_json_path, images_dir)``. Each file is written atomically and the
    annotations last, so a complete ``annotations.json`` means every image is there.
    """
    _check_args(num_images, seed)
    root = Path(root)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(num_images):
        rgb, objects = render_demo_image(seed, index)
        file_name = f"demo_s{seed}_{index:05d}.png"
        with atomic_path(images_dir / file_name) as tmp:
            tmp.write_bytes(encode_png(rgb, compression=6))
        image_id = index + 1
        images.append(
            {"id": image_id, "file_name": file_name, "height": IMAGE_HEIGHT, "width": IMAGE_WIDTH}
        )
        for obj in objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": obj.category_id,
                    "bbox": list(obj.bbox),
                    "area": obj.area,
                    "iscrowd": 0,
                }
            )
    dataset = {
        "info": {
            "description": "hfc-toolkit synthetic demo dataset (see hfc_detect.data.demo)",
            "version": DEMO_VERSION,
            "seed": seed,
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    ann_path = write_text_atomic(root / "annotations.json", json.dumps(dataset, indent=1) + "\n")
    return ann_path, images_dir


def demo_cache_root() -> Path:
    """Where generated data is cached: ``$HFC_CACHE``, else ``$XDG_CACHE_HOME/hfc-toolkit``,
    else ``~/.cache/hfc-toolkit``."""
    if os.environ.get("HFC_CACHE"):
        return Path(os.environ["HFC_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "hfc-toolkit"


def ensure_demo_dataset(cache_root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The evaluation demo set (``EVAL_SEED``, ``DEMO_EVAL_IMAGES`` images), generated on first
    use into ``<cache_root>/demo-v1`` and reused afterwards.

    It is generated in a temporary folder and renamed into place, so a crash or a concurrent
    run never leaves a half-written dataset behind. Returns ``(annotations_json, images_dir)``.
    """
    root = Path(cache_root) if cache_root is not None else demo_cache_root()
    target = root / DEMO_VERSION
    ann, images = target / "annotations.json", target / "images"
    if ann.is_file() and images.is_dir():
        return ann, images
    if target.exists():
        raise InputError(
            f"{target} exists but is not a complete demo dataset; delete it to regenerate"
        )
    try:
        with atomic_dir(target) as tmp:
            make_demo_dataset(tmp, num_images=DEMO_EVAL_IMAGES, seed=EVAL_SEED)
    except OSError:
        if not ann.is_file():  # not a concurrent run that finished first
            raise
    return ann, images
