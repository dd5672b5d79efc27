"""CMPL pseudo-label selection: hand-made cases for each rule, and a loop reference written from the
documented rules on random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mgfast.pseudo import select_pseudo_labels, teacher_probs


def arr(*rows):
    return np.array(rows, dtype=np.float64)


TWO_TEACHERS = {
    "rgb": arr([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]),  # target: never read
    "joint": arr([0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.5, 0.4, 0.1], [0.05, 0.05, 0.9]),
    "heatmap": arr([0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]),
}


def test_agreement_and_threshold_with_two_teachers():
    s = select_pseudo_labels(TWO_TEACHERS, "rgb", tau=0.8)
    # Clip 1: the teachers disagree. Clip 2: they agree but the mean confidence is 0.55.
    np.testing.assert_array_equal(s.indices, [0, 3])
    np.testing.assert_array_equal(s.labels, [0, 2])
    np.testing.assert_allclose(s.confidence, [0.85, 0.85])
    s = select_pseudo_labels(TWO_TEACHERS, "rgb", tau=0.55)
    np.testing.assert_array_equal(s.indices, [0, 2, 3])
    np.testing.assert_allclose(s.confidence, [0.85, 0.55, 0.85])
    # Two teachers: a strict majority means both, so "majority" equals "all".
    m = select_pseudo_labels(TWO_TEACHERS, "rgb", tau=0.55, agree="majority")
    np.testing.assert_array_equal(m.indices, s.indices)


def test_majority_needs_more_than_half_of_the_teachers_on_the_teacher_label():
    probs = {
        "target": arr([1, 0, 0], [1, 0, 0], [1, 0, 0]),
        "a": arr([0.1, 0.9, 0.0], [0.45, 0.55, 0.0], [0.1, 0.9, 0.0]),
        "b": arr([0.1, 0.9, 0.0], [0.45, 0.55, 0.0], [0.1, 0.2, 0.7]),
        "c": arr([0.9, 0.1, 0.0], [1.0, 0.0, 0.0], [0.1, 0.2, 0.7]),
    }
    # Clip 0: 2 of 3 vote 1 and the mean [0.367, 0.633, 0] agrees -> majority yes, all no.
    # Clip 1: 2 of 3 vote 1 but the mean [0.633, 0.367, 0] picks 0, which only 1 teacher votes for -> no.
    # Clip 2: 2 of 3 vote 2, the mean [0.1, 0.433, 0.467] picks 2 -> majority yes.
    maj = select_pseudo_labels(probs, "target", tau=0.0, agree="majority")
    np.testing.assert_array_equal(maj.indices, [0, 2])
    np.testing.assert_array_equal(maj.labels, [1, 2])
    np.testing.assert_allclose(maj.confidence, [1.9 / 3, 1.4 / 3])
    assert len(select_pseudo_labels(probs, "target", tau=0.0, agree="all")) == 0


def test_single_teacher_with_temperature():
    probs = {"joint": arr([0.7, 0.2, 0.1], [0.4, 0.35, 0.25]), "rgb": arr([0, 0, 1], [0, 1, 0])}
    assert len(select_pseudo_labels(probs, "rgb", tau=0.9)) == 0
    # T = 0.5 squares the probabilities: 0.49 / (0.49 + 0.04 + 0.01) = 0.9074 for clip 0.
    s = select_pseudo_labels(probs, "rgb", tau=0.9, temperatures={"joint": 0.5})
    np.testing.assert_array_equal(s.indices, [0])
    assert s.confidence[0] == pytest.approx(0.49 / 0.54)
    teacher, teachers = teacher_probs(probs, "rgb", temperatures={"joint": 0.5})
    assert teachers == ["joint"]
    np.testing.assert_allclose(teacher[1], np.array([0.16, 0.1225, 0.0625]) / 0.345)


def test_weights_shape_the_teacher_and_zero_weight_modalities_do_not_vote():
    probs = {"t": arr([1, 0]), "a": arr([0.9, 0.1]), "b": arr([0.3, 0.7])}
    teacher, _ = teacher_probs(probs, "t", weights={"a": 3.0, "b": 1.0})
    np.testing.assert_allclose(teacher, [[0.75, 0.25]])
    # b votes 1 against the teacher's 0.
    assert len(select_pseudo_labels(probs, "t", tau=0.5, weights={"a": 3.0, "b": 1.0})) == 0
    s = select_pseudo_labels(probs, "t", tau=0.5, weights={"a": 3.0, "b": 0.0})
    np.testing.assert_array_equal(s.indices, [0])
    assert s.confidence[0] == pytest.approx(0.9)


def test_per_class_cap_keeps_the_most_confident_then_the_lower_index():
    conf = np.array([0.91, 0.97, 0.95, 0.97, 0.99, 0.93])
    cls = np.array([0, 0, 0, 0, 1, 1])
    teacher = np.full((6, 2), 0.0)
    teacher[np.arange(6), cls] = conf
    teacher[np.arange(6), 1 - cls] = 1 - conf
    probs = {"t": teacher, "a": teacher}
    s = select_pseudo_labels(probs, "t", tau=0.9, per_class_cap=2)
    # Class 0: 0.97 (clip 1) and 0.97 (clip 3) beat 0.95 and 0.91; class 1 keeps both.
    np.testing.assert_array_equal(s.indices, [1, 3, 4, 5])
    np.testing.assert_array_equal(s.labels, [0, 0, 1, 1])
    s = select_pseudo_labels(probs, "t", tau=0.9, per_class_cap=1)
    np.testing.assert_array_equal(s.indices, [1, 4])
    assert len(select_pseudo_labels(probs, "t", tau=0.9, per_class_cap=0)) == 0
    assert len(select_pseudo_labels(probs, "t", tau=0.9, per_class_cap=None)) == 6


def random_probs(rng, n, c):
    z = rng.normal(0, rng.uniform(0.5, 4), (n, c))
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_the_target_never_teaches_itself():
    rng = np.random.default_rng(0)
    probs = {m: random_probs(rng, 200, 6) for m in ("joint", "heatmap", "rgb")}
    for target in probs:
        base = select_pseudo_labels(probs, target, tau=0.4, agree="majority", per_class_cap=10)
        assert len(base) > 0
        for _ in range(3):
            changed = dict(probs)
            changed[target] = random_probs(rng, 200, 6)
            other = select_pseudo_labels(changed, target, tau=0.4, agree="majority", per_class_cap=10,
                                         temperatures={m: 1.0 for m in probs if m != target})
            for field in ("indices", "labels", "confidence"):
                np.testing.assert_array_equal(getattr(other, field), getattr(base, field))


def loop_reference(probs, target, tau, temperatures, weights, agree, cap):
    """The module docstring's rules, one clip at a time in plain Python."""
    teachers = [m for m in probs if m != target and weights[m] > 0]
    total = sum(weights[m] for m in teachers)
    n, c = next(iter(probs.values())).shape
    chosen = []
    for i in range(n):
        mean = [0.0] * c
        for m in teachers:
            powered = [probs[m][i][k] ** (1 / temperatures[m]) for k in range(c)]
            s = sum(powered)
            for k in range(c):
                mean[k] += weights[m] / total * powered[k] / s
        label = max(range(c), key=lambda k: (mean[k], -k))
        votes = sum(1 for m in teachers if int(np.argmax(probs[m][i])) == label)
        ok = votes == len(teachers) if agree == "all" else votes > len(teachers) / 2
        if ok and mean[label] >= tau:
            chosen.append((i, label, mean[label]))
    if cap is not None:
        kept = []
        for k in range(c):
            members = sorted((x for x in chosen if x[1] == k), key=lambda x: (-x[2], x[0]))
            kept += members[:cap]
        chosen = sorted(kept)
    return chosen


@pytest.mark.parametrize("seed", range(12))
def test_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    m, n, c = int(rng.integers(2, 5)), int(rng.integers(1, 60)), int(rng.integers(2, 6))
    names = [f"m{k}" for k in range(m)]
    probs = {name: random_probs(rng, n, c) for name in names}
    temps = {name: float(rng.uniform(0.3, 3)) for name in names}
    weights = {name: float(rng.choice([0.0, rng.uniform(0.1, 2)])) for name in names}
    target = names[int(rng.integers(0, m))]
    if all(weights[x] == 0 for x in names if x != target):
        weights[next(x for x in names if x != target)] = 1.0
    agree = ["all", "majority"][seed % 2]
    tau = float(rng.uniform(0, 0.8))
    cap = None if seed % 3 == 0 else int(rng.integers(0, 5))
    s = select_pseudo_labels(probs, target, tau=tau, temperatures=temps, weights=weights, agree=agree,
                             per_class_cap=cap)
    expected = loop_reference(probs, target, tau, temps, weights, agree, cap)
    np.testing.assert_array_equal(s.indices, [e[0] for e in expected])
    np.testing.assert_array_equal(s.labels, [e[1] for e in expected])
    np.testing.assert_allclose(s.confidence, [e[2] for e in expected], rtol=1e-12)
    assert s.indices.dtype == np.int64 and s.labels.dtype == np.int64


def test_bad_arguments_name_the_fix():
    p = {"a": np.full((3, 2), 0.5), "b": np.full((3, 2), 0.5)}
    with pytest.raises(ValueError, match="at least two modalities"):
        select_pseudo_labels({"a": p["a"]}, "a", tau=0.5)
    with pytest.raises(ValueError, match="not among"):
        select_pseudo_labels(p, "rgb", tau=0.5)
    with pytest.raises(ValueError, match="same clips"):
        select_pseudo_labels({"a": p["a"], "b": np.full((4, 2), 0.5)}, "a", tau=0.5)
    with pytest.raises(ValueError, match="agree"):
        select_pseudo_labels(p, "a", tau=0.5, agree="any")
    for tau in (-0.1, 1.5, math.nan, True):
        with pytest.raises(ValueError, match="tau"):
            select_pseudo_labels(p, "a", tau=tau)
    for cap in (-1, 2.0, True):
        with pytest.raises(ValueError, match="per_class_cap"):
            select_pseudo_labels(p, "a", tau=0.5, per_class_cap=cap)
    with pytest.raises(ValueError, match="nothing can teach"):
        select_pseudo_labels(p, "a", tau=0.5, weights={"a": 1.0, "b": 0.0})
    with pytest.raises(ValueError, match="lacks modality"):
        select_pseudo_labels(p, "a", tau=0.5, temperatures={"a": 1.0})
    with pytest.raises(ValueError, match="temperatures"):
        select_pseudo_labels(p, "a", tau=0.5, temperatures={"b": 0.0})
