"""Benchmark: what do the ``ultralytics`` and ``transformers`` backends cost on this machine?

For each framework: the import time (in a fresh interpreter, torch already imported, best of
``--repeats``) and the wall time of ``hfc-detect eval --radius 128`` (original, LFC, HFC) on the
first ``--images`` images of an annotation file, from the command line to the written report,
best of ``--repeats``. The models are full-size architectures with seeded random weights
(no download): YOLOv8n built from ``yolov8n.yaml`` at 640 and the default ``RTDetrConfig``
(RT-DETR R50-vd) with a 640x640 processor, both with COCO's class names. Run it with a Python
that has both frameworks (e.g. a virtual environment with ``--system-site-packages``):

    python tools/bench_framework_backends.py --annotations GT.json --images-dir DIR --images 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = {
    "ultralytics": "from ultralytics import YOLO",
    "transformers": "from transformers import AutoImageProcessor, AutoModelForObjectDetection",
}


def import_seconds(framework: str, repeats: int) -> float:
    """Best wall time of importing ``framework`` after torch, in a fresh interpreter."""
    code = (
        "import time, torch; t = time.perf_counter(); "
        f"{IMPORTS[framework]}; print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()[-1])
        for _ in range(repeats)
    ]  # fmt: skip
    return min(runs)


def save_models(folder: Path, names: list[str]) -> dict[str, str]:
    """The two full-size random-weight models, saved as users' checkpoints would be."""
    import torch
    import transformers
    from ultralytics import YOLO

    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")
    yolo.model.names = dict(enumerate(names))
    yolo.ckpt["train_args"] = {"imgsz": 640, "task": "detect"}
    yolo.save(folder / "yolov8n.pt")
    id2label = dict(enumerate(names))
    config = transformers.RTDetrConfig(
        id2label=id2label, label2id={n: i for i, n in id2label.items()}
    )
    transformers.RTDetrForObjectDetection(config).save_pretrained(folder / "rtdetr")
    processor = transformers.RTDetrImageProcessor(size={"height": 640, "width": 640})
    processor.save_pretrained(folder / "rtdetr")
    return {"ultralytics": str(folder / "yolov8n.pt"), "transformers": str(folder / "rtdetr")}


def eval_seconds(backend: str, weights: str, annotations: Path, images: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "hfc_detect", "eval", "--radius", "128", "--annotations",
         str(annotations), "--images", str(images), "--backend", backend, "--weights", weights,
         "--no-progress", "-o", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--images-dir", type=Path, required=True)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from hfc_detect.pipeline.inputs import write_subset_annotations

    data = json.loads(args.annotations.read_text())
    ids = [img["id"] for img in sorted(data["images"], key=lambda im: im["id"])[: args.images]]
    names = [c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subset = write_subset_annotations(data, ids, folder / "gt.json")
        models = save_models(folder, names)
        for framework, weights in models.items():
            out = folder / framework
            runs = [
                eval_seconds(framework, weights, subset, args.images_dir, out.with_suffix(f".{i}"))
                for i in range(args.repeats)
            ]
            results[framework] = {
                "import_s": round(import_seconds(framework, args.repeats), 2),
                f"eval_{args.images}_images_s": round(min(runs), 2),
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
