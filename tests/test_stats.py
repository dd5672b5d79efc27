"""Intervals over seeds and over clips, against references computed here from their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mgfast.stats import Z_80, Z_95, bootstrap_interval, seed_interval, t_quantile_975


def t_cdf(x: float, df: int) -> float:
    """Student's t CDF by integrating its density numerically (the reference)."""
    grid = np.linspace(0.0, x, 200_001)
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    density = c * (1 + grid**2 / df) ** (-(df + 1) / 2)
    return 0.5 + float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(grid)))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 17, 30, 31, 45, 120])
def test_t_quantile_matches_the_integrated_distribution(df):
    assert t_cdf(t_quantile_975(df), df) == pytest.approx(0.975, abs=3e-4 if df > 1 else 1e-3)


def test_seed_interval_is_the_t_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(0.03, 0.02, 5)
    got = seed_interval(x)
    se = x.std(ddof=1) / math.sqrt(5)
    assert got.mean == pytest.approx(x.mean())
    assert (got.low, got.high) == pytest.approx((x.mean() - 2.776 * se, x.mean() + 2.776 * se))
    assert got.detectable == pytest.approx((Z_95 + Z_80) * se)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_interval([0.1])


def test_t_intervals_cover_the_mean_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(2000):
        iv = seed_interval(rng.normal(1.0, 3.0, 5))
        covered += iv.low <= 1.0 <= iv.high
    assert 0.935 <= covered / 2000 <= 0.965


def test_bootstrap_interval_of_an_accuracy():
    """For the mean of n Bernoulli(p) the bootstrap SE is close to sqrt(p(1-p)/n), and it is paired: a
    statistic that is the same function of both arms' rows gives exactly zero width."""
    rng = np.random.default_rng(2)
    correct = rng.random(600) < 0.7
    iv = bootstrap_interval(lambda rows: correct[rows].mean(), len(correct), draws=2000, seed=0)
    p = correct.mean()
    assert iv.mean == pytest.approx(p)
    assert iv.se == pytest.approx(math.sqrt(p * (1 - p) / 600), rel=0.1)
    assert iv.low < p < iv.high and iv.high - iv.low == pytest.approx(2 * 1.96 * iv.se, rel=0.15)
    same = bootstrap_interval(lambda rows: correct[rows].mean() - correct[rows].mean(), 600, draws=100)
    assert (same.low, same.high, same.se) == (0.0, 0.0, 0.0)
