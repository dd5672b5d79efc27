"""Per-frame class probabilities ``[T, C]`` of an untrimmed video -> gesture segments (start, end, class).

The steps, in order (:func:`decode`):

1. **smoothing**: a centred moving average of ``smooth`` frames over time, per class; near the ends of the
   video the window is cut to the frames that exist (the mean of those), so the ends are not pulled to 0;
2. **frame labels**: a frame belongs to class ``c`` when ``c`` is the most probable (smoothed) class among the
   *eligible* ones: those above their own threshold (strictly) and, when a ``background`` ("no gesture")
   class is given, strictly more probable than background. A frame with no eligible class is background.
   With one scalar threshold this is "the best gesture class, if it beats background and the threshold";
   with per-class thresholds a class with a low threshold is not hidden by a more probable class that fails
   its higher one. Ties go to the lower class index;
3. **runs**: maximal runs of consecutive frames with the same class;
4. **merge**: runs of the same class whose gap (frames between them) is shorter than ``merge_gap`` become one
   segment spanning both, whatever lies in the gap (step 6 resolves overlaps with other classes);
5. **minimum length**: segments shorter than ``min_length`` frames are dropped;
6. **score and NMS**: a segment's score is the mean *unsmoothed* probability of its class over all its
   frames; across classes, segments are kept greedily by descending score (ties: earlier start, then lower
   class), dropping any whose temporal IoU with a kept one exceeds ``nms_iou``.

Segments are half-open ``[start, end)`` frame ranges, returned sorted by start (then class). Deterministic;
the frame steps are vectorised over ``[T, C]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """A gesture segment: frames ``[start, end)``, class index ``label`` into the run's class list (not the
    MiGA code), and ``score`` (the mean probability of ``label`` over the segment)."""

    start: int
    end: int
    label: int
    score: float

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class DecodeOptions:
    """How :func:`decode` turns probabilities into segments (see the module docstring for each step)."""

    smooth: int = 9  # moving-average window in frames (odd; 1 = none)
    threshold: float | Sequence[float] = 0.5  # one for all classes, or one per class
    min_length: int = 8  # frames
    merge_gap: int = 4  # frames; same-class runs whose gap is shorter than this are joined
    nms_iou: float = 0.5  # temporal NMS across classes

    def __post_init__(self) -> None:
        def whole(value: object, least: int) -> bool:
            return isinstance(value, Integral) and not isinstance(value, bool) and value >= least

        if not whole(self.smooth, 1) or self.smooth % 2 == 0:
            raise ValueError(f"smooth must be an odd number of frames >= 1 (1 = no smoothing), got {self.smooth!r}")
        if not whole(self.min_length, 1):
            raise ValueError(f"min_length must be a whole number of frames >= 1, got {self.min_length!r}")
        if not whole(self.merge_gap, 0):
            raise ValueError(f"merge_gap must be a whole number of frames >= 0 (0 = never merge), got {self.merge_gap!r}")
        if not (isinstance(self.nms_iou, Real) and 0.0 <= self.nms_iou <= 1.0):
            raise ValueError(f"nms_iou must lie in [0, 1] (1 = keep every overlap), got {self.nms_iou!r}")
        values = [self.threshold] if isinstance(self.threshold, Real) else list(self.threshold)
        if not values or not all(isinstance(v, Real) and math.isfinite(v) for v in values):
            raise ValueError(f"threshold must be a finite number or a non-empty sequence of them (one per class), "
                             f"got {self.threshold!r}")
        for name in ("smooth", "min_length", "merge_gap"):  # plain ints, also when given numpy integers
            object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "nms_iou", float(self.nms_iou))
        # one plain float, or a tuple of them (hashable, immutable)
        object.__setattr__(self, "threshold", float(values[0]) if isinstance(self.threshold, Real)
                           else tuple(float(v) for v in values))

    def thresholds(self, n_classes: int) -> np.ndarray:
        """The threshold of each class, ``[n_classes]``."""
        if isinstance(self.threshold, float):
            return np.full(n_classes, self.threshold)
        if len(self.threshold) != n_classes:
            raise ValueError(f"threshold has {len(self.threshold)} values but the probabilities have {n_classes} "
                             "classes; give one value per class, or a single number")
        return np.asarray(self.threshold, dtype=np.float64)


def moving_average(probs: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over axis 0 of ``[T, C]``, the window cut at the ends (mean of what exists)."""
    if window == 1 or len(probs) == 0:
        return probs.astype(np.float64, copy=True)
    frames, half = len(probs), window // 2
    total = np.zeros((frames + 1, probs.shape[1]), dtype=np.float64)
    np.cumsum(probs, axis=0, dtype=np.float64, out=total[1:])
    out = np.empty_like(total[1:])
    if frames > 2 * half:  # full windows by slicing (no index arrays over [T, C])
        np.subtract(total[window:], total[: frames + 1 - window], out=out[half : frames - half])
        out[half : frames - half] /= window
    for t in (*range(min(half, frames)), *range(max(frames - half, half), frames)):  # the cut windows at the ends
        lo, hi = max(t - half, 0), min(t + half + 1, frames)
        out[t] = (total[hi] - total[lo]) / (hi - lo)
    return out


def frame_labels(smoothed: np.ndarray, thresholds: np.ndarray, background: int | None) -> np.ndarray:
    """Per frame the class index it belongs to, or -1 for background (step 2 of the module docstring)."""
    eligible = smoothed > thresholds
    if background is not None:
        eligible &= smoothed > smoothed[:, background : background + 1]
        eligible[:, background] = False
    masked = np.where(eligible, smoothed, -np.inf)
    return np.where(eligible.any(axis=1), np.argmax(masked, axis=1), -1)


def runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of equal non-negative labels: (starts, ends, labels), half-open, in time order."""
    if len(labels) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(labels)]])
    keep = labels[starts] >= 0
    return starts[keep], ends[keep], labels[starts][keep]


def merge_runs(starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, gap: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joins runs of the same label whose gap (``next start - previous end``) is below ``gap`` frames."""
    if len(starts) == 0 or gap <= 0:
        return starts, ends, labels
    order = np.lexsort((starts, labels))  # by label, then time
    s, e, lab = starts[order], ends[order], labels[order]
    new_group = np.ones(len(s), dtype=bool)
    new_group[1:] = (lab[1:] != lab[:-1]) | (s[1:] - e[:-1] >= gap)
    first = np.flatnonzero(new_group)
    return s[first], np.maximum.reduceat(e, first), lab[first]


def interval_iou(starts_a: np.ndarray, ends_a: np.ndarray, starts_b: np.ndarray, ends_b: np.ndarray) -> np.ndarray:
    """Temporal IoU of half-open frame ranges, broadcast over the arrays (0 where the union is empty)."""
    inter = np.clip(np.minimum(ends_a, ends_b) - np.maximum(starts_a, starts_b), 0, None)
    union = (ends_a - starts_a) + (ends_b - starts_b) - inter
    return np.divide(inter, union, out=np.zeros(np.shape(inter)), where=union > 0)


def temporal_nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, labels: np.ndarray, max_iou: float
                 ) -> np.ndarray:
    """Indices kept by greedy NMS: by descending score (ties: earlier start, lower label), a segment is
    dropped when its IoU with an already kept one exceeds ``max_iou``."""
    order = np.lexsort((labels, starts, -scores))
    kept: list[int] = []
    for i in order:
        if kept:
            k = np.asarray(kept)
            if np.any(interval_iou(starts[k], ends[k], starts[i], ends[i]) > max_iou):
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def check_probs(probs: np.ndarray, background: int | None) -> np.ndarray:
    """``probs`` as a float64 ``[T, C]`` array; ``ValueError`` naming the problem otherwise."""
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be a [frames, classes] array, got shape {probs.shape}")
    if probs.shape[1] == 0:
        raise ValueError("probabilities have no classes (shape [frames, 0]); give at least one class column")
    if not np.issubdtype(probs.dtype, np.number) or np.issubdtype(probs.dtype, np.complexfloating):
        raise ValueError(f"probabilities must be real numbers, got dtype {probs.dtype}")
    probs = probs.astype(np.float64, copy=False)
    if not np.isfinite(probs).all():
        bad = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise ValueError(f"probabilities of frame {bad} are not finite (NaN or inf); check the model's outputs")
    if background is not None and not (isinstance(background, (int, np.integer)) and 0 <= background < probs.shape[1]):
        raise ValueError(f"background must be a class index in [0, {probs.shape[1]}), got {background!r}")
    return probs


def decode(probs: np.ndarray, options: DecodeOptions, background: int | None = None) -> list[Segment]:
    """Gesture segments of one video from its per-frame class probabilities ``probs`` ``[T, C]``.

    ``background`` is the index of a "no gesture" class when the runs have one (it never forms a segment);
    without it a frame is a gesture only above threshold. See the module docstring for the steps.
    """
    probs = check_probs(probs, background)
    thresholds = options.thresholds(probs.shape[1])
    if len(probs) == 0:
        return []
    labels = frame_labels(moving_average(probs, options.smooth), thresholds, background)
    starts, ends, classes = merge_runs(*runs(labels), options.merge_gap)
    long_enough = ends - starts >= options.min_length
    starts, ends, classes = starts[long_enough], ends[long_enough], classes[long_enough]
    if len(starts) == 0:
        return []
    # one column slice per segment: far cheaper than a second cumulative sum over [T, C]
    scores = np.array([probs[s:e, c].mean() for s, e, c in zip(starts, ends, classes)])
    kept = temporal_nms(starts, ends, scores, classes, options.nms_iou)
    kept = kept[np.lexsort((classes[kept], starts[kept]))]
    return [Segment(int(starts[i]), int(ends[i]), int(classes[i]), float(scores[i])) for i in kept]
