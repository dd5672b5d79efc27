"""Temperature scaling: ``softmax(z / T)`` with one ``T`` per modality, fitted on labelled validation clips by
minimising the negative log-likelihood.

The NLL is a convex function of ``1/T`` (a log-sum-exp of linear functions minus a linear term), hence
unimodal in ``log T``. :func:`fit_temperature` therefore scans a log-spaced grid to bracket the minimum and
refines it by golden-section search: no gradients, no step sizes, and the same answer for any scale of
logits.
"""

from __future__ import annotations

import math

import numpy as np

from mgfast.metrics import check_labels

T_BOUNDS = (1e-2, 1e2)
"""Search range for T. Logits that separate the validation clips perfectly drive the optimum to T -> 0, and
uninformative logits drive it to T -> inf; the fit then stops at the bound."""

_GRID_POINTS = 81  # 10 points per decade over the default bounds: brackets the minimum
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _logits(logits: object) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must be [N, C], got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits hold NaN or infinite values")
    return z


def _temperature(t: object) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating)) or not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite positive number, got {t!r}")
    return float(t)


def log_softmax(logits: object, temperature: float = 1.0) -> np.ndarray:
    """float64 ``log softmax(z / T)`` along the last axis, computed stably."""
    z = _logits(logits) / _temperature(temperature)
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def softmax(logits: object, temperature: float = 1.0) -> np.ndarray:
    """float64 ``softmax(z / T)`` along the last axis."""
    return np.exp(log_softmax(logits, temperature))


def temper(probs: object, temperature: float) -> np.ndarray:
    """Applies a temperature to probabilities: ``p^(1/T)`` renormalised, which equals ``softmax(z / T)`` when
    ``p = softmax(z)``. Zero probabilities stay zero."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"probs must be [N, C], got shape {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or (p.sum(1) <= 0).any():
        raise ValueError("probs must be finite and non-negative with a positive sum in every row")
    with np.errstate(divide="ignore"):
        z = np.log(p) / _temperature(temperature)  # -inf where p == 0, which exp maps back to 0
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: object, labels: object, bounds: tuple[float, float] = T_BOUNDS,
                    tol: float = 1e-6) -> float:
    """The temperature in ``bounds`` that minimises the NLL of ``labels`` under ``softmax(logits / T)``.

    ``tol`` is the width of the final bracket in ``log T`` (1e-6: T to about 6 significant digits).
    """
    z = _logits(logits)
    y = check_labels("labels", labels, z.shape[1])
    if y.size != z.shape[0]:
        raise ValueError(f"logits have {z.shape[0]} rows but labels has {y.size} entries")
    lo, hi = (_temperature(b) for b in bounds)
    if lo >= hi:
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds!r}")
    rows = np.arange(y.size)

    def objective(log_t: float) -> float:
        return float(-log_softmax(z, math.exp(log_t))[rows, y].mean())

    grid = np.linspace(math.log(lo), math.log(hi), _GRID_POINTS)
    values = [objective(g) for g in grid]
    best = int(np.argmin(values))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    # Golden-section search on [a, b], which holds the minimum of a unimodal function.
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = objective(c), objective(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = objective(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = objective(d)
    return float(math.exp((a + b) / 2))
