"""Training, tracking and evaluation of classifiers on images and their LFC/HFC.

- :mod:`~hfc_classify.engine.config`: :class:`TrainConfig`, every setting of a run;
- :mod:`~hfc_classify.engine.assembly`: :func:`build_trainer`, settings -> data, model, tracker;
- :mod:`~hfc_classify.engine.trainer`: :class:`Trainer`, the loop over what was built;
- :mod:`~hfc_classify.engine.run`: :func:`train` / :func:`fit`, a run in its folder;
- :mod:`~hfc_classify.engine.run_folder`: the folder's files;
- :mod:`~hfc_classify.engine.tracking`, :mod:`~hfc_classify.engine.evaluation`,
  :mod:`~hfc_classify.engine.device`, :mod:`~hfc_classify.engine.optim`,
  :mod:`~hfc_classify.engine.loading`.

The names below load their module when first used, so that the CLI can read
:class:`TrainConfig` (to build its options) without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "OPTIMIZERS": "config",
    "TrainConfig": "config",
    "AccuracyRow": "evaluation",
    "accuracy": "evaluation",
    "evaluate_variants": "evaluation",
    "hfc_examples": "evaluation",
    "predict": "evaluation",
    "resolve_device": "evaluation",
    "build_trainer": "assembly",
    "label_permutation": "assembly",
    "Trainer": "trainer",
    "fit": "run",
    "train": "run",
    "is_finished": "run_folder",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
