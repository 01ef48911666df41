"""Original, LFC and HFC per-image COCO AP with your own yacs config and checkpoint.

Detectron2's ``tools/train_net.py --eval-only``, run once per variant, with
``FrequencySplit`` first in the test mapper and ``PerImageCOCOEvaluator`` as the evaluator::

    python configs/detectron2/train_net_hfc.py --num-gpus 8 --radius 128 \\
        --config-file my_config.yaml MODEL.WEIGHTS /path/to/model_final.pth

writes, per test dataset, ``OUTPUT_DIR/hfc/<dataset>/`` (or ``--hfc-output``): the folder
``hfc-detect eval`` writes, ready for ``hfc-detect wins`` and ``hfc-detect export``.
"""

from pathlib import Path

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.data import DatasetMapper, build_detection_test_loader
from detectron2.data.detection_utils import build_augmentation
from detectron2.engine import default_setup
from detectron2.evaluation import print_csv_format
from detectron2.modeling import build_model

from hfc_detect.integrations.detectron2 import evaluate_variants, launch_recipe


def setup(args):
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    model = build_model(cfg)
    DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).load(cfg.MODEL.WEIGHTS)
    results = {}
    for dataset in cfg.DATASETS.TEST:

        def loader(splits, dataset=dataset):
            augmentations = [*splits, *build_augmentation(cfg, is_train=False)]
            mapper = DatasetMapper(cfg, is_train=False, augmentations=augmentations)
            return build_detection_test_loader(cfg, dataset, mapper=mapper)

        output = args.hfc_output or Path(cfg.OUTPUT_DIR) / "hfc" / dataset
        results[dataset] = evaluate_variants(
            model, loader, dataset, output, radius=args.radius, pixel_mode=args.pixel_mode,
            variants=args.variants.split(","), bands=args.band,
        )  # fmt: skip
        for variant_results in results[dataset].values():
            print_csv_format(variant_results)
    return results


if __name__ == "__main__":
    launch_recipe(main)
