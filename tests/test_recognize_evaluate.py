"""Segment and frame scores against brute force: every one-to-one assignment for small random cases, IoU by
counting frames, frame F1 frame by frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mgfast.recognize.decode import Segment
from mgfast.recognize.evaluate import (DetectionScores, frame_scores, iou_sweep, match_segments, pool_scores,
                                       pool_sweeps, segment_scores, temporal_iou)


def seg(start: int, end: int, label: int = 0, score: float = 1.0) -> Segment:
    return Segment(start, end, label, score)


def frames_iou(a: Segment, b: Segment) -> float:
    fa, fb = set(range(a.start, a.end)), set(range(b.start, b.end))
    return len(fa & fb) / len(fa | fb) if fa | fb else 0.0


def test_iou_edge_cases():
    assert temporal_iou(seg(0, 10), seg(10, 20)) == 0.0  # touching half-open ranges share no frame
    assert temporal_iou(seg(3, 9), seg(3, 9)) == 1.0
    assert temporal_iou(seg(0, 20), seg(5, 10)) == pytest.approx(5 / 20)  # nested
    assert temporal_iou(seg(0, 10), seg(5, 15)) == pytest.approx(5 / 15)
    assert temporal_iou(seg(0, 10), seg(30, 40)) == 0.0
    assert temporal_iou(seg(4, 4), seg(4, 4)) == 0.0  # empty segments


def test_iou_counts_frames_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = (sorted(rng.integers(0, 30, size=2)) for _ in range(2))
        sa, sb = seg(int(a[0]), int(a[1])), seg(int(b[0]), int(b[1]))
        assert temporal_iou(sa, sb) == pytest.approx(frames_iou(sa, sb))
        assert temporal_iou(sa, sb) == temporal_iou(sb, sa)


def _random_case(rng: np.random.Generator, n_pred: int, n_true: int, classes: int):
    def draw(n: int) -> list[Segment]:
        out = []
        for _ in range(n):
            start = int(rng.integers(0, 60))
            out.append(Segment(start, start + int(rng.integers(1, 25)), int(rng.integers(classes)), float(rng.random())))
        return out
    return draw(n_pred), draw(n_true)


def best_assignment(pred: list[Segment], truth: list[Segment], iou: float) -> int:
    """The most one-to-one same-class pairs with IoU >= iou, over every assignment (brute force)."""
    ok = [[p.label == t.label and frames_iou(p, t) >= iou for t in truth] for p in pred]
    best = 0
    for k in range(min(len(pred), len(truth)), 0, -1):
        for ps in itertools.combinations(range(len(pred)), k):
            for ts in itertools.permutations(range(len(truth)), k):
                if all(ok[p][t] for p, t in zip(ps, ts)):
                    return k
    return best


def greedy_by_hand(pred: list[Segment], truth: list[Segment], iou: float) -> list[tuple[int, int]]:
    """ActivityNet's rule written out: predictions by descending score, each takes the unmatched same-class
    truth of highest IoU (first on ties) if that IoU reaches the threshold."""
    used: set[int] = set()
    out = []
    for i in sorted(range(len(pred)), key=lambda i: -pred[i].score):
        options = [(frames_iou(pred[i], truth[j]), -j) for j in range(len(truth))
                   if j not in used and truth[j].label == pred[i].label and frames_iou(pred[i], truth[j]) >= iou]
        if options:
            j = -max(options)[1]
            used.add(j)
            out.append((i, j))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_greedy_matching_against_references(seed):
    rng = np.random.default_rng(seed)
    pred, truth = _random_case(rng, int(rng.integers(0, 6)), int(rng.integers(0, 5)), int(rng.integers(1, 3)))
    iou = float(rng.choice([0.1, 0.3, 0.5, 0.7]))
    matches = match_segments(pred, truth, iou)
    assert matches == greedy_by_hand(pred, truth, iou)
    # one-to-one, same class, above the threshold
    assert len({i for i, _ in matches}) == len({j for _, j in matches}) == len(matches)
    assert all(pred[i].label == truth[j].label and temporal_iou(pred[i], truth[j]) >= iou for i, j in matches)
    # greedy never beats the best assignment, and equals it when no prediction could take two truths
    best = best_assignment(pred, truth, iou)
    assert len(matches) <= best
    ambiguous = any(sum(p.label == t.label and frames_iou(p, t) >= iou for t in truth) > 1 for p in pred) or any(
        sum(p.label == t.label and frames_iou(p, t) >= iou for p in pred) > 1 for t in truth)
    if not ambiguous:
        assert len(matches) == best
    scores = segment_scores(pred, truth, iou)
    assert (scores.tp, scores.fp, scores.fn) == (len(matches), len(pred) - len(matches), len(truth) - len(matches))


def test_matching_prefers_the_higher_score_and_needs_the_class():
    truth = [seg(0, 10, 1)]
    pred = [seg(0, 10, 1, 0.4), seg(1, 10, 1, 0.9), seg(0, 10, 2, 1.0)]
    assert match_segments(pred, truth, 0.5) == [(1, 0)]  # the higher score takes it; the duplicate is an fp
    s = segment_scores(pred, truth)
    assert (s.tp, s.fp, s.fn) == (1, 2, 0)
    assert s.precision == pytest.approx(1 / 3) and s.recall == 1.0 and s.f1 == pytest.approx(0.5)
    assert match_segments([seg(0, 10)], [seg(5, 15)], 1 / 3) == [(0, 0)]  # IoU exactly at the threshold counts


def test_sweep_and_pooling():
    truth = [seg(0, 10), seg(20, 30)]
    pred = [seg(2, 10), seg(24, 30)]  # IoU 0.8 and 0.6
    sweep = iou_sweep(pred, truth)
    assert list(sweep) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert [sweep[t].tp for t in sweep] == [2, 2, 2, 2, 2, 2, 1]
    a, b = DetectionScores.from_counts(3, 1, 0), DetectionScores.from_counts(0, 0, 4)
    pooled = pool_scores([a, b])
    assert (pooled.tp, pooled.fp, pooled.fn) == (3, 1, 4)
    assert pooled.f1 == pytest.approx(2 * 3 / (2 * 3 + 1 + 4))
    assert pool_sweeps([sweep, sweep])[0.7].tp == 2
    empty = segment_scores([], [])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def frame_by_frame(pred, truth, n_frames, background):
    p_lab, t_lab = [None] * n_frames, [None] * n_frames
    for s in sorted(pred, key=lambda s: s.score):
        for f in range(s.start, s.end):
            p_lab[f] = p_lab[f] if s.label == background else s.label  # background paints nothing
    for s in truth:
        for f in range(s.start, s.end):
            t_lab[f] = t_lab[f] if s.label == background else s.label
    tp = sum(p is not None and p == t for p, t in zip(p_lab, t_lab))
    fp = sum(p is not None and p != t for p, t in zip(p_lab, t_lab))
    fn = sum(t is not None and p != t for p, t in zip(p_lab, t_lab))
    return tp, fp, fn


@pytest.mark.parametrize("seed", range(20))
def test_frame_scores_against_a_per_frame_count(seed):
    rng = np.random.default_rng(100 + seed)
    pred, truth = _random_case(rng, int(rng.integers(0, 8)), int(rng.integers(0, 8)), 3)
    background = int(rng.integers(3)) if seed % 2 else None
    s = frame_scores(pred, truth, 90, 3, background)
    tp, fp, fn = frame_by_frame(pred, truth, 90, background)
    assert (s.tp, s.fp, s.fn) == (tp, fp, fn)
    assert s.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)


def test_frame_scores_wrong_class_counts_twice_and_bad_segments_are_refused():
    s = frame_scores([seg(0, 10, 1)], [seg(0, 10, 2)], 20, 3, None)
    assert (s.tp, s.fp, s.fn) == (0, 10, 10)
    with pytest.raises(ValueError, match="outside the video"):
        frame_scores([seg(15, 25)], [], 20, 3, None)
    with pytest.raises(ValueError, match="class 5"):
        frame_scores([], [seg(0, 5, 5)], 20, 3, None)
    with pytest.raises(ValueError, match="IoU threshold"):
        segment_scores([], [], 0.0)
