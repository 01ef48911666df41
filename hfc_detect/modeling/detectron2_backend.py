"""Detectron2 models (default: RetinaNet R50-FPN 1x, the paper's Sec. 7) as a Detector.

Each image goes through Detectron2's own test-time path, as ``DatasetMapper(cfg, is_train=False)``
and ``inference_on_dataset`` run it: the config's test-time resize
(yacs ``.yaml``: ``build_augmentation(cfg, is_train=False)``, i.e. ``ResizeShortestEdge(
MIN_SIZE_TEST, MAX_SIZE_TEST)``; LazyConfig ``.py``: ``dataloader.test.mapper.augmentations``)
applied through ``T.AugInput`` to the
(H, W, C) array, then ``model([{"image": CHW tensor, "height": h, "width": w}])``, one image per
forward pass (Detectron2's test loader uses batch size 1; batching pads images and changes
detections near the borders). Detectron2's ``ResizeTransform`` resizes uint8 arrays with PIL and
float arrays with ``torch.nn.functional.interpolate``; original images (float tensors holding
uint8 values) are handed over as uint8, so they take exactly the path of an image read from
disk, while LFC/HFC images take Detectron2's float path, unclipped.

Detectron2 is imported only when this backend is built.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.modeling.base import Detections
from hfc_detect.modeling.common import (
    COCO_CATEGORY_IDS,
    as_exact_uint8,
    masks_to_rles,
    parse_overrides,
)
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


COCO_PERSON_ID = 1


def _device_type(name: str) -> str:
    """``cuda`` for ``cuda:1``: the kind of device a name means, whether or not it is here."""
    return str(name).split(":")[0]


def _import(module: str) -> Any:
    return require(module, purpose="the detectron2 backend", install=INSTALL_HINT)


def dataset_category_ids(dataset: str | None) -> np.ndarray | None:
    """COCO category id of each contiguous class, from the metadata of Detectron2 dataset
    ``dataset`` (its ``thing_dataset_id_to_contiguous_id``), or None where it has none."""
    if not dataset:
        return None
    metadata_catalog = _import("detectron2.data").MetadataCatalog
    mapping = getattr(metadata_catalog.get(dataset), "thing_dataset_id_to_contiguous_id", None)
    if not mapping:
        return None
    ids = [dataset_id for dataset_id, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
    return np.asarray(ids, dtype=np.int64)


def _thing_classes(dataset: str | None) -> list[str] | None:
    if not dataset:
        return None
    metadata_catalog = _import("detectron2.data").MetadataCatalog
    return getattr(metadata_catalog.get(dataset), "thing_classes", None)


def category_ids_for(num_classes: int, dataset: str | None) -> np.ndarray:
    """COCO category id of each of a model's ``num_classes`` contiguous classes.

    Taken from the metadata of ``dataset`` (Detectron2 registers COCO's), else the standard
    80-class COCO map, or COCO's person (id 1) for a one-class model of a person dataset (the
    keypoint R-CNN configs' ``keypoints_coco_2017_val``); InputError when none fits the model.
    """
    ids = dataset_category_ids(dataset)
    if ids is None and num_classes == len(COCO_CATEGORY_IDS):
        ids = np.asarray(COCO_CATEGORY_IDS, dtype=np.int64)
    if ids is None and num_classes == 1 and _thing_classes(dataset) == ["person"]:
        ids = np.array([COCO_PERSON_ID])  # keypoints_coco_*: metadata without the id map
    if ids is None:
        raise InputError(
            f"detectron2: no category map for dataset {dataset!r} and the model has {num_classes} "
            "classes, not COCO's 80; register the dataset's metadata in Detectron2"
        )
    if len(ids) != num_classes:
        raise InputError(
            f"detectron2: dataset {dataset!r} has {len(ids)} categories, the model {num_classes}"
        )
    return ids


def model_num_classes(model: torch.nn.Module) -> int:
    """The number of classes a Detectron2 detector predicts (one-stage meta-architectures such
    as RetinaNet and FCOS hold it, R-CNNs hold it in their ROI heads)."""
    for owner in (model, getattr(model, "roi_heads", None)):
        num_classes = getattr(owner, "num_classes", None)
        if isinstance(num_classes, int):
            return num_classes
    raise InputError(f"detectron2: cannot tell how many classes {type(model).__name__} predicts")


def instances_to_detections(instances: Any, category_ids: np.ndarray) -> Detections:
    """A model output's ``Instances`` (on any device) as :class:`Detections` with COCO ids,
    with masks (``pred_masks``, as compressed RLE) and keypoints (``pred_keypoints``) where the
    model gives them, as Detectron2's ``instances_to_coco_json`` writes them: keypoint x and y
    are shifted by -0.5 (Detectron2's keypoint coordinates put pixel centres at +0.5, COCO's at
    integers)."""
    instances = instances.to("cpu")
    keypoints = None
    if instances.has("pred_keypoints"):
        keypoints = instances.pred_keypoints.double().numpy().copy()
        keypoints[:, :, :2] -= 0.5
    masks = instances.pred_masks.numpy() if instances.has("pred_masks") else None
    return Detections(
        boxes=instances.pred_boxes.tensor.double().numpy().reshape(-1, 4),
        scores=instances.scores.double().numpy(),
        category_ids=category_ids[instances.pred_classes.numpy()],
        masks=None if masks is None else masks_to_rles(masks),
        keypoints=keypoints,
    )


class Detectron2Detector:
    """A built Detectron2 model in eval mode, fed exactly as Detectron2's test path feeds it.

    ``augmentations``: the test-time augmentations of the model's config (for yacs configs
    ``build_augmentation(cfg, is_train=False)``, for LazyConfigs
    ``dataloader.test.mapper.augmentations``); ``cfg`` is kept for reference.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        augmentations: Sequence[Any],
        channel_order: str,
        device: str | torch.device,
        category_ids: np.ndarray,
        cfg: Any = None,
    ) -> None:
        if channel_order not in ("RGB", "BGR"):
            raise InputError(f"detectron2: input format {channel_order!r} is not RGB or BGR")
        self._transforms = _import("detectron2.data.transforms")
        self.cfg = cfg
        self.model = model.eval()
        self.channel_order = channel_order
        self.device = torch.device(device)
        self.category_ids = category_ids
        self._augmentation = self._transforms.AugmentationList(list(augmentations))

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
        return [
            instances_to_detections(
                self.model([self.model_input(image)])[0]["instances"], self.category_ids
            )
            for image in images
        ]


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
    elif Path(name).with_suffix("") == Path(DEFAULT_CONFIG).with_suffix(""):
        return DEFAULT_WEIGHTS  # the .yaml and the LazyConfig .py share one checkpoint
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


class _YacsConfig:
    """A yacs (``.yaml``) config: ``get_cfg()`` + ``merge_from_file`` + ``merge_from_list``."""

    weights_key = "MODEL.WEIGHTS"
    device_key = "MODEL.DEVICE"

    def __init__(self, path: str, pairs: Sequence[tuple[str, str]]) -> None:
        self.cfg = _import("detectron2.config").get_cfg()
        self.cfg.merge_from_file(path)
        self.cfg.merge_from_list([item for pair in pairs for item in pair])

    def get(self, key: str, default: Any = None) -> Any:
        """``cfg.<key>`` (every yacs key exists, so ``default`` is never needed)."""
        return functools.reduce(getattr, key.split("."), self.cfg)

    def set(self, key: str, value: Any) -> None:
        *parents, last = key.split(".")
        setattr(functools.reduce(getattr, parents, self.cfg), last, value)

    def channel_order(self) -> str:
        return self.cfg.INPUT.FORMAT

    def test_dataset(self) -> str | None:
        return self.cfg.DATASETS.TEST[0] if self.cfg.DATASETS.TEST else None

    def test_augmentations(self) -> list[Any]:
        detection_utils = _import("detectron2.data.detection_utils")
        return detection_utils.build_augmentation(self.cfg, is_train=False)

    def build_model(self) -> torch.nn.Module:
        self.cfg.freeze()
        return _import("detectron2.modeling").build_model(self.cfg)


class _LazyConfig:
    """A LazyConfig (``.py``): ``LazyConfig.load`` + ``LazyConfig.apply_overrides``; the model
    is ``instantiate(cfg.model)``, the test path ``cfg.dataloader.test.mapper``."""

    weights_key = "train.init_checkpoint"
    device_key = "train.device"

    def __init__(self, path: str, overrides: Sequence[str]) -> None:
        lazy = _import("detectron2.config").LazyConfig
        self.cfg = lazy.apply_overrides(lazy.load(path), list(overrides))
        for key in ("model", "dataloader.test.mapper"):
            if self.get(key) is None:
                raise InputError(f"detectron2 LazyConfig {path} has no {key}")

    def get(self, key: str, default: Any = None) -> Any:
        return _import("omegaconf").OmegaConf.select(self.cfg, key, default=default)

    def set(self, key: str, value: Any) -> None:
        _import("omegaconf").OmegaConf.update(self.cfg, key, value, merge=True)

    def channel_order(self) -> str:
        return self.get("dataloader.test.mapper.image_format") or self.get("model.input_format")

    def test_dataset(self) -> str | None:
        names = self.get("dataloader.test.dataset.names")
        return names if isinstance(names, str) or names is None else (list(names) or [None])[0]

    def test_augmentations(self) -> list[Any]:
        instantiate = _import("detectron2.config").instantiate
        return list(instantiate(self.get("dataloader.test.mapper.augmentations") or []))

    def build_model(self) -> torch.nn.Module:
        model = _import("detectron2.config").instantiate(self.cfg.model)
        return model.to(resolve_device(self.get(self.device_key)))


def _load_config(path: str, overrides: Sequence[str]) -> _YacsConfig | _LazyConfig:
    """The config at ``path`` (``.py``: LazyConfig, else yacs) with ``--set`` applied."""
    pairs = parse_overrides(overrides)
    try:
        if path.endswith(".py"):
            return _LazyConfig(path, [f"{key}={value}" for key, value in pairs])
        return _YacsConfig(path, pairs)
    except InputError:
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputError(f"detectron2 config {path}: {type(exc).__name__}: {detail}") from None


def build_detectron2(
    *,
    config_file: str | None = None,
    weights: str | None = None,
    overrides: Sequence[str] = (),
    device: str | torch.device | None = None,
    dataset: str | None = None,
) -> Detectron2Detector:
    """Build a Detectron2 model from a config and its weights, ready for :meth:`detect`.

    ``config_file``: a yacs ``.yaml`` or LazyConfig ``.py`` file, or a model zoo name of either
    (default ``DEFAULT_CONFIG``). ``overrides``: ``KEY=VALUE`` config changes (``--set``),
    applied with ``merge_from_list`` (yacs) or ``LazyConfig.apply_overrides`` (LazyConfig, e.g.
    ``train.device=cpu``). ``weights``: a local checkpoint or URL; by default the model zoo
    checkpoint of a zoo config (unless ``--set`` gives ``MODEL.WEIGHTS`` /
    ``train.init_checkpoint``), else the config's own; ``""`` gives random weights.
    ``device``: overrides ``MODEL.DEVICE`` / ``train.device`` unless ``--set`` names another
    device type (``--set MODEL.DEVICE=cpu`` on a GPU machine); when neither is given and CUDA
    is unavailable, the CPU. ``dataset``: whose metadata maps classes to category ids (default:
    the config's test dataset).
    """
    checkpoint = _import("detectron2.checkpoint")
    path, is_zoo = _config_path(config_file or DEFAULT_CONFIG)
    config = _load_config(path, overrides)
    pairs = dict(parse_overrides(overrides))
    if weights is not None:
        config.set(config.weights_key, str(weights))
    elif is_zoo and config.weights_key not in pairs:
        config.set(config.weights_key, zoo_checkpoint_url(config_file or DEFAULT_CONFIG))
    configured = config.get(config.device_key, "cuda")
    set_device = pairs.get(config.device_key)
    if device is not None and (
        set_device is None or _device_type(configured) == _device_type(device)
    ):
        config.set(config.device_key, str(device))  # eval's cuda:<rank> under torch.distributed
    elif configured.startswith("cuda") and not torch.cuda.is_available():
        config.set(config.device_key, "cpu")

    weights = config.get(config.weights_key, "")
    _fetch_weights(weights)
    try:
        augmentations = config.test_augmentations()
        model = config.build_model()
        checkpoint.DetectionCheckpointer(model).load(weights)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputError(
            f"detectron2: cannot build {path} with weights {weights!r}: "
            f"{type(exc).__name__}: {detail}"
        ) from None
    category_ids = category_ids_for(model_num_classes(model), dataset or config.test_dataset())
    return Detectron2Detector(
        model,
        augmentations=augmentations,
        channel_order=config.channel_order(),
        device=config.get(config.device_key),
        category_ids=category_ids,
        cfg=config.cfg,
    )
