"""Temperature scaling, soft-voting fusion, the weight search, run/logits reading, the submission CSV and
the `mgfast fuse` command, checked against plain numpy written from the formulas."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import fake_runs
from mgfast import calibration, fuse, metrics, runs
from mgfast.cli.main import app
from mgfast.report import write_report


def loop_softmax(row, t=1.0):
    peak = max(row)
    e = [math.exp((v - peak) / t) for v in row]
    return [v / sum(e) for v in e]


def sample_labels(rng, logits, temperature):
    """Labels drawn from softmax(logits / temperature), so that T = temperature is the true calibration."""
    p = calibration.softmax(logits, temperature)
    u = rng.random((p.shape[0], 1))
    return np.minimum((p.cumsum(1) < u).sum(1), p.shape[1] - 1)


# -- calibration ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_softmax_and_temper_match_loops(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 5, (20, 7))
    t = float(rng.uniform(0.2, 4))
    expected = np.array([loop_softmax(r, t) for r in z])
    np.testing.assert_allclose(calibration.softmax(z, t), expected, rtol=1e-12)
    np.testing.assert_allclose(calibration.temper(calibration.softmax(z), t), expected, rtol=1e-9)
    # Zero probabilities stay zero.
    p = np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(calibration.temper(p, t), p)


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 999.0, -1000.0]])
    np.testing.assert_allclose(calibration.softmax(z), [loop_softmax(z[0])], rtol=1e-12)
    assert np.isfinite(calibration.log_softmax(z, 0.01)[0, :2]).all()


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5, 6.0])
def test_fit_recovers_the_sampling_temperature(t_true):
    rng = np.random.default_rng(int(t_true * 10))
    z = rng.normal(0, 4, (20000, 8))
    y = sample_labels(rng, z, t_true)
    assert calibration.fit_temperature(z, y) == pytest.approx(t_true, rel=0.05)


@pytest.mark.parametrize("seed", range(3))
def test_fit_matches_a_dense_grid_search(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (500, 5))
    y = sample_labels(rng, z, float(rng.uniform(0.5, 3)))
    grid = np.exp(np.linspace(np.log(0.1), np.log(10), 4001))
    rows = np.arange(y.size)

    def loop_nll(t):
        s = z / t
        return float(np.mean(np.log(np.exp(s - s.max(1, keepdims=True)).sum(1)) + s.max(1) - s[rows, y]))

    values = [loop_nll(t) for t in grid]
    best = grid[int(np.argmin(values))]
    fitted = calibration.fit_temperature(z, y)
    assert abs(math.log(fitted) - math.log(best)) <= np.log(grid[1] / grid[0])
    assert loop_nll(fitted) <= min(values) + 1e-9


def test_fit_is_scale_equivariant_and_respects_bounds():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 2, (3000, 6))
    y = sample_labels(rng, z, 1.3)
    t = calibration.fit_temperature(z, y)
    assert calibration.fit_temperature(5 * z, y) == pytest.approx(5 * t, rel=1e-4)
    # Perfectly separated clips push T to the lower bound; uninformative logits to the upper one.
    sep = np.eye(4)[np.arange(40) % 4] * 10
    assert calibration.fit_temperature(sep, np.arange(40) % 4) == pytest.approx(calibration.T_BOUNDS[0], rel=1e-3)
    wrong = np.eye(4)[(np.arange(40) + 1) % 4] * 10
    assert calibration.fit_temperature(wrong, np.arange(40) % 4, bounds=(0.1, 50)) == pytest.approx(50, rel=1e-3)


def test_scaling_lowers_ece_on_overconfident_logits():
    rng = np.random.default_rng(11)
    z = rng.normal(0, 1.5, (8000, 10))
    y = sample_labels(rng, z, 1.0)
    sharp = 3 * z
    t = calibration.fit_temperature(sharp, y)
    assert t == pytest.approx(3, rel=0.08)
    before = metrics.expected_calibration_error(calibration.softmax(sharp), y)
    after = metrics.expected_calibration_error(calibration.softmax(sharp, t), y)
    assert after < 0.5 * before and after < 0.03


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        calibration.fit_temperature(np.array([[np.nan, 0.0]]), [0])
    with pytest.raises(ValueError, match="unlabelled"):
        calibration.fit_temperature(np.zeros((2, 3)), [0, -1])
    with pytest.raises(ValueError, match="rows"):
        calibration.fit_temperature(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="bounds"):
        calibration.fit_temperature(np.zeros((2, 3)), [0, 1], bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="temperature"):
        calibration.softmax(np.zeros((2, 3)), 0.0)


# -- fusion and weight search ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_fusion_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    names = ["joint", "heatmap", "rgb"][: int(rng.integers(1, 4))]
    z = {m: rng.normal(0, 3, (15, 4)) for m in names}
    temps = {m: float(rng.uniform(0.5, 3)) for m in names}
    weights = {m: float(rng.uniform(0.1, 5)) for m in names}
    fused = fuse.fuse_probs({m: calibration.softmax(z[m], temps[m]) for m in names}, weights)
    total = sum(weights.values())
    for i in range(15):
        expected = [sum(weights[m] / total * loop_softmax(z[m][i], temps[m])[k] for m in names) for k in range(4)]
        np.testing.assert_allclose(fused[i], expected, rtol=1e-12)


def test_fusing_identical_modalities_equals_one_modality():
    rng = np.random.default_rng(1)
    p = calibration.softmax(rng.normal(0, 3, (50, 6)))
    for weights in ({"a": 1, "b": 1, "c": 1}, {"a": 0.7, "b": 0.2, "c": 0.1}, {"a": 0, "b": 0, "c": 2}):
        np.testing.assert_allclose(fuse.fuse_probs({"a": p, "b": p, "c": p}, weights), p, rtol=1e-12)


def test_fusion_rejects_bad_weights_and_shapes():
    p = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="positive"):
        fuse.fuse_probs({"a": p}, {"a": 0.0})
    with pytest.raises(ValueError, match="non-negative"):
        fuse.fuse_probs({"a": p, "b": p}, {"a": 1.0, "b": -1.0})
    with pytest.raises(ValueError, match="no weight"):
        fuse.fuse_probs({"a": p, "b": p}, {"a": 1.0})
    with pytest.raises(ValueError, match="shape"):
        fuse.fuse_probs({"a": p, "b": np.full((3, 3), 1 / 3)}, {"a": 1.0, "b": 1.0})


@pytest.mark.parametrize("m,step", [(1, 0.5), (2, 0.1), (3, 0.1), (3, 0.05), (4, 0.25)])
def test_simplex_grid_is_every_composition(m, step):
    grid = fuse.simplex_grid(m, step)
    n = round(1 / step)
    expected = {c for c in itertools.product(range(n + 1), repeat=m) if sum(c) == n}
    assert {tuple(int(v) for v in np.rint(row * n)) for row in grid} == expected
    assert len(grid) == len(expected) == math.comb(n + m - 1, m - 1)
    np.testing.assert_allclose(grid.sum(1), 1.0)
    spread = ((grid - 1 / m) ** 2).sum(1)
    assert np.all(np.diff(spread) >= -1e-12)  # most uniform first


def test_simplex_grid_rejects_steps_that_do_not_divide_one():
    for step in (0.3, 0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="1/k"):
            fuse.simplex_grid(3, step)


def brute_force_search(probs, y, step):
    names = list(probs)
    n = round(1 / step)
    best_nll, best = None, None
    candidates = [c for c in itertools.product(range(n + 1), repeat=len(names)) if sum(c) == n]
    uniform = np.full(len(names), 1 / len(names))
    candidates.sort(key=lambda c: float(((np.array(c) / n - uniform) ** 2).sum()))
    for c in candidates:
        fused = sum(c[i] / n * probs[m] for i, m in enumerate(names))
        nll = -np.mean(np.log(np.maximum(fused[np.arange(y.size), y], 1e-12)))
        if best_nll is None or nll < best_nll:
            best_nll, best = nll, c
    return {m: best[i] / n for i, m in enumerate(names)}


@pytest.mark.parametrize("seed", range(4))
def test_weight_search_matches_brute_force_and_beats_every_single_modality(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, 150)
    probs = {}
    for name, skill in (("joint", 2.0), ("heatmap", 1.0), ("rgb", 0.0)):
        z = rng.normal(0, 1, (150, 5))
        z[np.arange(150), y] += skill
        probs[name] = calibration.softmax(z)
    for step in (0.1, 0.25):
        weights = fuse.search_weights(probs, y, step=step)
        assert weights == pytest.approx(brute_force_search(probs, y, step))
        fused_nll = metrics.nll(fuse.fuse_probs(probs, weights), y)
        assert fused_nll <= min(metrics.nll(p, y) for p in probs.values())
    # The default grid is coarse (step 1/6 for three modalities) and holds the uniform mix.
    assert fuse.default_step(3) == pytest.approx(1 / 6) and fuse.default_step(2) == 0.25
    assert fuse.search_weights(probs, y) == pytest.approx(brute_force_search(probs, y, 1 / 6))


def test_weight_search_keeps_uniform_weights_when_modalities_tie():
    rng = np.random.default_rng(2)
    p = calibration.softmax(rng.normal(0, 2, (40, 4)))
    y = rng.integers(0, 4, 40)
    assert fuse.search_weights({"a": p, "b": p, "c": p}, y) == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert fuse.search_weights({"a": p, "b": p}, y, step=0.1) == pytest.approx({"a": 0.5, "b": 0.5})


# -- submission ---------------------------------------------------------------------------------------------

def test_submission_round_trips(tmp_path):
    ids = ["0054_12", "0054_3", "1001_1"]
    codes = [99, 1, 31]
    path = tmp_path / "sub" / "submission.csv"
    fuse.write_submission(path, ids, codes)
    assert path.read_text().splitlines() == ["Id,Target", "0054_12,99", "0054_3,1", "1001_1,31"]
    assert fuse.read_submission(path) == dict(zip(ids, codes))


@pytest.mark.parametrize("text,match", [
    ("Id,Label\n1_1,3\n", ":1: expected the header"),
    ("Id,Target\n1_1,3\n1_1,4\n", ":3: clip id 1_1 appears twice"),
    ("Id,Target\n1_1,three\n", ":2: Target must be an integer"),
    ("Id,Target\n1_1\n", ":2: expected two fields"),
    ("", ":1: expected the header"),
])
def test_read_submission_errors_name_the_line(tmp_path, text, match):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        fuse.read_submission(path)
    with pytest.raises(FileNotFoundError):
        fuse.read_submission(tmp_path / "missing.csv")


# -- run directories ----------------------------------------------------------------------------------------

def one_split(ids, z, labels=None, hidden=None):
    n = len(ids)
    return {"clip_ids": np.asarray(ids), "logits": np.asarray(z, np.float32),
            "labels": np.full(n, -1) if labels is None else np.asarray(labels),
            "hidden_labels": np.full(n, -1) if hidden is None else np.asarray(hidden)}


def test_read_run_and_load_logits(tmp_path):
    z = np.arange(10, dtype=np.float32).reshape(2, 5)
    path = fake_runs.write_run(tmp_path / "r", "joint", {"val": one_split(["a_1", "a_2"], z, [0, 4])})
    run = runs.read_run(path)
    assert run.modality == "joint" and run.path == path and run.config == {"epochs": 1}
    assert [c.code for c in run.classes] == list(fake_runs.CODES) and run.classes[1].name == "class 7"
    logits = runs.load_logits(path, "val")
    assert logits.clip_ids.tolist() == ["a_1", "a_2"] and logits.num_classes == 5
    np.testing.assert_array_equal(logits.logits, z)
    np.testing.assert_array_equal(logits.labels, [0, 4])
    np.testing.assert_array_equal(logits.hidden_labels, [-1, -1])


def test_bad_run_directories_are_reported_with_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run.json"):
        runs.read_run(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"modality": "joint"}))
    with pytest.raises(ValueError, match="run.json: missing key"):
        runs.read_run(tmp_path)
    (tmp_path / "run.json").write_text("{\n oops")
    with pytest.raises(ValueError, match=r"run.json:2: invalid JSON"):
        runs.read_run(tmp_path)
    classes = [{"index": 1, "code": 3, "name": "x"}]
    fake_runs.write_run(tmp_path, "joint", {}, classes=classes)
    with pytest.raises(ValueError, match="indices 0..C-1"):
        runs.read_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="val.npz is missing"):
        runs.load_logits(tmp_path, "val")


@pytest.mark.parametrize("arrays,match", [
    ({"clip_ids": np.array(["a"]), "logits": np.zeros((1, 3))}, "missing array"),
    ({**one_split(["a"], np.zeros((1, 3))), "clip_ids": np.array(["a"], dtype=object)}, "object arrays"),
    ({**one_split(["a"], np.zeros((1, 3))), "logits": np.zeros((2, 3))}, "one row per clip"),
    ({**one_split(["a"], np.zeros((1, 3))), "logits": np.full((1, 3), np.nan)}, "NaN/inf, first a"),
    (one_split(["a"], np.zeros((1, 3)), labels=[3]), r"labels must lie in \[-1, 3\)"),
    (one_split(["a"], np.zeros((1, 3)), hidden=[0.5]), "hidden_labels must be an integer"),
    (one_split(["a", "a"], np.zeros((2, 3))), "not unique"),
])
def test_bad_logits_files_are_reported(tmp_path, arrays, match):
    (tmp_path / "logits").mkdir()
    np.savez(tmp_path / "logits" / "val.npz", **arrays)
    with pytest.raises(ValueError, match=match) as error:
        runs.load_logits(tmp_path, "val")
    assert "val.npz" in str(error.value)


def test_align_reorders_rows_and_rejects_mismatches(tmp_path):
    z = np.arange(15, dtype=np.float32).reshape(3, 5)
    a = fake_runs.write_run(tmp_path / "a", "joint", {"val": one_split(["x", "y", "z"], z, [0, 1, 2])})
    b = fake_runs.write_run(tmp_path / "b", "rgb", {"val": one_split(["z", "x", "y"], z[[2, 0, 1]], [2, 0, 1])})
    first, second = runs.align_logits([runs.load_logits(a, "val"), runs.load_logits(b, "val")])
    assert second.clip_ids.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(second.logits, z)
    np.testing.assert_array_equal(second.labels, [0, 1, 2])
    c = fake_runs.write_run(tmp_path / "c", "rgb", {"val": one_split(["x", "y", "w"], z, [0, 1, 2])})
    with pytest.raises(ValueError, match="cover different clips.*'w'.*'z'"):
        runs.align_logits([runs.load_logits(a, "val"), runs.load_logits(c, "val")])
    d = fake_runs.write_run(tmp_path / "d", "rgb", {"val": one_split(["x", "y", "z"], z, [0, 1, 3])})
    with pytest.raises(ValueError, match="disagree on labels of 1 clip"):
        runs.align_logits([runs.load_logits(a, "val"), runs.load_logits(d, "val")])


def test_run_names_and_class_checks(tmp_path):
    paths, _ = fake_runs.make_runs(tmp_path, specs=(("joint", 1, 1), ("rgb", 1, 1)))
    other = fake_runs.write_run(tmp_path / "other" / "joint", "joint", {}, classes=fake_runs.class_list((1, 2, 3, 4, 5)))
    loaded = [runs.read_run(p) for p in paths]
    assert runs.run_names(loaded) == ["joint", "rgb"]
    with pytest.raises(ValueError, match="different classes"):
        runs.check_same_classes([*loaded, runs.read_run(other)])
    twin = runs.read_run(fake_runs.write_run(tmp_path / "joint-seed2", "joint", {}))
    assert runs.run_names([loaded[0], twin]) == ["joint", "joint-seed2"]
    with pytest.raises(ValueError, match="distinct directory names"):
        runs.run_names([loaded[0], runs.read_run(other)])


# -- fuse_runs end to end -----------------------------------------------------------------------------------

def expected_fusion(paths, split, temps, weights):
    """Fused probabilities in the first run's clip order, from the npz files with plain numpy."""
    arrays = [np.load(p / "logits" / f"{split}.npz") for p in paths]
    ids = arrays[0]["clip_ids"].tolist()
    total = sum(weights)
    fused = 0.0
    for a, t, w in zip(arrays, temps, weights):
        index = {cid: i for i, cid in enumerate(a["clip_ids"].tolist())}
        z = a["logits"][[index[c] for c in ids]].astype(np.float64) / t
        p = np.exp(z - z.max(1, keepdims=True))
        fused = fused + w / total * p / p.sum(1, keepdims=True)
    return ids, fused


def test_fuse_runs_writes_submission_npz_report_and_plots(tmp_path):
    paths, data = fake_runs.make_runs(tmp_path / "runs")
    result = fuse.fuse_runs(paths, search=True)
    assert result.names == ["joint", "heatmap", "rgb"]
    t = result.temperatures
    for name, path in zip(result.names, paths):
        calib = np.load(path / "logits" / "calib.npz")
        assert t[name] == pytest.approx(calibration.fit_temperature(calib["logits"], calib["labels"]))
    assert sum(result.weights.values()) == pytest.approx(1.0)

    out = tmp_path / "out"
    written = {**fuse.write_outputs(result, out), **write_report(result, out)}
    ids, fused = expected_fusion(paths, "test", [t[n] for n in result.names], [result.weights[n] for n in result.names])
    submission = fuse.read_submission(written["submission"])
    assert list(submission) == ids
    assert list(submission.values()) == [fake_runs.CODES[k] for k in fused.argmax(1)]

    with np.load(written["fused"]) as npz:
        assert npz["clip_ids"].tolist() == ids
        np.testing.assert_allclose(npz["probs"], fused, rtol=1e-5, atol=1e-7)
        assert npz["modalities"].tolist() == result.names and npz["modality_probs"].shape == (3, len(ids), 5)
        np.testing.assert_array_equal(npz["class_codes"], fake_runs.CODES)

    report = written["report"].read_text()
    assert "## Split `calib`: labels" in report and "## Split `test`: hidden labels (evaluation only)" in report
    assert "temperatures and weights were fitted on this split" in report and "| fusion |" in report
    assert "Brier after T" in report and "ECE uses 8 equal-width confidence bins" in report  # 200 test clips
    for key in ("confusion_calib", "reliability_calib", "confusion_test", "reliability_test"):
        assert written[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({written[key].name})" in report

    # The test metrics are scored against the hidden labels, with the fusion from the formula.
    truth = dict(zip(*data["test"]))
    hidden = np.array([truth[c] for c in ids])
    after = result.test.metrics[fuse.FUSED][1]
    assert after.accuracy == pytest.approx(np.mean(fused.argmax(1) == hidden))
    assert after.macro_f1 == pytest.approx(metrics.macro_f1(hidden, fused.argmax(1), 5))
    assert result.test.label_source == fuse.HIDDEN_LABELS and result.calibration.label_source == fuse.LABELS
    assert after.brier == pytest.approx(metrics.brier_score(fused, hidden))


def test_fuse_runs_options(tmp_path):
    paths, _ = fake_runs.make_runs(tmp_path)
    plain = fuse.fuse_runs(paths, temperature=False)
    assert plain.temperatures == {"joint": 1.0, "heatmap": 1.0, "rgb": 1.0}
    assert plain.weights == pytest.approx({"joint": 1 / 3, "heatmap": 1 / 3, "rgb": 1 / 3})
    assert plain.weight_source == "uniform"
    before, after = plain.calibration.metrics["joint"]
    assert before.ece == after.ece and before.brier == after.brier
    given = fuse.fuse_runs(paths, weights=[2, 1, 1])
    assert given.weights == pytest.approx({"joint": 0.5, "heatmap": 0.25, "rgb": 0.25})
    _, fused = expected_fusion(paths, "calib", [given.temperatures[n] for n in given.names], [2, 1, 1])
    np.testing.assert_allclose(given.calibration.scaled[fuse.FUSED], fused, rtol=1e-9)
    # Temperatures on another labelled split, if asked.
    on_val = fuse.fuse_runs(paths, calibration_split="val")
    val = np.load(paths[0] / "logits" / "val.npz")
    assert on_val.temperatures["joint"] == pytest.approx(calibration.fit_temperature(val["logits"], val["labels"]))
    with pytest.raises(ValueError, match="one weight per run"):
        fuse.fuse_runs(paths, weights=[1, 1])
    with pytest.raises(ValueError, match="not both"):
        fuse.fuse_runs(paths, weights=[1, 1, 1], search=True)
    with pytest.raises(FileNotFoundError, match="train.npz is missing"):
        fuse.fuse_runs(paths, calibration_split="train")
    with pytest.raises(ValueError, match="no labelled clips"):
        fuse.fuse_runs(paths, calibration_split="test")
    for path in paths:
        (path / "logits" / "calib.npz").unlink()
    with pytest.raises(FileNotFoundError, match="calib.npz is missing.*no calibration split.*--calibration-split val"):
        fuse.fuse_runs(paths)


# -- the command ----------------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_fuses_runs_and_prints_the_table(tmp_path):
    paths, _ = fake_runs.make_runs(tmp_path / "runs", specs=(("joint", 2.0, 3.0), ("rgb", 1.0, 1.0)))
    out = tmp_path / "out"
    result = runner.invoke(app, ["fuse", *map(str, paths), "--out", str(out), "--search-weights", "--step", "0.05"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["model", "T", "weight"] and "calib micro-F1" in lines[0]
    assert "test macro-F1" in lines[0] and "test Brier" in lines[0] and "test NLL" in lines[0]
    assert [line.split()[0] for line in lines[1:4]] == ["joint", "rgb", "fusion"]
    assert f"submission  {out / 'submission.csv'}" in result.output
    assert "grid step 0.05" in result.output
    for name in ("submission.csv", "fused.npz", "report.md", "confusion_calib.png", "reliability_test.png"):
        assert (out / name).is_file()
    with (out / "submission.csv").open() as f:
        assert next(csv.reader(f)) == ["Id", "Target"]


def test_cli_reports_bad_input(tmp_path):
    paths, _ = fake_runs.make_runs(tmp_path / "runs")
    out = str(tmp_path / "out")
    result = runner.invoke(app, ["fuse", *map(str, paths), "--out", out, "--weights", "1,2"])
    assert result.exit_code == 1 and "error: 2 weights for 3 runs" in result.output
    result = runner.invoke(app, ["fuse", *map(str, paths), "--out", out, "--weights", "1,x,2"])
    assert result.exit_code == 2 and "comma-separated numbers" in result.output
    result = runner.invoke(app, ["fuse", *map(str, paths), "--out", out, "--weights", "1,1,1", "--search-weights"])
    assert result.exit_code == 2 and "not both" in result.output
    other, _ = fake_runs.make_runs(tmp_path / "other", specs=(("joint", 1, 1),), seed=5)
    result = runner.invoke(app, ["fuse", str(paths[1]), str(other[0]), "--out", out])
    assert result.exit_code == 1 and "cover different clips" in result.output
    result = runner.invoke(app, ["fuse", str(tmp_path), "--out", out])
    assert result.exit_code == 1 and "not an mgfast run directory" in result.output


def test_report_gives_bootstrap_intervals_where_the_split_has_enough_clips(tmp_path):
    paths, data = fake_runs.make_runs(tmp_path / "runs")
    result = fuse.fuse_runs(paths)
    report = write_report(result, tmp_path / "out")["report"].read_text()
    section = report.split("### 95 % intervals (`test`, bootstrap over 200 clips, 1000 draws)")[1]
    row = next(line for line in section.splitlines() if line.startswith("| fusion |"))
    mean, low, high = (float(v) for v in re.findall(r"\d\.\d{3}", row.split("|")[2]))
    accuracy = result.test.metrics[fuse.FUSED][1].accuracy
    half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / 200)  # the binomial interval, as a reference
    assert mean == pytest.approx(accuracy, abs=5e-4) and low < accuracy < high
    assert high - low == pytest.approx(2 * half, rel=0.25)
    joint = next(line for line in section.splitlines() if line.startswith("| joint |")).split("|")
    assert re.fullmatch(r" [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\] ", joint[4])  # paired gain over joint
    small = fuse.fuse_runs(fake_runs.make_runs(tmp_path / "few", test_clips=20)[0])
    assert "fewer than 30) no intervals are given" in write_report(small, tmp_path / "few-out")["report"].read_text()
