"""Keypoints as COCOeval reads them: (N, K, 3) arrays, ``num_keypoints`` (counted from the
visibility flags where the field is missing) and the OKS sigmas of each category."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hfc_detect.evaluation.json_io import is_int, is_number
from hfc_detect.evaluation.params import COCO_PERSON_SIGMAS
from hfc_detect.utils.errors import InputError


def keypoint_columns(
    anns: list[dict],
    categories: list[dict],
    ann_category: np.ndarray,
    kpt_oks_sigmas: Sequence[float] | Mapping[int, Sequence[float]] | None,
    source: str,
) -> dict[str, np.ndarray]:
    """Ground truth keypoints (N, K, 3), num_keypoints (N,) and sigmas per category (C, K).

    An annotation without keypoints (a category without a skeleton) has K zeros, num_keypoints
    0, and so is ignored as COCOeval ignores ground truth without visible keypoints.
    """
    lengths = {len(a["keypoints"]) for a in anns if isinstance(a.get("keypoints"), list)}
    if len(lengths) > 1:
        raise InputError(f"{source}: annotations hold keypoint lists of different lengths")
    k = lengths.pop() // 3 if lengths else len(COCO_PERSON_SIGMAS)
    points = np.zeros((len(anns), k, 3))
    num = np.zeros(len(anns), np.int64)
    for i, ann in enumerate(anns):
        where = f"{source}: annotation id {ann['id']}"
        if "keypoints" not in ann:
            continue
        points[i] = keypoint_array(ann["keypoints"], k, where)
        n = ann.get("num_keypoints", int(np.count_nonzero(points[i, :, 2] > 0)))
        if not is_int(n):
            raise InputError(f"{where}: 'num_keypoints' must be an integer, got {n!r}")
        num[i] = n
    sigmas = np.stack([_sigmas(c, kpt_oks_sigmas, k, source) for c in categories])
    missing = np.isnan(sigmas[ann_category]).any(axis=1) & (np.abs(points).sum(axis=(1, 2)) > 0)
    if missing.any():
        cid = categories[int(ann_category[np.flatnonzero(missing)[0]])]["id"]
        raise InputError(
            f"{source}: category {cid} has {k} keypoints, not COCO's 17: give its OKS sigmas "
            "(kpt_oks_sigmas, or the category's 'kpt_oks_sigmas' field)"
        )
    return {"ann_keypoints": points, "ann_num_keypoints": num, "category_sigmas": sigmas}


def keypoint_array(values: Any, k: int, where: str) -> np.ndarray:
    if not isinstance(values, list) or len(values) != 3 * k:
        raise InputError(f"{where}: 'keypoints' must be a list of {3 * k} numbers (x, y, v)")
    if not all(is_number(v) and math.isfinite(v) for v in values):
        raise InputError(f"{where}: 'keypoints' must hold finite numbers")
    return np.array(values, dtype=np.float64).reshape(k, 3)


def _sigmas(
    category: dict, option: Sequence[float] | Mapping[int, Sequence[float]] | None, k: int,
    source: str,
) -> np.ndarray:  # fmt: skip
    """The OKS sigmas of one category (see :func:`load_annotations`)."""
    cid = category["id"]
    if isinstance(option, Mapping):
        given = option.get(cid, category.get("kpt_oks_sigmas"))
    else:
        given = option if option is not None else category.get("kpt_oks_sigmas")
    if given is None:
        given = COCO_PERSON_SIGMAS
        if k != len(given):
            return np.full(k, np.nan)  # used only if the category has keypoints: checked there
    sigmas = np.asarray(given, dtype=np.float64).ravel()
    if len(sigmas) != k or not np.isfinite(sigmas).all() or (sigmas <= 0).any():
        raise InputError(
            f"{source}: category {cid}: OKS sigmas must be {k} positive numbers "
            f"(one per keypoint), got {list(given)[:20]}"
        )
    return sigmas
