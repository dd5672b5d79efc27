"""Scores of decoded segments against ground-truth segments of untrimmed videos.

**Segment level** (:func:`segment_scores`), as in the MiGA online-recognition track (a prediction counts when
its class is right and it overlaps a true segment enough; the track ranks by F1) and with the matching rule of
the ActivityNet / THUMOS temporal-detection evaluations: predictions are taken by descending score (ties: the
earlier one in the list); each is matched to the unmatched true segment *of the same class* with the highest
temporal IoU, provided that IoU is at least the threshold (ties: the earlier true segment). Each true segment
is matched at most once. Matched predictions are true positives, the other predictions false positives (also
duplicates of a matched truth), the unmatched true segments false negatives. :func:`iou_sweep` repeats this
at IoU 0.1 ... 0.7.

**Frame level** (:func:`frame_scores`): both segment lists are painted onto the video's frames, one class or
none per frame (the truth in list order, the predictions in ascending score order, so where segments overlap
the later / higher-scoring one holds the frame; segments of the ``background`` class paint nothing). Then,
micro-averaged over the gesture classes, background excluded: a frame is a true positive when prediction and
truth name the same gesture class, a false positive when the prediction names a gesture class the truth
does not (truth background or another class), a false negative when the truth names a gesture class the
prediction does not. A frame with the wrong gesture class is so both a false positive and a false negative;
frames that are background in both count nowhere.

Precision ``tp / (tp + fp)``, recall ``tp / (tp + fn)``, F1 ``2 tp / (2 tp + fp + fn)`` (the harmonic mean);
a score whose denominator is zero is 0, as in :mod:`mgfast.metrics`. Over several videos the counts are
summed first (:func:`pool_scores`), so long videos with many gestures weigh more, as the challenge's F1 does.

Segments are half-open ``[start, end)`` frame ranges (:class:`mgfast.recognize.decode.Segment`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mgfast.recognize.decode import Segment, interval_iou

IOU_SWEEP: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class DetectionScores:
    """Precision, recall and F1 with the counts they come from."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> DetectionScores:
        def ratio(num: int, den: int) -> float:
            return num / den if den else 0.0

        return cls(ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn), int(tp), int(fp), int(fn))


def pool_scores(scores: Iterable[DetectionScores]) -> DetectionScores:
    """Scores over several videos: the counts summed, then precision, recall and F1 from the sums."""
    tp = fp = fn = 0
    for s in scores:
        tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
    return DetectionScores.from_counts(tp, fp, fn)


def pool_sweeps(sweeps: Iterable[Mapping[float, DetectionScores]]) -> dict[float, DetectionScores]:
    """:func:`pool_scores` per IoU threshold of several :func:`iou_sweep` results (same thresholds each)."""
    sweeps = list(sweeps)
    if not sweeps:
        return {}
    return {iou: pool_scores(sweep[iou] for sweep in sweeps) for iou in sweeps[0]}


def temporal_iou(a: Segment, b: Segment) -> float:
    """Intersection over union of two half-open frame ranges (0 when they only touch or either is empty)."""
    return float(interval_iou(np.int64(a.start), np.int64(a.end), np.int64(b.start), np.int64(b.end)))


def _iou_matrix(pred: Sequence[Segment], truth: Sequence[Segment]) -> np.ndarray:
    ps = np.array([[p.start, p.end] for p in pred], dtype=np.int64).reshape(-1, 2)
    ts = np.array([[t.start, t.end] for t in truth], dtype=np.int64).reshape(-1, 2)
    return interval_iou(ps[:, None, 0], ps[:, None, 1], ts[None, :, 0], ts[None, :, 1])


def match_segments(pred: Sequence[Segment], truth: Sequence[Segment], iou: float) -> list[tuple[int, int]]:
    """One-to-one matches ``(prediction index, truth index)`` of the same class with IoU >= ``iou``, greedy by
    descending prediction score (see the module docstring); in the order they were made."""
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"the IoU threshold must lie in (0, 1], got {iou!r}")
    if not pred or not truth:
        return []
    overlap = _iou_matrix(pred, truth)
    same = np.array([p.label for p in pred])[:, None] == np.array([t.label for t in truth])[None, :]
    overlap = np.where(same & (overlap >= iou), overlap, -1.0)
    order = sorted(range(len(pred)), key=lambda i: -pred[i].score)  # stable: ties keep list order
    free = np.ones(len(truth), dtype=bool)
    matches = []
    for i in order:
        candidates = np.where(free, overlap[i], -1.0)
        j = int(np.argmax(candidates))  # the first of equal IoUs
        if candidates[j] >= 0.0:
            free[j] = False
            matches.append((i, j))
    return matches


def segment_scores(pred: Sequence[Segment], truth: Sequence[Segment], iou: float = 0.5) -> DetectionScores:
    """Segment-level precision, recall and F1 of one video at temporal IoU ``iou``."""
    tp = len(match_segments(pred, truth, iou))
    return DetectionScores.from_counts(tp, len(pred) - tp, len(truth) - tp)


def iou_sweep(pred: Sequence[Segment], truth: Sequence[Segment], ious: Sequence[float] = IOU_SWEEP
              ) -> dict[float, DetectionScores]:
    """:func:`segment_scores` at each IoU threshold in ``ious``."""
    return {float(iou): segment_scores(pred, truth, iou) for iou in ious}


def paint_frames(segments: Iterable[Segment], n_frames: int, n_classes: int, background: int | None,
                 what: str) -> np.ndarray:
    """Per frame the class of the segment that holds it, -1 for none (later segments paint over earlier)."""
    frames = np.full(n_frames, -1, dtype=np.int64)
    for s in segments:
        if not (0 <= s.start <= s.end <= n_frames):
            raise ValueError(f"{what} segment [{s.start}, {s.end}) lies outside the video's {n_frames} frames")
        if not 0 <= s.label < n_classes:
            raise ValueError(f"{what} segment [{s.start}, {s.end}) has class {s.label}, outside [0, {n_classes})")
        if s.label != background:
            frames[s.start : s.end] = s.label
    return frames


def frame_scores(pred: Sequence[Segment], truth: Sequence[Segment], n_frames: int, n_classes: int,
                 background: int | None) -> DetectionScores:
    """Frame-level precision, recall and F1 of one video, micro over the gesture classes (module docstring)."""
    if n_frames < 0 or n_classes < 1:
        raise ValueError(f"need n_frames >= 0 and n_classes >= 1, got {n_frames} and {n_classes}")
    by_score = sorted(pred, key=lambda s: s.score)  # stable: the highest score paints last
    p = paint_frames(by_score, n_frames, n_classes, background, "predicted")
    t = paint_frames(truth, n_frames, n_classes, background, "true")
    hit = (p >= 0) & (p == t)
    tp = int(hit.sum())
    return DetectionScores.from_counts(tp, int((p >= 0).sum()) - tp, int((t >= 0).sum()) - tp)
