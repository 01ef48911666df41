"""Map a model's class names to the annotation file's category ids (Ultralytics, transformers).

Models from these frameworks carry their class names (``model.names``, ``config.id2label``)
but not COCO's category ids, so a class is the category whose name equals its own (ignoring
case and surrounding spaces). DETR's checkpoints name the ids COCO never used ``N/A``: those
classes are placeholders, map to nothing, and their detections are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hfc_detect.utils.errors import InputError

PLACEHOLDER_NAMES = frozenset({"n/a"})


def _key(name: str) -> str:
    return " ".join(str(name).split()).lower()


def class_to_category(
    class_names: Mapping[int, str], categories: Mapping[int, str] | None, *, backend: str
) -> dict[int, int]:
    """Class index -> category id, matched by name; placeholder classes are left out.

    InputError (one line) without ``categories``, when two categories share a name, or naming
    the classes that match no category.
    """
    if categories is None:
        raise InputError(
            f"the {backend} backend maps the model's class names to the annotation file's "
            "categories; build it with categories={id: name, ...}"
        )
    by_name: dict[str, int] = {}
    for cat_id, name in categories.items():
        if _key(name) in by_name:
            raise InputError(f"{backend}: two categories are named {name!r}; names must be unique")
        by_name[_key(name)] = int(cat_id)
    mapping, unmatched = {}, []
    for index, name in sorted(class_names.items()):
        if _key(name) in PLACEHOLDER_NAMES:
            continue
        if _key(name) in by_name:
            mapping[int(index)] = by_name[_key(name)]
        else:
            unmatched.append(f"{index}:{name!r}")
    if unmatched:
        raise InputError(
            f"{backend}: {len(unmatched)} of the model's classes match no category name of the "
            f"annotations: {', '.join(unmatched)}"
        )
    return mapping


def map_labels(labels: np.ndarray, mapping: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows to keep, their category ids) for predicted class ``labels``: rows of placeholder
    classes are dropped."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    keep = np.flatnonzero([int(label) in mapping for label in labels])
    ids = np.asarray([mapping[int(label)] for label in labels[keep]], dtype=np.int64)
    return keep, ids
