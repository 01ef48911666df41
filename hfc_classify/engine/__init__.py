"""Training, tracking and evaluation of classifiers on images and their LFC/HFC."""

from hfc_classify.engine.config import OPTIMIZERS, TrainConfig
from hfc_classify.engine.evaluation import (
    AccuracyRow,
    accuracy,
    evaluate_variants,
    hfc_examples,
    predict,
    resolve_device,
)
from hfc_classify.engine.train import Trainer, is_finished, label_permutation, train

__all__ = [
    "OPTIMIZERS",
    "AccuracyRow",
    "TrainConfig",
    "Trainer",
    "accuracy",
    "evaluate_variants",
    "hfc_examples",
    "is_finished",
    "label_permutation",
    "predict",
    "resolve_device",
    "train",
]
