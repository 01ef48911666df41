"""Per-image and whole-set COCO AP (bbox, segm, keypoints) equal to pycocotools' COCOeval.

Scoring only: writing and reading a results folder is :mod:`hfc_detect.results`. Importing this
package never loads torch (nor pycocotools).
"""

from hfc_detect.evaluation.cocoeval import STAT_NAMES, Evaluation, evaluate
from hfc_detect.evaluation.compare import Comparison, score
from hfc_detect.evaluation.loaders import (
    GroundTruth,
    Predictions,
    load_annotations,
    load_predictions,
)

__all__ = [
    "STAT_NAMES",
    "Comparison",
    "Evaluation",
    "GroundTruth",
    "Predictions",
    "evaluate",
    "load_annotations",
    "load_predictions",
    "score",
]
