"""Decoding per-frame probabilities into segments: hand-made sequences with known segments for each option,
and a plain per-frame Python reference of the module's rules on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from mgfast.recognize.decode import DecodeOptions, Segment, decode

PLAIN = dict(smooth=1, min_length=1, merge_gap=0, nms_iou=1.0)


def _probs(T: int, C: int, spans: list[tuple[int, int, int, float]], rest: int | None = None) -> np.ndarray:
    """[T, C] with class ``c`` at probability ``p`` over each ``[start, end)``; the remainder on ``rest``
    (or spread evenly over the other classes)."""
    probs = np.full((T, C), 0.0)
    if rest is not None:
        probs[:, rest] = 1.0
    else:
        probs[:] = 1.0 / C
    for start, end, c, p in spans:
        others = [k for k in range(C) if k != c]
        probs[start:end] = (1 - p) / len(others) if rest is None else 0.0
        if rest is not None:
            probs[start:end, rest] = 1 - p
        probs[start:end, c] = p
    return probs


def _spans(segments: list[Segment]) -> list[tuple[int, int, int]]:
    return [(s.start, s.end, s.label) for s in segments]


def reference_decode(probs: np.ndarray, opt: DecodeOptions, background: int | None) -> list[tuple[int, int, int, float]]:
    """The module docstring's rules, frame by frame in plain Python."""
    T, C = probs.shape
    thr = [opt.threshold] * C if isinstance(opt.threshold, (int, float)) else list(opt.threshold)
    half = opt.smooth // 2
    smooth = []
    for t in range(T):
        window = range(max(0, t - half), min(T, t + half + 1))
        smooth.append([sum(probs[u][c] for u in window) / len(window) for c in range(C)])
    labels = []
    for t in range(T):
        best, best_p = -1, -np.inf
        for c in range(C):
            if c == background or smooth[t][c] <= thr[c]:
                continue
            if background is not None and smooth[t][c] <= smooth[t][background]:
                continue
            if smooth[t][c] > best_p:
                best, best_p = c, smooth[t][c]
        labels.append(best)
    segs = []
    t = 0
    while t < T:
        u = t
        while u < T and labels[u] == labels[t]:
            u += 1
        if labels[t] >= 0:
            segs.append([t, u, labels[t]])
        t = u
    merged = []
    for c in range(C):
        for s in [s for s in segs if s[2] == c]:
            if merged and merged[-1][2] == c and s[0] - merged[-1][1] < opt.merge_gap:
                merged[-1][1] = s[1]
            else:
                merged.append(list(s))
    scored = [(s, e, c, sum(probs[u][c] for u in range(s, e)) / (e - s)) for s, e, c in merged if e - s >= opt.min_length]
    scored.sort(key=lambda x: (-x[3], x[0], x[2]))
    kept = []
    for s, e, c, score in scored:
        ok = True
        for ks, ke, _, _ in kept:
            inter = max(0, min(e, ke) - max(s, ks))
            if inter / ((e - s) + (ke - ks) - inter) > opt.nms_iou:
                ok = False
        if ok:
            kept.append((s, e, c, score))
    return sorted(kept, key=lambda x: (x[0], x[2]))


def test_known_segments_without_background():
    probs = _probs(100, 4, [(10, 30, 1, 0.9), (50, 70, 3, 0.8)])
    segs = decode(probs, DecodeOptions(**PLAIN))
    assert _spans(segs) == [(10, 30, 1), (50, 70, 3)]
    assert segs[0].score == pytest.approx(0.9) and segs[1].score == pytest.approx(0.8)


def test_background_class_must_be_beaten():
    # class 1 at 0.45 (below background's 0.55) is no gesture, at 0.6 it is; threshold 0.3 is passed by both
    probs = _probs(60, 3, [(5, 20, 1, 0.45), (30, 50, 1, 0.6)], rest=0)
    opt = DecodeOptions(**{**PLAIN, "threshold": 0.3})
    assert _spans(decode(probs, opt, background=0)) == [(30, 50, 1)]
    # without the background index, class 0 is a gesture class like any other, and wins where it is best
    assert _spans(decode(probs, opt)) == [(0, 30, 0), (30, 50, 1), (50, 60, 0)]


def test_all_background_and_degenerate_inputs():
    opt = DecodeOptions(**PLAIN)
    assert decode(_probs(50, 3, [], rest=0), opt, background=0) == []
    assert decode(np.zeros((0, 5)), opt) == []
    one = np.array([[0.1, 0.9]])
    assert _spans(decode(one, opt)) == [(0, 1, 1)]
    assert decode(one, DecodeOptions(**{**PLAIN, "min_length": 2})) == []
    assert decode(np.array([[1.0]]), opt, background=0) == []


def test_per_class_thresholds():
    probs = _probs(80, 3, [(10, 30, 1, 0.4), (50, 70, 2, 0.4)], rest=0)
    probs[10:30, 0] = probs[50:70, 0] = 0.3
    probs[10:30, 2] = probs[50:70, 1] = 0.3
    assert decode(probs, DecodeOptions(**{**PLAIN, "threshold": 0.5}), background=0) == []
    segs = decode(probs, DecodeOptions(**{**PLAIN, "threshold": [0.5, 0.35, 0.5]}), background=0)
    assert _spans(segs) == [(10, 30, 1)]
    # a class with a low threshold is not hidden by a more probable class that fails its own
    probs[10:30, 0], probs[10:30, 1], probs[10:30, 2] = 0.1, 0.45, 0.25
    segs = decode(probs, DecodeOptions(**{**PLAIN, "threshold": [0.5, 0.5, 0.2]}), background=0)
    assert _spans(segs)[0] == (10, 30, 2)


def test_smoothing_removes_a_flicker_and_keeps_the_ends():
    probs = _probs(60, 2, [(20, 40, 1, 0.9)], rest=0)
    probs[30] = [0.9, 0.1]  # one dropped frame inside the gesture
    probs[5] = [0.1, 0.9]  # one spurious frame outside
    assert _spans(decode(probs, DecodeOptions(**PLAIN), background=0)) == [(5, 6, 1), (20, 30, 1), (31, 40, 1)]
    assert _spans(decode(probs, DecodeOptions(**{**PLAIN, "smooth": 5}), background=0)) == [(20, 40, 1)]
    # a gesture at the very start survives smoothing (the window is cut, not padded with zeros)
    edge = _probs(30, 2, [(0, 10, 1, 0.9)], rest=0)
    assert _spans(decode(edge, DecodeOptions(**{**PLAIN, "smooth": 7}), background=0)) == [(0, 10, 1)]


def test_merge_gap_joins_only_short_gaps_of_the_same_class():
    probs = _probs(100, 3, [(10, 20, 1, 0.9), (23, 33, 1, 0.9), (40, 50, 1, 0.9), (52, 60, 2, 0.9)], rest=0)
    opt = DecodeOptions(**{**PLAIN, "merge_gap": 4})
    # gap 3 < 4 joins; gap 7 does not; the class-2 run 2 frames later is another class
    assert _spans(decode(probs, opt, background=0)) == [(10, 33, 1), (40, 50, 1), (52, 60, 2)]
    assert _spans(decode(probs, DecodeOptions(**{**PLAIN, "merge_gap": 3}), background=0))[:2] == [(10, 20, 1), (23, 33, 1)]
    merged = decode(probs, opt, background=0)[0]
    assert merged.score == pytest.approx((20 * 0.9 + 3 * 0.0) / 23)  # the gap's frames count in the mean


def test_min_length_drops_short_segments_after_merging():
    probs = _probs(60, 2, [(5, 9, 1, 0.9), (10, 14, 1, 0.9), (30, 35, 1, 0.9)], rest=0)
    opt = DecodeOptions(**{**PLAIN, "merge_gap": 2, "min_length": 8})
    assert _spans(decode(probs, opt, background=0)) == [(5, 14, 1)]


def test_nms_drops_the_lower_scoring_overlap():
    # class 1 fragments merged across a class-2 run: the merged class-1 segment covers the class-2 one
    probs = _probs(60, 3, [(10, 20, 1, 0.9), (20, 23, 2, 0.9), (23, 33, 1, 0.9)], rest=0)
    base = {**PLAIN, "merge_gap": 4}
    assert _spans(decode(probs, DecodeOptions(**base), background=0)) == [(10, 33, 1), (20, 23, 2)]
    probs = _probs(60, 3, [(10, 20, 1, 0.6), (20, 40, 2, 0.9), (40, 43, 1, 0.6)], rest=0)
    # class 1 merged over [10, 43) (score 0.6 * 13/33) vs class 2 [20, 40): IoU 20/33 > 0.5, class 2 wins
    got = _spans(decode(probs, DecodeOptions(**{**base, "merge_gap": 21, "nms_iou": 0.5}), background=0))
    assert got == [(20, 40, 2)]
    got = _spans(decode(probs, DecodeOptions(**{**base, "merge_gap": 21, "nms_iou": 0.7}), background=0))
    assert got == [(10, 43, 1), (20, 40, 2)]


@pytest.mark.parametrize("seed", range(12))
def test_matches_the_plain_reference_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    T, C = int(rng.integers(1, 150)), int(rng.integers(1, 6))
    # piecewise-constant logits with noise: runs of various lengths, flicker, near-ties
    logits = np.repeat(rng.normal(0, 2, size=(T // 7 + 1, C)), 7, axis=0)[:T] + rng.normal(0, 0.7, size=(T, C))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    background = int(rng.integers(C)) if rng.random() < 0.6 else None
    threshold = float(rng.uniform(0.1, 0.6)) if rng.random() < 0.5 else rng.uniform(0.1, 0.6, size=C).tolist()
    opt = DecodeOptions(smooth=int(rng.choice([1, 3, 5, 9])), threshold=threshold,
                        min_length=int(rng.integers(1, 10)), merge_gap=int(rng.integers(0, 8)),
                        nms_iou=float(rng.choice([0.0, 0.3, 0.5, 1.0])))
    got = decode(probs, opt, background=background)
    want = reference_decode(probs, opt, background)
    assert _spans(got) == [w[:3] for w in want]
    assert [s.score for s in got] == pytest.approx([w[3] for w in want])


def test_deterministic():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(33) * 0.3, size=20_000)
    opt = DecodeOptions()
    assert decode(probs, opt, background=32) == decode(probs.copy(), opt, background=32)


@pytest.mark.parametrize("kwargs, message", [
    ({"smooth": 4}, "odd"), ({"smooth": 0}, "odd"), ({"min_length": 0}, "min_length"),
    ({"merge_gap": -1}, "merge_gap"), ({"nms_iou": 1.5}, "nms_iou"), ({"threshold": float("nan")}, "finite"),
    ({"threshold": []}, "threshold"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DecodeOptions(**kwargs)


def test_bad_probabilities_are_refused():
    with pytest.raises(ValueError, match="one value per class"):
        decode(np.full((5, 3), 1 / 3), DecodeOptions(threshold=[0.5, 0.5]))
    with pytest.raises(ValueError, match="not finite"):
        decode(np.array([[0.5, np.nan]]), DecodeOptions())
    with pytest.raises(ValueError, match=r"\[frames, classes\]"):
        decode(np.zeros(5), DecodeOptions())
    with pytest.raises(ValueError, match="background"):
        decode(np.full((5, 3), 1 / 3), DecodeOptions(), background=3)


# -- the timeline figure ------------------------------------------------------------------------------
def test_timeline_writes_a_png_atomically(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    from mgfast.recognize.timeline import draw_timeline

    probs = _probs(300, 4, [(20, 60, 1, 0.9), (150, 190, 2, 0.8)], rest=3)
    segs = decode(probs, DecodeOptions(), background=3)
    names = ["nose", "chin", "ear", "no gesture"]
    out = draw_timeline(probs, segs, names, 25.0, tmp_path / "t.png", truth=[Segment(18, 62, 1, 1.0)])
    assert out == tmp_path / "t.png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(out)
    assert image.ndim == 3 and image.shape[1] > 1000 and image.std() > 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png"]  # no temporary left behind

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        draw_timeline(probs, segs, names, 25.0, tmp_path / "u.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png"]


def test_timeline_long_video_and_bad_input(tmp_path):
    from mgfast.recognize.timeline import clock, draw_timeline, pooled_columns

    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=5003)
    pooled, size = pooled_columns(probs, columns=100)
    assert size == 51 and pooled.shape == (99, 5)
    assert np.array_equal(pooled, np.stack([probs[i : i + 51].max(axis=0) for i in range(0, 5003, 51)]))
    assert (clock(59.6), clock(754), clock(3725)) == ("1:00", "12:34", "1:02:05")
    long = rng.dirichlet(np.ones(5), size=25 * 3600)
    segs = [Segment(s, s + 30, int(s % 4), 0.7) for s in range(0, 25 * 3600 - 30, 400)]
    draw_timeline(long, segs, list("abcde"), 25.0, tmp_path / "hour.png", truth=segs)
    assert (tmp_path / "hour.png").stat().st_size > 0
    with pytest.raises(ValueError, match="one name per class"):
        draw_timeline(probs, [], list("abc"), 25.0, tmp_path / "x.png")
    with pytest.raises(ValueError, match="outside"):
        draw_timeline(probs, [Segment(5000, 5010, 0, 1.0)], list("abcde"), 25.0, tmp_path / "x.png")
    with pytest.raises(ValueError, match="PNG"):
        draw_timeline(probs, [], list("abcde"), 25.0, tmp_path / "x.jpg")


def test_options_accept_numpy_numbers():
    opt = DecodeOptions(smooth=np.int64(5), threshold=np.float32(0.25), min_length=np.int32(3), nms_iou=np.float32(0.5))
    assert (opt.smooth, opt.threshold, opt.min_length) == (5, 0.25, 3) and type(opt.smooth) is int
    per_class = DecodeOptions(threshold=np.array([0.2, 0.3]))
    assert per_class.threshold == (0.2, 0.3) and hash(per_class) == hash(DecodeOptions(threshold=[0.2, 0.3]))
    probs = _probs(40, 2, [(10, 30, 1, 0.9)], rest=0)
    assert decode(probs, opt, background=0) == decode(probs, DecodeOptions(5, 0.25, 3, 4, 0.5), background=0)
