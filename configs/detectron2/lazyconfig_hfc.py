"""Original, LFC and HFC per-image COCO AP with your own LazyConfig and checkpoint.

Detectron2's ``tools/lazyconfig_train_net.py --eval-only``, run once per variant, with
``FrequencySplit`` first in ``dataloader.test.mapper.augmentations`` and
``PerImageCOCOEvaluator`` as the evaluator::

    python configs/detectron2/lazyconfig_hfc.py --num-gpus 8 --radius 128 \\
        --config-file my_config.py train.init_checkpoint=/path/to/model_final.pth

writes ``train.output_dir/hfc/<dataset>/`` (or ``--hfc-output``): the folder
``hfc-detect eval`` writes, ready for ``hfc-detect wins`` and ``hfc-detect export``.
"""

from pathlib import Path

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, instantiate
from detectron2.engine import default_setup
from detectron2.evaluation import print_csv_format

from hfc_detect.integrations.detectron2 import evaluate_variants, launch_recipe


def split_test_loader(cfg, splits):
    """``cfg.dataloader.test`` with ``splits`` before its mapper's own augmentations."""
    mapper = cfg.dataloader.test.mapper
    own = mapper.augmentations
    mapper.augmentations = [*splits, *own]
    try:
        return instantiate(cfg.dataloader.test)
    finally:
        mapper.augmentations = own


def main(args):
    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    default_setup(cfg, args)
    model = instantiate(cfg.model).to(cfg.train.device)
    DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
    names = cfg.dataloader.test.dataset.names
    dataset = names if isinstance(names, str) else names[0]
    output = args.hfc_output or Path(cfg.train.output_dir) / "hfc" / dataset
    results = evaluate_variants(
        model, lambda splits: split_test_loader(cfg, splits), dataset, output,
        radius=args.radius, pixel_mode=args.pixel_mode, variants=args.variants.split(","),
        bands=args.band,
    )  # fmt: skip
    for variant_results in results.values():
        print_csv_format(variant_results)
    return results


if __name__ == "__main__":
    launch_recipe(main)
