"""A COCO-trained YOLOX model exported to ONNX (e.g. YOLOX-Nano) as a Detector, via onnxruntime.

Pre- and post-processing follow YOLOX's own inference code:

- letterbox: resize by ``r = min(H_in / h, W_in / w)`` to ``(int(w r), int(h r))`` with bilinear
  interpolation (OpenCV), place the result at the top-left of an ``H_in x W_in`` canvas of 114;
  BGR, pixels on the 0..255 scale, no normalisation. Original images (uint8 values) are resized
  as uint8 exactly like YOLOX's ``preproc``; LFC/HFC images are resized as float32, unclipped;
- decode the raw head output over the stride-8/16/32 grids: ``cx = (v + grid_x) * stride``,
  ``w = exp(v) * stride``;
- score = objectness x class score; every (box, class) pair above ``score_threshold`` is a
  candidate; non-maximum suppression per class at IoU ``nms_threshold``; the ``max_detections``
  best-scoring detections are kept; boxes are divided by ``r`` (original image coordinates);
- contiguous class k is the k-th COCO category id in ascending order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# Imported with the module, not on the first ``decode``: torchvision's first import runs
# ``torch.fx.wrap``, which keeps its callers' frames alive, and inside a detection call that
# pinned the first batch's images and variants for the rest of the run (275 MB and more at 24
# megapixels).
from torchvision.ops import batched_nms

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.common import COCO_CATEGORY_IDS, as_exact_uint8, parse_overrides
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import require

STRIDES = (8, 16, 32)
PAD_VALUE = 114.0
ONNXRUNTIME_HINT = "install it with pip install onnxruntime (or this project's [onnx] extra)"


def letterbox(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """Resize an (H, W, 3) image into a ``height x width`` canvas of 114 (top-left) keeping
    its aspect ratio; return the (3, height, width) float32 canvas and the resize ratio."""
    import cv2

    h, w = image.shape[:2]
    ratio = min(height / h, width / w)
    new_w, new_h = max(1, int(w * ratio)), max(1, int(h * ratio))
    exact = as_exact_uint8(image)
    if exact is not None:
        resized = cv2.resize(exact, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    else:  # plane by plane: the same numbers, and a channels-first view is resized uncopied
        planes = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
        resized = np.stack(
            [cv2.resize(p, (new_w, new_h), interpolation=cv2.INTER_LINEAR) for p in planes], -1
        )
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.float32)
    canvas[:new_h, :new_w] = resized
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)), ratio


def grids(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) cell of every output row and its stride, rows ordered stride by stride and
    row-major within a stride, as YOLOX's head flattens them."""
    cells, strides = [], []
    for stride in STRIDES:
        ys, xs = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full(xs.size, stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


class OnnxYoloxDetector:
    """YOLOX (80 COCO classes, raw decode-free ONNX export) run by onnxruntime."""

    channel_order = "BGR"

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str | torch.device | None = None,
        score_threshold: float = 0.001,
        nms_threshold: float = 0.65,
        max_detections: int = 100,
        threads: int | None = None,
    ) -> None:
        ort = require("onnxruntime", purpose="the onnx-yolox backend", install=ONNXRUNTIME_HINT)
        path = Path(weights)
        if not path.is_file():
            raise InputError(f"ONNX model {path} does not exist")
        if not 0 <= score_threshold < 1 or not 0 < nms_threshold <= 1 or max_detections < 1:
            raise InputError(
                "onnx-yolox: need 0 <= score_threshold < 1, 0 < nms_threshold <= 1, "
                f"max_detections >= 1 (got {score_threshold}, {nms_threshold}, {max_detections})"
            )
        if threads is None:  # torch's CPU budget (eval sets it so the cores are not oversubscribed)
            threads = torch.get_num_threads()
        if threads < 0:
            raise InputError(f"onnx-yolox: threads must be >= 0, got {threads}")
        providers = ["CPUExecutionProvider"]
        wanted = torch.device(device) if device is not None else None
        if (wanted is None or wanted.type == "cuda") and (
            "CUDAExecutionProvider" in ort.get_available_providers()
        ):
            providers.insert(0, "CUDAExecutionProvider")
        session_options = ort.SessionOptions()
        if threads > 0:  # no spinning: kind to machines shared with other jobs
            session_options.intra_op_num_threads = threads
            session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), session_options, providers=providers)
        except Exception as exc:
            raise InputError(f"cannot load ONNX model {path}: {exc}".splitlines()[0]) from None
        (model_input,) = self.session.get_inputs()
        shape = model_input.shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]) or shape[1] != 3:
            raise InputError(f"ONNX model {path}: expected input (N, 3, H, W), got {shape}")
        self._input_name = model_input.name
        self.input_size = (shape[2], shape[3])
        self._batched = not isinstance(shape[0], int) or shape[0] != 1
        self._cells, self._strides = grids(*self.input_size)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_detections = max_detections
        self.device = torch.device("cpu")  # onnxruntime takes host arrays

    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        canvases, ratios = [], []
        for image in images:
            if image.ndim != 3 or image.shape[0] != 3:
                raise InputError(f"expected a (3, H, W) image tensor, got {tuple(image.shape)}")
            hwc = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
            canvas, ratio = letterbox(hwc, *self.input_size)
            canvases.append(canvas)
            ratios.append(ratio)
        if not canvases:
            return []
        if self._batched:
            outputs = list(self.session.run(None, {self._input_name: np.stack(canvases)})[0])
        else:
            outputs = [self.session.run(None, {self._input_name: c[None]})[0][0] for c in canvases]
        return [self.decode(raw, ratio) for raw, ratio in zip(outputs, ratios, strict=True)]

    def decode(self, raw: np.ndarray, ratio: float) -> Detections:
        """Turn one image's raw (rows, 5 + 80) output into detections in original coordinates."""
        if raw.shape != (len(self._strides), 5 + len(COCO_CATEGORY_IDS)):
            raise InputError(
                f"ONNX model output {raw.shape} is not ({len(self._strides)}, 85): not a raw "
                "80-class YOLOX export"
            )
        centres = (raw[:, :2] + self._cells) * self._strides[:, None]
        sizes = np.exp(raw[:, 2:4]) * self._strides[:, None]
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        scores = raw[:, 4:5] * raw[:, 5:]
        rows, classes = np.nonzero(scores > self.score_threshold)
        candidate_scores = scores[rows, classes]
        keep = batched_nms(
            torch.from_numpy(boxes[rows]),
            torch.from_numpy(candidate_scores),
            torch.from_numpy(classes),
            self.nms_threshold,
        ).numpy()[: self.max_detections]
        return Detections(
            boxes=boxes[rows[keep]].astype(np.float64) / ratio,
            scores=candidate_scores[keep].astype(np.float64),
            category_ids=np.asarray(COCO_CATEGORY_IDS, dtype=np.int64)[classes[keep]],
        )


def build_onnx_yolox(
    *,
    weights: str | Path,
    device: str | torch.device | None = None,
    score_threshold: float = 0.001,
    nms_threshold: float = 0.65,
    max_detections: int = 100,
    threads: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
) -> OnnxYoloxDetector:
    """Build the onnx-yolox backend; ``weights`` (the ``.onnx`` file) is required.

    ``overrides`` may set ``score_threshold``, ``nms_threshold``, ``max_detections`` and
    ``threads`` (onnxruntime's intra-op threads without spinning; default torch's CPU thread
    count, which ``eval`` sets not to oversubscribe the cores; 0: onnxruntime's own default), e.g.
    ``--set score_threshold=0.01``.
    """
    options = {
        "score_threshold": score_threshold,
        "nms_threshold": nms_threshold,
        "max_detections": max_detections,
        "threads": threads,
    }
    for key, value in parse_overrides(overrides):
        if key not in options:
            raise InputError(f"--set {key}: onnx-yolox options are {', '.join(options)}")
        kind = int if key == "threads" else type(options[key])
        try:
            options[key] = kind(value)
        except ValueError:
            raise InputError(f"--set {key}={value}: not a {kind.__name__}") from None
    return OnnxYoloxDetector(weights, device=device, **options)
