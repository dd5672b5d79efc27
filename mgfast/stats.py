"""Intervals for scores and for paired differences: over seeds (Student's t) and over clips (bootstrap).

A difference between two models scored on the same clips is measured *paired*: per seed the two scores are
subtracted, and the bootstrap draws one resample of clips that both models are scored on. The smallest
effect a setup can detect (at 5 % two-sided and 80 % power) is ``(z_0.975 + z_0.8) * SE`` of the paired
difference: a measured effect well below it says nothing either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Z_95, Z_80 = 1.959964, 0.841621
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
          2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
"""Student's t 97.5 % quantiles for 1..30 degrees of freedom."""


def t_quantile_975(df: int) -> float:
    """Student's t 97.5 % quantile for ``df`` degrees of freedom (a table up to 30; beyond it the first
    Cornish-Fisher term, within 0.001)."""
    if df < 1:
        raise ValueError(f"need at least 2 values for an interval, got df={df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    return Z_95 + (Z_95**3 + Z_95) / (4 * df)


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval, standard error and the smallest effect it could detect."""

    mean: float
    low: float
    high: float
    se: float

    @property
    def detectable(self) -> float:
        """The smallest true effect found with 80 % power at 5 % two-sided: (z_0.975 + z_0.8) x SE."""
        return (Z_95 + Z_80) * self.se

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def seed_interval(values: Sequence[float]) -> Interval:
    """Mean over seeds with a t interval (values: one per seed, e.g. paired differences)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"an interval over seeds needs at least 2 seeds, got {x.size}")
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    half = t_quantile_975(x.size - 1) * se
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), se)


def bootstrap_interval(statistic: Callable[[np.ndarray], float], num_clips: int, *, draws: int = 1000,
                       seed: int = 0) -> Interval:
    """Percentile interval of ``statistic(rows)`` over ``draws`` resamples of ``num_clips`` clips with
    replacement (``rows`` is an index array); ``mean`` is the statistic on all clips."""
    if num_clips < 1:
        raise ValueError("a bootstrap needs at least one clip")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, num_clips, num_clips)) for _ in range(draws)])
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(statistic(np.arange(num_clips))), float(low), float(high), float(values.std(ddof=1)))
