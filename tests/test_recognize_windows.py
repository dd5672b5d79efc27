"""Window planning and per-frame probabilities from window probabilities, against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgfast.recognize.windows import default_window, frame_probabilities, plan_windows


@settings(max_examples=200, deadline=None)
@given(frames=st.integers(1, 400), length=st.integers(1, 80), data=st.data())
def test_windows_cover_every_frame_stay_inside_and_keep_the_stride(frames, length, data):
    stride = data.draw(st.integers(1, length))
    w = plan_windows(frames, length, stride)
    assert w.dtype == np.int64 and w.shape[1] == 2
    assert (w[:, 0] >= 0).all() and (w[:, 1] <= frames).all()
    assert (w[:, 1] - w[:, 0] == min(length, frames)).all()
    covered = np.zeros(frames, bool)
    for s, e in w:
        covered[s:e] = True
    assert covered.all()
    steps = np.diff(w[:, 0])
    assert (steps[:-1] == stride).all() and (steps > 0).all() and (steps <= stride).all()
    assert w[0, 0] == 0 and w[-1, 1] == frames


def test_window_examples():
    assert plan_windows(10, 4, 2).tolist() == [[0, 4], [2, 6], [4, 8], [6, 10]]
    assert plan_windows(11, 4, 3).tolist() == [[0, 4], [3, 7], [6, 10], [7, 11]]
    assert plan_windows(3, 8, 2).tolist() == [[0, 3]]
    assert plan_windows(8, 8, 2).tolist() == [[0, 8]]


@pytest.mark.parametrize("args, match", [((10, 0, 1), "window length"), ((10, 4, 0), "stride"),
                                         ((10, 4, 5), "longer than the window"), ((0, 4, 2), "at least one frame"),
                                         ((10, 4.0, 2), "window length")])
def test_bad_windows_are_rejected(args, match):
    with pytest.raises(ValueError, match=match):
        plan_windows(*args)


@settings(max_examples=100, deadline=None)
@given(frames=st.integers(1, 120), length=st.integers(1, 30), seed=st.integers(0, 2**16), data=st.data())
def test_frame_probabilities_are_the_mean_of_covering_windows(frames, length, seed, data):
    stride = data.draw(st.integers(1, length))
    w = plan_windows(frames, length, stride)
    p = np.random.default_rng(seed).dirichlet(np.ones(4), len(w))
    got = frame_probabilities(p, w, frames)
    for t in range(frames):
        rows = [i for i, (s, e) in enumerate(w) if s <= t < e]
        np.testing.assert_allclose(got[t], p[rows].mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_frame_probabilities_reject_gaps_and_mismatches():
    with pytest.raises(ValueError, match="lies in no window"):
        frame_probabilities(np.ones((1, 2)) / 2, np.array([[0, 3]]), 5)
    with pytest.raises(ValueError, match="one \\[start, end\\)"):
        frame_probabilities(np.ones((2, 2)) / 2, np.array([[0, 3]]), 3)


def test_default_window_is_the_median_segment_or_the_clip_length():
    assert default_window(16, [10, 30, 20]) == (20, 5)
    assert default_window(16, None) == (16, 4)
    assert default_window(2, []) == (2, 1)
