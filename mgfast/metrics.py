"""Classification metrics for single-label clips: accuracy (= micro-F1), macro-F1, per-class scores, the
confusion matrix, and calibration (negative log-likelihood, Brier score, expected calibration error with its
noise floor).

Conventions shared by every function here:

- ``y_true`` / ``y_pred`` are 1-D integer class indices in ``[0, num_classes)``. Unlabelled clips (label
  -1 in a logits file) must be dropped by the caller before scoring.
- ``probs`` is ``[N, C]``: one probability row per clip.
- A score whose denominator is zero (precision of a class never predicted, recall of a class absent from
  ``y_true``) is 0, as in scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
"""Equal-width confidence bins for the expected calibration error (the usual choice since Guo et al. 2017):
the most that :func:`evaluate` uses."""

CLIPS_PER_ECE_BIN = 25
""":func:`evaluate` uses one ECE bin per this many clips (at least one, at most :data:`ECE_BINS`): with 15 bins
over 48 clips a perfectly calibrated model scores an ECE near 0.16, all of it noise."""

ECE_FLOOR_DRAWS = 200
"""Simulated label draws behind :func:`ece_noise_floor`."""

NLL_FLOOR = 1e-12
"""Probabilities are clipped to at least this before the log, so one zero probability costs -log(1e-12) ≈ 27.6
instead of infinity."""


@dataclass(frozen=True)
class ClassScores:
    """Per-class precision, recall, F1 and support (count in ``y_true``), each an array of length C."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: ``edges`` [B+1]; per bin the mean top-label ``confidence``, the ``accuracy`` of
    its clips and their ``count`` (empty bins hold NaN confidence and accuracy)."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class Metrics:
    """Everything mgfast reports for one model on one split's labelled clips."""

    accuracy: float
    macro_f1: float
    scores: ClassScores
    confusion: np.ndarray
    nll: float
    ece: float
    reliability: Reliability
    brier: float
    ece_floor: float  # the mean ECE a perfectly calibrated model with these confidences would score

    @property
    def clips(self) -> int:
        return int(self.reliability.count.sum())

    @property
    def ece_bins(self) -> int:
        return len(self.reliability.count)

    @property
    def micro_f1(self) -> float:
        """Micro-F1 of single-label predictions: every error is one false positive and one false negative,
        so micro precision = micro recall = accuracy."""
        return self.accuracy


def check_labels(name: str, y: object, num_classes: int | None = None) -> np.ndarray:
    """``y`` as int64 after checking it is a non-empty 1-D array of indices in ``[0, num_classes)``."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class indices, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got {y.dtype}")
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
        raise ValueError(f"{name} holds {int(y.min())}..{int(y.max())}; class indices must be {bound} "
                         "(drop unlabelled clips, label -1, before scoring)")
    return y.astype(np.int64)


def _pair(y_true: object, y_pred: object, num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    t, p = check_labels("y_true", y_true, num_classes), check_labels("y_pred", y_pred, num_classes)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} entries but y_pred has {p.size}")
    return t, p


def _probs(probs: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"probs must be [N, C], got shape {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0:
        raise ValueError("probs must be finite and non-negative")
    y = check_labels("labels", labels, p.shape[1])
    if y.size != p.shape[0]:
        raise ValueError(f"probs has {p.shape[0]} rows but labels has {y.size} entries")
    return p, y


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape, np.float64), where=den > 0)


def accuracy(y_true: object, y_pred: object) -> float:
    """Fraction of exact matches; for single-label clips this is also micro-averaged F1."""
    t, p = _pair(y_true, y_pred, None)
    return float(np.mean(t == p))


def confusion_matrix(y_true: object, y_pred: object, num_classes: int) -> np.ndarray:
    """int64 ``[C, C]``: row = true class, column = predicted class."""
    t, p = _pair(y_true, y_pred, num_classes)
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_scores(y_true: object, y_pred: object, num_classes: int) -> ClassScores:
    """Per-class precision, recall and F1 (0 where undefined) and support."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(0), cm.sum(1)
    precision, recall = _safe_ratio(tp, predicted), _safe_ratio(tp, support)
    # F1 = 2TP / (2TP + FP + FN): also defined (and 0) when precision or recall alone is undefined.
    f1 = _safe_ratio(2 * tp, (predicted + support).astype(np.float64))
    return ClassScores(precision, recall, f1, support)


def macro_f1(y_true: object, y_pred: object, num_classes: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``.

    This is scikit-learn's ``f1_score(average="macro")`` with its default label set, the union of the labels
    in ``y_true`` and ``y_pred``: a class that is neither in the data nor predicted has no defined F1 and
    does not count, while a class that is predicted but absent from ``y_true`` counts with F1 0.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    present = (cm.sum(0) + cm.sum(1)) > 0
    f1 = class_scores(y_true, y_pred, num_classes).f1
    return float(f1[present].mean())


def _confidence_bins(confidence: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges of ``n_bins`` equal-width bins ``(k/B, (k+1)/B]`` and each confidence's bin index (the first
    bin also takes confidence 0)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" gives i with edges[i-1] < c <= edges[i]: bins closed on the right.
    return edges, np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability(probs: object, labels: object, n_bins: int = ECE_BINS) -> Reliability:
    """Bins clips by top-label confidence into ``n_bins`` equal-width bins ``(k/B, (k+1)/B]`` (the first bin
    also takes confidence 0) and reports each bin's mean confidence, accuracy and size."""
    p, y = _probs(probs, labels)
    confidence = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    edges, index = _confidence_bins(confidence, n_bins)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, confidence, n_bins) / count
        mean_acc = np.bincount(index, correct, n_bins) / count
    return Reliability(edges, mean_conf, mean_acc, count)


def expected_calibration_error(probs: object, labels: object, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum over bins of (bin size / N) * |bin accuracy - bin mean confidence|."""
    r = reliability(probs, labels, n_bins)
    filled = r.count > 0
    gap = np.abs(r.accuracy[filled] - r.confidence[filled])
    return float(np.sum(r.count[filled] * gap) / r.count.sum())


def nll(probs: object, labels: object) -> float:
    """Mean negative log-probability of the true class (probabilities floored at :data:`NLL_FLOOR`)."""
    p, y = _probs(probs, labels)
    return float(-np.mean(np.log(np.maximum(p[np.arange(y.size), y], NLL_FLOOR))))


def brier_score(probs: object, labels: object) -> float:
    """Mean over clips of the squared distance between the probability row and the one-hot label (0 to 2)."""
    p, y = _probs(probs, labels)
    target = np.zeros_like(p)
    target[np.arange(y.size), y] = 1.0
    return float(np.mean(np.sum((p - target) ** 2, axis=1)))


def ece_bins(num_clips: int) -> int:
    """The number of ECE bins :func:`evaluate` uses for ``num_clips`` clips (see :data:`CLIPS_PER_ECE_BIN`)."""
    return int(min(ECE_BINS, max(1, num_clips // CLIPS_PER_ECE_BIN)))


def ece_noise_floor(probs: object, n_bins: int, draws: int = ECE_FLOOR_DRAWS, seed: int = 0) -> float:
    """The mean ECE over ``draws`` simulated label sets of a perfectly calibrated model with these top-label
    confidences: each clip is right with probability equal to its confidence. An ECE near this is noise."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty [N, C] array, got shape {p.shape}")
    confidence = p.max(1)
    _, index = _confidence_bins(confidence, n_bins)
    conf_sum = np.bincount(index, confidence, n_bins)
    correct = np.random.default_rng(seed).random((draws, confidence.size)) < confidence
    # Per draw and bin: |correct - confidence| summed over the bin's clips, divided by N.
    offsets = np.arange(draws)[:, None] * n_bins + index[None, :]
    hits = np.bincount(offsets.ravel(), correct.ravel().astype(np.float64), draws * n_bins).reshape(draws, n_bins)
    gaps = np.abs(hits - conf_sum[None, :])
    return float(np.mean(gaps.sum(1)) / confidence.size)


def evaluate(probs: object, labels: object) -> Metrics:
    """All metrics of one model on labelled clips (predicted class = arg-max of ``probs``); the ECE uses
    :func:`ece_bins` bins and comes with its noise floor."""
    p, y = _probs(probs, labels)
    c = p.shape[1]
    pred = p.argmax(1)
    bins = ece_bins(y.size)
    return Metrics(
        accuracy=accuracy(y, pred), macro_f1=macro_f1(y, pred, c), scores=class_scores(y, pred, c),
        confusion=confusion_matrix(y, pred, c), nll=nll(p, y), ece=expected_calibration_error(p, y, bins),
        reliability=reliability(p, y, bins), brier=brier_score(p, y), ece_floor=ece_noise_floor(p, bins),
    )
