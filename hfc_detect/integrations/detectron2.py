"""Per-image LFC/HFC (and band) AP inside Detectron2's own loop.

- :class:`FrequencySplit`: a Detectron2 ``Augmentation`` that replaces the image by its LFC,
  HFC or a frequency band (``band_r16-64``: LFC(64) - LFC(16)). Put it first in a test
  ``DatasetMapper``'s augmentations (before ``ResizeShortestEdge``) and the model sees what
  ``hfc-detect eval`` feeds it: the split at the image's own resolution (the toolkit's own
  :class:`~hfc_detect.pipeline.variants.VariantMaker`, on float32 (C, H, W) in the mapper's
  channel order), handed on as a float (H, W, C) array, so Detectron2's resize takes its float
  path, unclipped. Boxes, masks and keypoints are left unchanged.
- :class:`PerImageCOCOEvaluator`: a ``DatasetEvaluator`` that writes
  ``output_dir/predictions/<variant>.json`` and (re)scores every variant in that folder into
  ``per_image.csv`` and ``summary.json`` (``original`` the baseline), the files
  ``hfc-detect eval`` writes, so ``hfc-detect wins`` and ``export`` read the folder.

Importing this module imports Detectron2; without it the import fails with one line saying how
to install it. Where we differ from ``eval``: on a GPU, ``eval`` splits on the GPU while a
mapper splits in the data loader on the CPU, so LFC/HFC pixels may differ in the last float32
bits (on the CPU they are identical, as the tests check).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfc_detect.evaluation import STAT_NAMES, score
from hfc_detect.evaluation.loaders import load_annotations
from hfc_detect.frequency import PIXEL_MODES, check_pixel_mode
from hfc_detect.frequency.variant import (
    KINDS,
    ORIGINAL,
    Variant,
    name_variants,
    parse_band,
    plan_variants,
)
from hfc_detect.modeling.detectron2_backend import (
    INSTALL_HINT,
    dataset_category_ids,
    instances_to_detections,
)
from hfc_detect.pipeline.predictions import RunFolder, collect_results, detections_to_rows
from hfc_detect.pipeline.variants import VariantMaker
from hfc_detect.results import (
    SUMMARY_FILE,
    check_variant_name,
    load_comparison,
    write_comparison,
)
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.optional import require


def _require(module: str) -> Any:
    try:
        return require(module, purpose="hfc_detect.integrations.detectron2", install=INSTALL_HINT)
    except InputError as exc:
        raise ImportError(str(exc)) from None


T = _require("detectron2.data.transforms")
_catalog = _require("detectron2.data")
_comm = _require("detectron2.utils.comm")
_evaluation = _require("detectron2.evaluation")

_logger = logging.getLogger(__name__)


class FrequencySplitTransform(T.Transform):
    """Replace an (H, W) or (H, W, C) image by the LFC, HFC or band ``variant``, as float32;
    coordinates and segmentations pass through unchanged."""

    def __init__(self, variant: Variant, pixel_mode: str) -> None:
        super().__init__()
        self._set_attributes(locals())

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        hwc = img[:, :, None] if img.ndim == 2 else img
        chw = torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))).to(torch.float32)
        (parts,) = VariantMaker({"part": self.variant}, self.pixel_mode)([chw])
        out = parts["part"].permute(1, 2, 0).numpy()
        return out[:, :, 0] if img.ndim == 2 else out

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation

    def inverse(self) -> Any:
        """The geometric inverse (the split moves no pixel), as test-time augmentation needs."""
        return T.NoOpTransform()


class FrequencySplit(T.Augmentation):
    """Replace the image by its low- or high-frequency component, or a frequency band.

    ``variant``: a :class:`~hfc_detect.frequency.variant.Variant` (``Variant("lfc", 64)``,
    ``Variant("band", 64, inner=16)``), or a name: ``"lfc_r64"``, ``"band_r16-64"`` (the
    frequencies ``16 <= d < 64``, i.e. LFC(64) - LFC(16), from one forward FFT), or
    ``"lfc"``/``"hfc"`` with ``radius``. Radii are the disks' in frequency space, applied at
    the image's own resolution (put this augmentation before any resize). ``pixel_mode``:
    ``raw`` (as the FFT gives it, the paper's inputs), ``clip`` (to 0..255) or ``max`` (scaled
    by 255 / the image's maximum), as ``hfc-detect eval --pixel-mode``; a band is treated as
    an HFC. ``inclusive`` (with a name): keep frequencies at distance ``<= r`` (the paper's
    text) instead of ``< r`` (the authors' released code, the default); a band then keeps
    ``R1 < d <= R2``.
    """

    def __init__(
        self,
        variant: Variant | str,
        radius: float | None = None,
        *,
        pixel_mode: str = "raw",
        inclusive: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(variant, Variant):
            if radius is not None or inclusive:
                raise InputError("FrequencySplit: the Variant carries its radius and disk")
        else:
            variant = Variant.parse(variant, radius=radius)
            if inclusive:
                variant = dataclasses.replace(variant, inclusive=True)
        if not variant.is_component:
            raise InputError(f"FrequencySplit makes an LFC, HFC or band, not {variant.name()!r}")
        self.variant = variant
        self.radius, self.inclusive = variant.radius, variant.inclusive
        self.pixel_mode = check_pixel_mode(pixel_mode)

    def get_transform(self, image: np.ndarray) -> FrequencySplitTransform:
        return FrequencySplitTransform(self.variant, self.pixel_mode)


def frequency_variants(
    radii: float | Sequence[float],
    *,
    pixel_mode: str = "raw",
    kinds: Sequence[str] = KINDS,
    bands: Sequence[tuple[float, float] | str] = (),
) -> dict[str, list[FrequencySplit]]:
    """The augmentations to put first in a test mapper for each of ``eval``'s variants at
    ``radii`` (one radius: ``original``, ``lfc``, ``hfc``; several: ``lfc_r64``, ...) and
    ``bands`` (``(16, 64)`` or ``"16:64"`` as ``eval --band``: ``band_r16-64``): none for the
    original, one :class:`FrequencySplit` (its ``.variant`` the spec) for an LFC/HFC/band."""
    radii = [radii] if isinstance(radii, int | float) else list(radii)
    pairs = [parse_band(b if isinstance(b, str) else f"{b[0]}:{b[1]}") for b in bands]
    named = name_variants(plan_variants(radii, kinds, pairs))
    return {
        name: [FrequencySplit(v, pixel_mode=pixel_mode)] if v.is_component else []
        for name, v in named.items()
    }


def variant_of(splits: Sequence[FrequencySplit]) -> Variant:
    """The variant that a :func:`frequency_variants` entry makes: its split's, or the original
    where there is none (pass it to :class:`PerImageCOCOEvaluator` so the folder records it)."""
    return splits[0].variant if splits else Variant(ORIGINAL)


def evaluate_variants(
    model: torch.nn.Module,
    build_loader: Callable[[list[FrequencySplit]], Iterable[Any]],
    dataset_name: str,
    output_dir: str | Path,
    *,
    radius: float | Sequence[float],
    pixel_mode: str = "raw",
    variants: Sequence[str] = KINDS,
    bands: Sequence[tuple[float, float] | str] = (),
) -> dict[str, dict[str, dict[str, float]]]:
    """Run ``inference_on_dataset`` once per variant, each with a
    :class:`PerImageCOCOEvaluator` writing into ``output_dir``; returns variant name -> results.

    ``radius``: one radius or several (as ``eval --radius``); ``variants``: the kinds to run;
    ``bands``: frequency bands to run too (as ``eval --band``).
    ``build_loader(splits)`` returns the test loader of ``dataset_name`` whose mapper puts
    ``splits`` (empty for the original) before its own augmentations. Call it on every rank
    under Detectron2's ``launch``.
    """
    inference_on_dataset = _evaluation.inference_on_dataset
    plan = frequency_variants(radius, pixel_mode=pixel_mode, kinds=variants, bands=bands)
    results = {}
    for name, splits in plan.items():
        evaluator = PerImageCOCOEvaluator(
            dataset_name, output_dir, variant=variant_of(splits), name=name
        )
        results[name] = inference_on_dataset(model, build_loader(splits), evaluator)
    return results


def argument_parser() -> argparse.ArgumentParser:
    """Detectron2's ``default_argument_parser`` plus ``--radius``, ``--band``, ``--pixel-mode``,
    ``--variants`` and ``--hfc-output`` (for the recipes in ``configs/detectron2/``)."""
    parser = _require("detectron2.engine").default_argument_parser()
    parser.add_argument(
        "--radius", type=float, nargs="+", default=[128.0], help="split radii (paper: 128)"
    )
    parser.add_argument(
        "--band", action="append", default=[], metavar="R1:R2", help="a band too; repeatable"
    )
    parser.add_argument("--pixel-mode", default="raw", choices=PIXEL_MODES)
    parser.add_argument("--variants", default="original,lfc,hfc", help="comma-separated")
    parser.add_argument(
        "--hfc-output", default=None, help="comparison folder [default: OUTPUT_DIR/hfc/DATASET]"
    )
    return parser


def launch_recipe(main: Callable[[argparse.Namespace], Any]) -> None:
    """Parse :func:`argument_parser`'s command line and run ``main(args)`` with Detectron2's
    ``launch`` (``--num-gpus`` processes per machine, ``--num-machines``, ``--dist-url``)."""
    args = argument_parser().parse_args()
    _require("detectron2.engine").launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


def _variant_order(name: str, spec: Variant | None) -> tuple:
    """The variants of a folder as ``eval`` orders them (:meth:`Variant.sort_key`), then any
    name that is no variant, alphabetically."""
    return (0, spec.sort_key()) if spec is not None else (1, name)


def coco_metrics(variant: Mapping[str, Any]) -> dict[str, float]:
    """A ``summary.json`` variant entry as ``COCOEvaluator`` reports bbox results: AP, AP50,
    AP75, APs, APm, APl and ``AP-<category>``, in percent, NaN where undefined."""
    stats = variant["stats"]
    out = {k: stats[k] * 100 if stats[k] >= 0 else float("nan") for k in STAT_NAMES[:6]}
    for entry in variant["per_category_ap"].values():
        ap = entry["ap"]
        out[f"AP-{entry['name']}"] = float("nan") if ap is None else ap * 100
    return out


class PerImageCOCOEvaluator(_evaluation.DatasetEvaluator):
    """Per-image COCO bbox AP of one variant pass, for ``inference_on_dataset``.

    ``dataset_name``: a Detectron2 dataset with a COCO ``json_file`` in its metadata (the
    builtin COCO sets, or one registered with ``register_coco_instances``); classes map to its
    category ids through ``thing_dataset_id_to_contiguous_id``. ``output_dir``: the comparison
    folder shared by all passes. ``variant``: what this pass evaluates, a
    :class:`~hfc_detect.frequency.variant.Variant` or a name (``original``, ``lfc_r64``; any
    other name is taken as a label that is no variant); ``name``: its name in the folder
    (default: the variant's full name, or the name given). Each variant is recorded in
    ``summary.json`` (``spec``), so ``hfc-detect curve``, ``wins`` and ``export`` read the folder
    as they read ``eval``'s.

    ``evaluate()`` gathers the detections of every rank (Detectron2's ``comm``); on the main
    process it writes ``predictions/<variant>.json`` (as ``eval`` writes it: images by id,
    float32 values) and rescores every ``predictions/*.json`` against the dataset's annotations
    into ``per_image.csv`` (+ ``.jsonl``, ``.parquet``) and ``summary.json``, with ``original``
    as the baseline (until it exists, the first variant present). Images the passes did not
    run count as missed, as ``COCOEvaluator`` counts them.

    Returns ``{"bbox_<variant>": {...}}``: this variant's bbox metrics exactly in the form of
    ``COCOEvaluator``'s ``"bbox"`` entry (AP, AP50, AP75, APs, APm, APl, ``AP-<category>``, in
    percent), under its own key so that ``DatasetEvaluators([COCOEvaluator(...),
    PerImageCOCOEvaluator(...)])`` works (it refuses two evaluators giving the same key) and
    each variant logs apart; ``{}`` on the other ranks.
    """

    def __init__(
        self,
        dataset_name: str,
        output_dir: str | Path,
        *,
        variant: Variant | str = ORIGINAL,
        name: str | None = None,
    ) -> None:
        self._folder = RunFolder(output_dir)
        if isinstance(variant, Variant):
            self._spec: Variant | None = variant
            self._variant = check_variant_name(name or variant.name())
        else:
            self._variant = check_variant_name(name or variant)
            self._spec = Variant.parse_or_none(variant)
        metadata = _catalog.MetadataCatalog.get(dataset_name)
        if not metadata.get("json_file"):
            raise InputError(
                f"dataset {dataset_name!r} has no COCO json_file in its metadata; register it "
                "with detectron2.data.datasets.register_coco_instances"
            )
        self._dataset_name = dataset_name
        self._annotations = Path(metadata.json_file)
        self._images_dir = metadata.get("image_root")
        self._category_ids: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        self._rows: dict[int, list] = {}

    def _contiguous_to_dataset_ids(self) -> np.ndarray:
        if self._category_ids is None:
            ids = dataset_category_ids(self._dataset_name)
            if ids is None:  # the mapping is set when the dataset's json is first loaded
                _catalog.DatasetCatalog.get(self._dataset_name)
                ids = dataset_category_ids(self._dataset_name)
            if ids is None:
                raise InputError(
                    f"dataset {self._dataset_name!r} has no thing_dataset_id_to_contiguous_id "
                    "in its metadata"
                )
            self._category_ids = ids
        return self._category_ids

    def process(self, inputs: Sequence[dict], outputs: Sequence[dict]) -> None:
        ids = self._contiguous_to_dataset_ids()
        for item, output in zip(inputs, outputs, strict=True):
            detections = instances_to_detections(output["instances"], ids)
            self._rows[int(item["image_id"])] = detections_to_rows(detections)

    def evaluate(self) -> dict[str, dict[str, float]]:
        _comm.synchronize()
        gathered = _comm.gather(self._rows, dst=0)
        if not _comm.is_main_process():
            return {}
        rows = {image_id: r for part in gathered for image_id, r in part.items()}
        if not rows:
            _logger.warning("PerImageCOCOEvaluator: no predictions received")
            return {}
        done = {image_id: {"ok": True, "dets": {self._variant: r}} for image_id, r in rows.items()}
        self._folder.write_predictions(collect_results(sorted(rows), done, [self._variant]))
        summary = self.write_comparison()
        entry = next(v for v in summary["variants"] if v["name"] == self._variant)
        return {f"bbox_{self._variant}": coco_metrics(entry)}

    def write_comparison(self) -> dict[str, Any]:
        """Score every ``predictions/*.json`` of the folder and write the comparison files;
        returns the summary."""
        specs = self._recorded_specs()
        if self._spec is not None:
            specs[self._variant] = self._spec
        files = self._folder.predictions_dir.glob("*.json")
        paths = {p.stem: p for p in files}
        for stem in paths:
            specs.setdefault(stem, Variant.parse_or_none(stem))
        order = sorted(paths, key=lambda n: _variant_order(n, specs[n]))
        return write_comparison(
            self._folder.root,
            score(load_annotations(self._annotations), {n: paths[n] for n in order}),
            variants={n: s for n, s in specs.items() if n in paths and s is not None},
            images_dir=self._images_dir,
            extra={"dataset": self._dataset_name},
        )

    def _recorded_specs(self) -> dict[str, Variant | None]:
        """What the folder's ``summary.json`` (an earlier pass's) records of its variants."""
        if not (self._folder.root / SUMMARY_FILE).is_file():
            return {}
        folder = load_comparison(self._folder.root)
        return {name: folder.spec(name) for name in folder.variant_names}
