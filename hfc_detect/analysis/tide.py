"""TIDE's error breakdown of one set of detections, computed here (numpy, no tidecv needed).

The definitions are TIDE's (Bolya et al., ECCV 2020) as its authors' package tidecv computes
them, including the details that move its numbers: images are visited in the order given (the
annotation file's, as tidecv's COCO loader visits them); within an image detections are ranked
by score, ties in file order, and only the first 100 are kept (per image, over all classes);
matching is greedy, each detection taking the unmatched object of its class it overlaps most
(the first on a tie) at IoU >= 0.5; an unmatched detection inside a crowd box of its class
(intersection over its own area > 0.5) is ignored. An unmatched detection is then, in this
order: ``Loc`` (IoU in [0.1, 0.5] with an object of its class), ``Cls`` (IoU >= 0.5 with an
object of another class), ``Dupe`` (IoU >= 0.5 with a matched object of its class), ``Bkg``
(IoU <= 0.1 with every object, or an image without objects), else ``Both``; an unmatched object
that no ``Cls``/``Loc`` error points at is ``Miss``. Fixing: each object's highest-scoring
``Cls``/``Loc`` detection (the first on a tie) becomes a true positive of the object's class,
the others are removed, as are ``Dupe``, ``Bkg`` and ``Both``; a missed object leaves the
ground truth. AP is TIDE's: per class, precision made monotone, read at 101 recall points (the
first detection reaching each), averaged over the classes with objects or detections, in
points. Within a class, ties in score keep the order tidecv builds: the data points of the
errors first (in error order), then the true positives. Equal to tidecv to 1e-6 (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hfc_detect.evaluation import GroundTruth, Predictions
from hfc_detect.evaluation.overlaps import box_iou

MAIN_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
SPECIAL_ERRORS = ("FalsePos", "FalseNeg")
POS_THRESHOLD = 0.5  # TIDE's foreground IoU
BACKGROUND_THRESHOLD = 0.1  # TIDE's background IoU
MAX_DETS = 100  # per image, over all classes
_RECALLS = np.arange(101) / 100


@dataclass(frozen=True)
class TideErrors:
    """TIDE's AP50, main and special errors (delta AP50 in points) and the count of each main
    error per image id (images without errors absent)."""

    ap50: float
    main: dict[str, float]
    special: dict[str, float]
    per_image: dict[int, dict[str, int]]


@dataclass
class _Error:
    kind: str
    image: int
    original: tuple[int, float, bool] | None  # the data point it is in the AP: class, score, tp
    fixed: tuple[int, float, bool] | None  # the data point once fixed (None: removed)
    gt: int = -1  # Cls/Loc: the object it would find; Miss: the object
    gt_class: int = -1  # Miss: the object's class (fixing it removes one object of it)


@dataclass
class _Run:
    """Everything the AP of the fixes needs, built image by image."""

    points: dict[int, list[tuple[float, bool]]] = field(default_factory=dict)  # by class
    num_gt: dict[int, int] = field(default_factory=dict)  # by class, in first-touch order
    false_negatives: dict[int, int] = field(default_factory=dict)
    errors: list[_Error] = field(default_factory=list)
    best: dict[int, tuple[float, int]] = field(default_factory=dict)  # object -> score, error
    usable: set[int] = field(default_factory=set)  # objects some Cls/Loc error could find

    def touch(self, cls: int) -> None:
        self.num_gt.setdefault(cls, 0)
        self.points.setdefault(cls, [])


def _groups(index: np.ndarray, num: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(index, kind="stable")
    return order, np.searchsorted(index[order], np.arange(num + 1))


def _class_ap(points: list[tuple[float, bool]], num_gt: int) -> float:
    if num_gt == 0 or not points:
        return 0.0
    scores = np.array([p[0] for p in points], dtype=np.float64)
    tp = np.array([p[1] for p in points], dtype=bool)[np.argsort(-scores, kind="stable")]
    true = np.cumsum(tp)
    precision = true / np.arange(1, len(tp) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(true / num_gt, _RECALLS, side="left")
    return float(np.where(at < len(tp), precision[np.minimum(at, len(tp) - 1)], 0.0).sum()
                 / len(_RECALLS) * 100)  # fmt: skip


def _map(points: dict[int, list[tuple[float, bool]]], num_gt: dict[int, int]) -> float:
    """Mean AP over the classes with objects or detections; 0 where there is none (tidecv
    divides by zero there: no detections at all, with every missed object fixed)."""
    aps = [
        _class_ap(points.get(c, []), num_gt.get(c, 0))
        for c in dict.fromkeys([*points, *num_gt])
        if points.get(c) or num_gt.get(c, 0)
    ]
    return sum(aps) / len(aps) if aps else 0.0


def _add_fixable(
    run: _Run, error: _Error, fixed: tuple[int, float, bool], object_matched: bool
) -> None:
    """A Cls/Loc error: fixable when its object is unmatched, and then the object's fix if it
    has the highest score among the object's Cls/Loc errors so far (the first on a tie)."""
    if not object_matched:
        error.fixed = fixed
        run.usable.add(error.gt)
        if run.best.get(error.gt, (-1.0, -1))[0] < fixed[1]:
            run.best[error.gt] = (fixed[1], len(run.errors))
    run.errors.append(error)


def _classify(
    run: _Run, image: int, det: tuple[int, float, int], iou: np.ndarray, same: np.ndarray,
    matched: np.ndarray, gt_rows: np.ndarray, gt_cls: np.ndarray,
) -> None:  # fmt: skip
    """The error of one unmatched (or ignored) detection ``det`` = (class, score, state)."""
    cls, score, state = det
    original = None if state == 2 else (cls, score, False)
    if len(gt_rows) == 0:
        run.errors.append(_Error("Bkg", image, original, None))
        return
    own, other = iou * same, iou * ~same
    j_own, j_other = int(np.argmax(own)), int(np.argmax(other))
    if BACKGROUND_THRESHOLD <= own[j_own] <= POS_THRESHOLD:
        _add_fixable(run, _Error("Loc", image, original, None, gt=int(gt_rows[j_own])),
                     (cls, score, True), matched[j_own])  # fmt: skip
        return
    if other[j_other] >= POS_THRESHOLD:
        _add_fixable(run, _Error("Cls", image, original, None, gt=int(gt_rows[j_other])),
                     (int(gt_cls[j_other]), score, True), matched[j_other])  # fmt: skip
        return
    if (matched * iou * same).max() >= POS_THRESHOLD:
        kind = "Dupe"
    elif iou.max() <= BACKGROUND_THRESHOLD:
        kind = "Bkg"
    else:
        kind = "Both"
    run.errors.append(_Error(kind, image, original, None))


def _image(
    run: _Run, image: int, gt: GroundTruth, rows: np.ndarray, preds: Predictions,
    dets: np.ndarray, pred_cls: np.ndarray,
) -> None:  # fmt: skip
    crowd = gt.ann_crowd[rows]
    objects, regions = rows[~crowd], rows[crowd]
    gt_cls = gt.category_ids[gt.ann_category[objects]]
    for c in gt_cls.tolist():
        run.touch(c)
        run.num_gt[c] += 1
    if len(dets) == 0:
        for row, c in zip(objects.tolist(), gt_cls.tolist(), strict=True):
            run.false_negatives[c] = run.false_negatives.get(c, 0) + 1
            run.errors.append(_Error("Miss", image, None, None, gt=row, gt_class=c))
        return
    dets = dets[np.argsort(-preds.scores[dets], kind="stable")][:MAX_DETS]
    boxes, scores, cls = preds.boxes[dets], preds.scores[dets], pred_cls[dets]
    iou = box_iou(boxes[:, None, :], gt.ann_boxes[objects][None, :, :], np.False_)
    same = cls[:, None] == gt_cls[None, :]
    state = np.zeros(len(dets), dtype=np.int8)  # 0 unmatched, 1 matched, 2 ignored
    matched = np.zeros(len(objects), dtype=bool)
    if len(objects):
        free = iou * same
        for i in range(len(dets)):
            j = int(np.argmax(free[i]))
            if free[i, j] >= POS_THRESHOLD:
                state[i], matched[j] = 1, True
                free[:, j] = 0
    for row in regions.tolist():
        inside = box_iou(boxes, gt.ann_boxes[row], np.True_) > POS_THRESHOLD
        region_cls = gt.category_ids[gt.ann_category[row]]
        state[(state == 0) & inside & (cls == region_cls)] = 2
    rows = zip(cls.tolist(), scores.tolist(), state.tolist(), strict=True)
    for i, (c, score, s) in enumerate(rows):
        if s != 2:
            run.touch(c)
            run.points[c].append((score, s == 1))
        if s != 1:
            _classify(run, image, (c, score, s), iou[i], same[i], matched, objects, gt_cls)
    for row, c, found in zip(objects.tolist(), gt_cls.tolist(), matched.tolist(), strict=True):
        if not found:
            run.false_negatives[c] = run.false_negatives.get(c, 0) + 1
            if row not in run.usable:
                run.errors.append(_Error("Miss", image, None, None, gt=row, gt_class=c))


def _fixed_map(run: _Run, kind: str | None = None, *, perfect_precision: bool = False,
               perfect_recall: bool = False) -> float:  # fmt: skip
    """The AP once the errors of ``kind`` are fixed (FalsePos: every true positive scored 1,
    every other detection 0; FalseNeg: the unmatched objects left out of the ground truth)."""
    num_gt = dict(run.num_gt)
    points: dict[int, list[tuple[float, bool]]] = {}
    for k, error in enumerate(run.errors):
        point = error.original
        if error.kind == kind:
            if error.kind == "Miss":
                num_gt[error.gt_class] -= 1
                continue
            fixes = error.fixed is not None and run.best.get(error.gt, (0, -1))[1] == k
            point = error.fixed if fixes else None
        if point is not None:
            c, score, tp = point
            points.setdefault(c, []).append((float(tp), tp) if perfect_precision else (score, tp))
    for c in num_gt:
        for score, tp in run.points[c]:
            if tp:
                points.setdefault(c, []).append((1.0, tp) if perfect_precision else (score, tp))
    if perfect_recall:
        num_gt = {c: n - run.false_negatives.get(c, 0) for c, n in num_gt.items()}
    return _map(points, num_gt)


def tide_errors(gt: GroundTruth, preds: Predictions, image_order: list[int]) -> TideErrors:
    """TIDE's errors of ``preds`` on ``gt`` (bbox), its images visited in ``image_order``."""
    gt_order, gt_starts = _groups(gt.ann_image, gt.num_images)
    det_order, det_starts = _groups(preds.image, gt.num_images)
    pred_cls = gt.category_ids[preds.category]
    position = {int(i): k for k, i in enumerate(gt.image_ids.tolist())}
    run = _Run()
    for image in image_order:
        k = position[image]
        rows = gt_order[gt_starts[k] : gt_starts[k + 1]]
        dets = det_order[det_starts[k] : det_starts[k + 1]]
        _image(run, image, gt, rows, preds, dets, pred_cls)
    base = _map(run.points, run.num_gt)
    main = {kind: max(_fixed_map(run, kind) - base, 0.0) for kind in MAIN_ERRORS}
    special = {
        "FalsePos": _fixed_map(run, perfect_precision=True) - base,
        "FalseNeg": _fixed_map(run, perfect_recall=True) - base,
    }
    per_image: dict[int, dict[str, int]] = {}
    for error in run.errors:
        counts = per_image.setdefault(error.image, {})
        counts[error.kind] = counts.get(error.kind, 0) + 1
    return TideErrors(ap50=base, main=main, special=special, per_image=per_image)
