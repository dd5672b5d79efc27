"""mgfast.metrics against brute-force loops written from the definitions, plus published values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mgfast import metrics


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 12))
    n = int(rng.integers(1, 80))
    # Draw from a subset of the classes so some are absent from labels, predictions or both.
    pool = rng.choice(c, size=int(rng.integers(1, c + 1)), replace=False)
    y_true = rng.choice(pool, n)
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.choice(pool, n))
    return y_true, y_pred, c


def loop_counts(y_true, y_pred, k):
    tp = sum(1 for t, p in zip(y_true, y_pred) if t == k and p == k)
    fp = sum(1 for t, p in zip(y_true, y_pred) if t != k and p == k)
    fn = sum(1 for t, p in zip(y_true, y_pred) if t == k and p != k)
    return tp, fp, fn


def loop_prf(y_true, y_pred, k):
    tp, fp, fn = loop_counts(y_true, y_pred, k)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@pytest.mark.parametrize("seed", range(25))
def test_scores_match_loops(seed):
    y_true, y_pred, c = random_case(seed)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true))

    cm = metrics.confusion_matrix(y_true, y_pred, c)
    expected = np.zeros((c, c), np.int64)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)

    scores = metrics.class_scores(y_true, y_pred, c)
    for k in range(c):
        precision, recall, f1 = loop_prf(y_true, y_pred, k)
        assert scores.precision[k] == pytest.approx(precision)
        assert scores.recall[k] == pytest.approx(recall)
        assert scores.f1[k] == pytest.approx(f1)
        assert scores.support[k] == sum(1 for t in y_true if t == k)

    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    macro = sum(loop_prf(y_true, y_pred, k)[2] for k in present) / len(present)
    assert metrics.macro_f1(y_true, y_pred, c) == pytest.approx(macro)


@pytest.mark.parametrize("seed", range(10))
def test_micro_f1_from_pooled_counts_is_accuracy(seed):
    y_true, y_pred, c = random_case(seed)
    tp, fp, fn = (sum(v) for v in zip(*(loop_counts(y_true, y_pred, k) for k in range(c))))
    micro = 2 * tp / (2 * tp + fp + fn)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(micro)


def test_published_example():
    # scikit-learn's f1_score docstring example: macro 0.2666..., micro 0.3333...
    y_true, y_pred = [0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]
    assert metrics.macro_f1(y_true, y_pred, 3) == pytest.approx(0.26666666666666666)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(1 / 3)
    np.testing.assert_allclose(metrics.class_scores(y_true, y_pred, 3).f1, [0.8, 0.0, 0.0])


def test_macro_f1_counts_predicted_but_absent_classes_and_skips_unseen_ones():
    # Classes 3 and 4 appear nowhere: not averaged. Class 2 is only predicted: averaged with F1 0.
    assert metrics.macro_f1([0, 0, 1], [0, 0, 2], 5) == pytest.approx((1.0 + 0.0 + 0.0) / 3)
    assert metrics.macro_f1([0, 1], [0, 1], 5) == 1.0


def random_probs(rng, n, c, sharpness=3.0):
    z = rng.normal(0, sharpness, (n, c))
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def loop_ece(probs, labels, n_bins=15):
    edges = [k / n_bins for k in range(n_bins + 1)]
    total = 0.0
    for b in range(n_bins):
        members = []
        for row, y in zip(probs, labels):
            conf = max(row)
            inside = (edges[b] < conf <= edges[b + 1]) or (b == 0 and conf == 0.0)
            if inside:
                members.append((conf, float(int(np.argmax(row)) == y)))
        if members:
            mean_conf = sum(m[0] for m in members) / len(members)
            mean_acc = sum(m[1] for m in members) / len(members)
            total += len(members) / len(labels) * abs(mean_acc - mean_conf)
    return total


@pytest.mark.parametrize("seed", range(10))
def test_ece_and_nll_match_loops(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 200)), int(rng.integers(2, 10))
    probs = random_probs(rng, n, c, sharpness=float(rng.uniform(0.1, 5)))
    labels = rng.integers(0, c, n)
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(loop_ece(probs, labels), abs=1e-12)
    expected_nll = sum(-math.log(max(row[y], 1e-12)) for row, y in zip(probs, labels)) / n
    assert metrics.nll(probs, labels) == pytest.approx(expected_nll)


def test_ece_hand_case_and_right_closed_bins():
    # Four clips at confidence 0.62 (bin (0.6, 0.667]), three right: |0.75 - 0.62| = 0.13.
    probs = np.array([[0.62, 0.38]] * 4)
    r = metrics.reliability(probs, [0, 0, 0, 1])
    assert r.count[9] == 4 and r.count.sum() == 4
    assert r.accuracy[9] == pytest.approx(0.75) and r.confidence[9] == pytest.approx(0.62)
    assert np.isnan(r.accuracy[0]) and np.isnan(r.confidence[0])
    assert metrics.expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.13)
    # With two bins, confidence 0.5 is the right edge of the first bin, 1.0 of the last.
    r = metrics.reliability(np.array([[0.5, 0.5], [1.0, 0.0]]), [1, 0], n_bins=2)
    np.testing.assert_array_equal(r.count, [1, 1])
    np.testing.assert_array_equal(r.accuracy, [0.0, 1.0])


def test_ece_is_zero_for_certain_correct_predictions_and_nll_floors_zeros():
    probs = np.eye(4)
    assert metrics.expected_calibration_error(probs, [0, 1, 2, 3]) == 0.0
    assert metrics.nll(probs, [1, 0, 3, 2]) == pytest.approx(-math.log(1e-12))


def test_evaluate_bundles_the_individual_metrics():
    rng = np.random.default_rng(3)
    probs, labels = random_probs(rng, 120, 6), rng.integers(0, 6, 120)
    m = metrics.evaluate(probs, labels)
    pred = probs.argmax(1)
    assert m.accuracy == m.micro_f1 == metrics.accuracy(labels, pred)
    assert m.macro_f1 == metrics.macro_f1(labels, pred, 6)
    np.testing.assert_array_equal(m.confusion, metrics.confusion_matrix(labels, pred, 6))
    assert m.ece_bins == metrics.ece_bins(120) == 4 and m.clips == 120
    assert m.ece == metrics.expected_calibration_error(probs, labels, 4) and m.nll == metrics.nll(probs, labels)
    assert m.brier == metrics.brier_score(probs, labels)


def test_ece_bins_grow_with_the_clips():
    assert [metrics.ece_bins(n) for n in (1, 24, 25, 48, 100, 374, 375, 5000)] == [1, 1, 1, 1, 4, 14, 15, 15]


def test_brier_score_matches_a_loop():
    rng = np.random.default_rng(5)
    probs, labels = random_probs(rng, 50, 4), rng.integers(0, 4, 50)
    expected = sum(sum((row[c] - (c == y)) ** 2 for c in range(4)) for row, y in zip(probs, labels)) / 50
    assert metrics.brier_score(probs, labels) == pytest.approx(expected, abs=1e-12)
    assert metrics.brier_score(np.eye(3), [0, 1, 2]) == 0.0
    assert metrics.brier_score(np.eye(3), [1, 2, 0]) == pytest.approx(2.0)


def test_ece_noise_floor_is_the_ece_of_calibrated_draws():
    rng = np.random.default_rng(8)
    probs = random_probs(rng, 48, 6, sharpness=1.5)
    # Reference: labels drawn from the model itself (perfectly calibrated), ECE averaged over many draws.
    draws = [metrics.expected_calibration_error(probs, [rng.choice(6, p=row) for row in probs], 15)
             for _ in range(400)]
    floor = metrics.ece_noise_floor(probs, 15, draws=2000)
    # Top-label calibration only needs P(correct) = confidence, which drawing from the full row gives.
    assert floor == pytest.approx(np.mean(draws), rel=0.06)
    assert floor > 0.1  # 15 bins over 48 clips: a calibrated model looks badly calibrated
    assert metrics.ece_noise_floor(probs, 1) < 0.5 * floor
    assert metrics.ece_noise_floor(np.eye(3), 15) == 0.0


def test_bad_input_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match="drop unlabelled"):
        metrics.accuracy([0, -1], [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        metrics.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(TypeError, match="integer"):
        metrics.accuracy([0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="entries"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="non-empty"):
        metrics.macro_f1([], [], 3)
    with pytest.raises(ValueError, match="rows"):
        metrics.nll(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="n_bins"):
        metrics.reliability(np.eye(3), [0, 1, 2], n_bins=0)
