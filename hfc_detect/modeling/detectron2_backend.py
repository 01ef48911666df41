"""Detectron2 models (default: RetinaNet R50-FPN 1x, the paper's Sec. 7) as a Detector.

Each image goes through Detectron2's own test-time path, as ``DatasetMapper(cfg, is_train=False)``
and ``inference_on_dataset`` run it: the ``build_augmentation(cfg, is_train=False)`` resize
(``ResizeShortestEdge(MIN_SIZE_TEST, MAX_SIZE_TEST)``) applied through ``T.AugInput`` to the
(H, W, C) array, then ``model([{"image": CHW tensor, "height": h, "width": w}])``, one image per
forward pass (Detectron2's test loader uses batch size 1; batching pads images and changes
detections near the borders). Detectron2's ``ResizeTransform`` resizes uint8 arrays with PIL and
float arrays with ``torch.nn.functional.interpolate``; original images (float tensors holding
uint8 values) are handed over as uint8, so they take exactly the path of an image read from
disk, while LFC/HFC images take Detectron2's float path, unclipped.

Detectron2 is imported only when this backend is built.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.common import COCO_CATEGORY_IDS, as_exact_uint8, parse_overrides
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import require
from hfc_detect.utils.torch_tools import resolve_device

DEFAULT_CONFIG = "COCO-Detection/retinanet_R_50_FPN_1x.yaml"
#: Its model zoo checkpoint (37.4 box AP on val2017), as ``model_zoo.get_checkpoint_url`` gives it.
DEFAULT_WEIGHTS = (
    "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/retinanet_R_50_FPN_1x/"
    "190397773/model_final_bfca0b.pkl"
)
INSTALL_HINT = (
    "install it with pip install 'git+https://github.com/facebookresearch/detectron2.git' "
    "(see its INSTALL.md), or use --backend torchvision, --backend onnx-yolox, "
    "or your own package.module:Class"
)


def _import(module: str) -> Any:
    return require(module, purpose="the detectron2 backend", install=INSTALL_HINT)


def category_ids_for(cfg: Any, dataset: str | None = None) -> np.ndarray:
    """COCO category id of each contiguous class of ``cfg``'s model.

    Taken from the dataset metadata's ``thing_dataset_id_to_contiguous_id`` (``dataset``, else
    ``cfg.DATASETS.TEST[0]``; Detectron2 registers COCO's), else the standard 80-class COCO map.
    """
    metadata_catalog = _import("detectron2.data").MetadataCatalog
    if cfg.MODEL.META_ARCHITECTURE == "RetinaNet":
        num_classes = cfg.MODEL.RETINANET.NUM_CLASSES
    else:
        num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    name = dataset or (cfg.DATASETS.TEST[0] if cfg.DATASETS.TEST else None)
    mapping = getattr(metadata_catalog.get(name), "thing_dataset_id_to_contiguous_id", None)
    if mapping:
        ids = [dataset_id for dataset_id, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
    elif num_classes == len(COCO_CATEGORY_IDS):
        ids = list(COCO_CATEGORY_IDS)
    else:
        raise InputError(
            f"detectron2: no category map for dataset {name!r} and the model has {num_classes} "
            "classes, not COCO's 80; register the dataset's metadata in Detectron2"
        )
    if len(ids) != num_classes:
        raise InputError(
            f"detectron2: dataset {name!r} has {len(ids)} categories, the model {num_classes}"
        )
    return np.asarray(ids, dtype=np.int64)


class Detectron2Detector:
    """A built Detectron2 model in eval mode, fed exactly as Detectron2's test path feeds it."""

    def __init__(self, cfg: Any, model: torch.nn.Module, category_ids: np.ndarray) -> None:
        transforms = _import("detectron2.data.transforms")
        detection_utils = _import("detectron2.data.detection_utils")
        if cfg.INPUT.FORMAT not in ("RGB", "BGR"):
            raise InputError(f"detectron2: INPUT.FORMAT {cfg.INPUT.FORMAT!r} is not RGB or BGR")
        self.cfg = cfg
        self.model = model.eval()
        self.channel_order = cfg.INPUT.FORMAT
        self.device = torch.device(cfg.MODEL.DEVICE)
        self.category_ids = category_ids
        self._transforms = transforms
        self._augmentation = transforms.AugmentationList(
            detection_utils.build_augmentation(cfg, is_train=False)
        )

    def model_input(self, image: torch.Tensor) -> dict[str, Any]:
        """The dict ``DatasetMapper(cfg, is_train=False)`` would give for this (C, H, W) image."""
        if image.ndim != 3 or image.shape[0] != 3:
            raise InputError(f"expected a (3, H, W) image tensor, got {tuple(image.shape)}")
        array = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
        exact = as_exact_uint8(array)
        aug_input = self._transforms.AugInput(exact if exact is not None else array)
        self._augmentation(aug_input)
        resized = np.ascontiguousarray(aug_input.image.transpose(2, 0, 1))
        return {
            "image": torch.as_tensor(resized),
            "height": array.shape[0],
            "width": array.shape[1],
        }

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor]) -> list[Detections]:
        results = []
        for image in images:
            instances = self.model([self.model_input(image)])[0]["instances"].to("cpu")
            classes = instances.pred_classes.numpy()
            results.append(
                Detections(
                    boxes=instances.pred_boxes.tensor.double().numpy().reshape(-1, 4),
                    scores=instances.scores.double().numpy(),
                    category_ids=self.category_ids[classes],
                )
            )
        return results


def _model_zoo() -> Any | None:
    """``detectron2.model_zoo``, or None where it cannot be imported because it needs
    ``pkg_resources``, which setuptools >= 81 no longer ships."""
    try:
        import detectron2.model_zoo as model_zoo
    except ImportError as exc:
        if exc.name == "pkg_resources":
            return None
        _import("detectron2.model_zoo")  # raises the one-line error
    return model_zoo


def zoo_config_file(name: str) -> str | None:
    """The installed model zoo config ``name`` (e.g. ``COCO-Detection/...yaml``), or None."""
    model_zoo = _model_zoo()
    if model_zoo is not None:
        try:
            return model_zoo.get_config_file(name)
        except RuntimeError:
            return None
    package = importlib.util.find_spec("detectron2")
    for folder in package.submodule_search_locations if package else []:
        path = Path(folder) / "model_zoo" / "configs" / name
        if path.is_file():
            return str(path)
    return None


def zoo_checkpoint_url(name: str) -> str:
    """The URL of the model zoo checkpoint trained with config ``name``."""
    model_zoo = _model_zoo()
    if model_zoo is not None:
        try:
            return model_zoo.get_checkpoint_url(name)
        except RuntimeError:
            pass
    elif name.removesuffix(".yaml") == DEFAULT_CONFIG.removesuffix(".yaml"):
        return DEFAULT_WEIGHTS
    raise InputError(
        f"no model zoo weights known for {name} (detectron2.model_zoo "
        f"{'lists none' if model_zoo else 'needs pkg_resources: pip install setuptools<81'}); "
        "pass --weights PATH or URL"
    )


def _config_path(config_file: str) -> tuple[str, bool]:
    """A local config file, or a model zoo name; returns (path, is_zoo)."""
    if Path(config_file).is_file():
        return config_file, False
    path = zoo_config_file(config_file)
    if path is None:
        raise InputError(
            f"--config-file {config_file!r} is neither a file nor a Detectron2 model zoo config "
            "(e.g. COCO-Detection/retinanet_R_50_FPN_1x.yaml)"
        )
    return path, True


def _fetch_weights(weights: str) -> None:
    """Make sure ``weights`` can be read (downloading and caching a URL, as Detectron2's
    checkpointer would), turning failures into one-line errors."""
    if not weights:
        return  # "" means random initialisation, as in Detectron2
    if "://" not in weights:
        if not Path(weights).is_file():
            raise InputError(f"weights file {weights} does not exist")
        return
    path_manager = _import("detectron2.utils.file_io").PathManager
    try:
        path_manager.get_local_path(weights)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(
            f"cannot fetch weights {weights} ({detail}); offline? download the file elsewhere "
            "and pass --weights PATH"
        ) from None


def build_detectron2(
    *,
    config_file: str | None = None,
    weights: str | None = None,
    overrides: Sequence[str] = (),
    device: str | torch.device | None = None,
    dataset: str | None = None,
) -> Detectron2Detector:
    """Build a Detectron2 model from a config and its weights, ready for :meth:`detect`.

    ``config_file``: a YAML file or a model zoo name (default ``DEFAULT_CONFIG``).
    ``overrides``: ``KEY=VALUE`` config changes applied with ``merge_from_list`` (``--set``).
    ``weights``: a local checkpoint or URL; by default the model zoo checkpoint of a zoo config
    (unless ``--set MODEL.WEIGHTS=...``), else the config's ``MODEL.WEIGHTS``; ``""`` gives
    random weights. ``device``: overrides ``MODEL.DEVICE`` unless ``--set MODEL.DEVICE`` names
    another device type (``--set MODEL.DEVICE=cpu`` on a GPU machine); when neither is given
    and CUDA is unavailable, the CPU. ``dataset``: whose metadata maps classes to category ids.
    """
    config = _import("detectron2.config")
    modeling = _import("detectron2.modeling")
    checkpoint = _import("detectron2.checkpoint")

    path, is_zoo = _config_path(config_file or DEFAULT_CONFIG)
    cfg = config.get_cfg()
    try:
        cfg.merge_from_file(path)
        pairs = parse_overrides(overrides)
        cfg.merge_from_list([item for pair in pairs for item in pair])
    except InputError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputError(f"detectron2 config {path}: {type(exc).__name__}: {detail}") from None
    if weights is not None:
        cfg.MODEL.WEIGHTS = str(weights)
    elif is_zoo and "MODEL.WEIGHTS" not in {key for key, _ in pairs}:
        cfg.MODEL.WEIGHTS = zoo_checkpoint_url(config_file or DEFAULT_CONFIG)
    set_device = dict(pairs).get("MODEL.DEVICE")
    if device is not None and (
        set_device is None or resolve_device(cfg.MODEL.DEVICE).type == resolve_device(device).type
    ):
        cfg.MODEL.DEVICE = str(device)  # e.g. eval's cuda:<local rank> under torch.distributed
    elif cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()

    _fetch_weights(cfg.MODEL.WEIGHTS)
    category_ids = category_ids_for(cfg, dataset)
    try:
        model = modeling.build_model(cfg)
        checkpoint.DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputError(
            f"detectron2: cannot build {path} with weights {cfg.MODEL.WEIGHTS!r}: "
            f"{type(exc).__name__}: {detail}"
        ) from None
    return Detectron2Detector(cfg, model, category_ids)
