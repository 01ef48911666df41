"""Score several prediction files against one ground truth, per image and for the whole set.

Pure: reads, scores, returns a :class:`Comparison`; writing it is :mod:`hfc_detect.results`'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hfc_detect.evaluation.cocoeval import Evaluation, evaluate
from hfc_detect.evaluation.loaders import GroundTruth, Predictions, load_predictions
from hfc_detect.utils.errors import InputError


@dataclass(frozen=True)
class Comparison:
    """A scored comparison in memory: what :func:`hfc_detect.results.write_comparison` writes."""

    gt: GroundTruth  # the (possibly subset) ground truth that was scored
    predictions: dict[str, Predictions]  # in order; the first is the baseline
    results: dict[str, Evaluation]  # same keys and order


def score(
    gt: GroundTruth, predictions: Mapping[str, Predictions | Sequence[dict] | str | Path]
) -> Comparison:
    """Score each variant per image and for the whole set (pure: reads files, writes nothing).

    ``predictions`` maps variant names, in order (the first is the baseline), to loaded
    :class:`Predictions`, COCO results files, or in-memory lists of detections (empty allowed).
    The iouType (bbox, segm, keypoints) is the one ``gt`` was loaded for.
    """
    if not predictions:
        raise InputError("no predictions given: pass at least one NAME=PATH")
    loaded = {
        name: src if isinstance(src, Predictions) else load_predictions(src, gt, name=name)
        for name, src in predictions.items()
    }
    results = {name: evaluate(gt, preds) for name, preds in loaded.items()}
    return Comparison(gt, loaded, results)
