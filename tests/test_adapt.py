"""`mgfast adapt`: rounds of pseudo-labelling and fine-tuning, never touching the source runs, resumable."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mgfast.adapt import AdaptConfig, adapt
from mgfast.calibration import fit_temperature, softmax
from mgfast.pseudo import select_pseudo_labels
from mgfast.runs import load_logits, read_run

C = 5
CLASSES = [{"index": i, "code": i + 1, "name": f"class {i + 1}"} for i in range(C)]


def write_run(path: Path, modality: str, logits: dict[str, np.ndarray], labels: dict[str, np.ndarray],
              hidden: dict[str, np.ndarray]) -> Path:
    (path / "logits").mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"modality": modality, "dataset": "/data", "layout": {"name": "mg68"},
                                              "classes": CLASSES, "config": {"epochs": 4}}))
    for split, z in logits.items():
        ids = np.array([f"{split}_{i:03d}" for i in range(len(z))])
        np.savez(path / "logits" / f"{split}.npz", clip_ids=ids, logits=z.astype(np.float32),
                 labels=labels[split], hidden_labels=hidden[split])
    return path


def make_runs(tmp_path: Path, names=("joint", "heatmap", "rgb"), seed=0) -> list[Path]:
    rng = np.random.default_rng(seed)
    truth = {"val": rng.integers(0, C, 30), "calib": rng.integers(0, C, 40), "test": rng.integers(0, C, 60)}
    labels = {"val": truth["val"], "calib": truth["calib"], "test": np.full(60, -1)}
    hidden = {"val": np.full(30, -1), "calib": np.full(40, -1), "test": truth["test"]}
    runs = []
    for name in names:
        logits = {s: rng.normal(0, 1, (len(y), C)) + 3 * np.eye(C)[y] * (rng.random(len(y)) < 0.7)[:, None]
                  for s, y in truth.items()}
        logits["val"] = 4 * logits["val"]  # the optimistic split checkpoints were chosen on: sharper
        runs.append(write_run(tmp_path / "runs" / name, name, logits, labels, hidden))
    return runs


class FakeFineTune:
    """Moves each pseudo-labelled clip's logits towards its pseudo label; records calls; can fail once."""

    def __init__(self, fail_at: tuple[int, str] | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail_at = fail_at

    def __call__(self, source, pseudo_csv: Path, out_dir: Path, config: AdaptConfig) -> Path:
        round_name = out_dir.parent.name
        if self.fail_at == (int(round_name.split("-")[1]), source.modality):
            self.fail_at = None
            raise KeyboardInterrupt  # an interruption mid-round
        self.calls.append((round_name, source.modality))
        with pseudo_csv.open() as f:
            pseudo = {row["clip_id"]: int(row["label"]) for row in csv.DictReader(f)}
        logits = {s: load_logits(source.path, s) for s in ("val", "calib", "test")}
        test = logits["test"].logits.copy()
        for i, cid in enumerate(logits["test"].clip_ids):
            if cid in pseudo:
                test[i, pseudo[cid]] += 2.0
        write_run(out_dir, source.modality, {"val": logits["val"].logits, "calib": logits["calib"].logits, "test": test},
                  {s: logits[s].labels for s in logits}, {s: logits[s].hidden_labels for s in logits})
        return out_dir


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_rounds_write_pseudo_sets_logs_and_latest(tmp_path):
    runs = make_runs(tmp_path)
    config = AdaptConfig(tau=0.5, rounds=2, agree="majority")
    fine_tune = FakeFineTune()
    final = adapt(runs, tmp_path / "adapted", config, fine_tune=fine_tune, log=lambda _: None)
    assert fine_tune.calls == [(f"round-{r}", m) for r in (1, 2) for m in ("joint", "heatmap", "rgb")]
    assert set(final) == {"joint", "heatmap", "rgb"}
    latest = tmp_path / "adapted" / "latest"
    assert latest.resolve() == (tmp_path / "adapted" / "round-2").resolve()
    assert {p.name for p in latest.iterdir()} >= {"joint", "heatmap", "rgb", "pseudo", "log.json"}
    log = json.loads((tmp_path / "adapted" / "round-1" / "log.json").read_text())
    for name in ("joint", "heatmap", "rgb"):
        entry = log["modalities"][name]
        assert sum(entry["per_class"]) == entry["selected"]
        assert 0 <= entry["pseudo_label_accuracy"] <= 1
        assert set(entry["before"]) == {"micro_f1", "macro_f1", "clips"}


def test_teacher_temperatures_are_fitted_on_the_calibration_split(tmp_path):
    runs = make_runs(tmp_path, seed=4)
    adapt(runs, tmp_path / "adapted", AdaptConfig(tau=0.5, rounds=1), fine_tune=FakeFineTune(), log=lambda _: None)
    log = json.loads((tmp_path / "adapted" / "round-1" / "log.json").read_text())
    for run in runs:
        calib, val = load_logits(run, "calib"), load_logits(run, "val")
        assert log["temperatures"][run.name] == pytest.approx(fit_temperature(calib.logits, calib.labels))
        assert log["temperatures"][run.name] != pytest.approx(fit_temperature(val.logits, val.labels), rel=0.05)


def test_round_one_pseudo_sets_equal_the_selection_rule(tmp_path):
    runs = make_runs(tmp_path, seed=3)
    config = AdaptConfig(tau=0.4, rounds=1, temperatures=False, per_class_cap=4)
    adapt(runs, tmp_path / "adapted", config, fine_tune=FakeFineTune(), log=lambda _: None)
    probs = {r.name: softmax(load_logits(r, "test").logits) for r in runs}
    ids = load_logits(runs[0], "test").clip_ids
    for name in probs:
        expected = select_pseudo_labels(probs, name, tau=0.4, per_class_cap=4)
        with (tmp_path / "adapted" / "round-1" / "pseudo" / f"{name}.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert [r["clip_id"] for r in rows] == ids[expected.indices].tolist()
        assert [int(r["label"]) for r in rows] == expected.labels.tolist()
        assert all(float(r["weight"]) == config.pseudo_weight for r in rows)


def _pseudo_rows(out: Path, name: str) -> list[dict]:
    with (out / "round-1" / "pseudo" / f"{name}.csv").open() as f:
        return list(csv.DictReader(f))


def test_control_teachings_pick_the_documented_pseudo_sets(tmp_path):
    """self: own tempered arg-max above tau; none: nothing; oracle: CMPL's clips with their true labels."""
    runs = make_runs(tmp_path, seed=5)
    ids = load_logits(runs[0], "test").clip_ids
    truth = load_logits(runs[0], "test").hidden_labels
    cross_cfg = AdaptConfig(tau=0.45, rounds=1, temperatures=False)
    adapt(runs, tmp_path / "cross", cross_cfg, fine_tune=FakeFineTune(), log=lambda _: None)
    for teaching in ("self", "none", "oracle"):
        config = AdaptConfig(tau=0.45, rounds=1, temperatures=False, teaching=teaching)
        fine_tune = FakeFineTune()
        adapt(runs, tmp_path / teaching, config, fine_tune=fine_tune, log=lambda _: None)
        assert len(fine_tune.calls) == 3  # every control fine-tunes every modality, as CMPL does
        assert json.loads((tmp_path / teaching / "round-1" / "log.json").read_text())["teaching"] == teaching
        for run in runs:
            rows, cross = _pseudo_rows(tmp_path / teaching, run.name), _pseudo_rows(tmp_path / "cross", run.name)
            if teaching == "none":
                assert rows == []
            elif teaching == "oracle":
                assert [r["clip_id"] for r in rows] == [r["clip_id"] for r in cross]
                index = {cid: i for i, cid in enumerate(ids)}
                assert [int(r["label"]) for r in rows] == [int(truth[index[r["clip_id"]]]) for r in rows]
            else:
                p = softmax(load_logits(run, "test").logits)
                keep = np.flatnonzero(p.max(1) >= 0.45)
                assert [r["clip_id"] for r in rows] == ids[keep].tolist()
                assert [int(r["label"]) for r in rows] == p.argmax(1)[keep].tolist()


def test_oracle_without_hidden_labels_is_refused(tmp_path):
    runs = make_runs(tmp_path, seed=6)
    for run in runs:  # a real corpus: the test clips' true labels are unknown
        path = run / "logits" / "test.npz"
        data = dict(np.load(path))
        data["hidden_labels"] = np.full_like(data["hidden_labels"], -1)
        np.savez(path, **data)
    with pytest.raises(ValueError, match="oracle.*hidden labels"):
        adapt(runs, tmp_path / "o", AdaptConfig(tau=0.3, rounds=1, teaching="oracle"), fine_tune=FakeFineTune(),
              log=lambda _: None)
    with pytest.raises(ValueError, match="teaching must be one of cross, self, none, oracle"):
        AdaptConfig(teaching="mutual")


def test_source_runs_are_never_modified(tmp_path):
    runs = make_runs(tmp_path)
    before = tree_digest(tmp_path / "runs")
    adapt(runs, tmp_path / "adapted", AdaptConfig(tau=0.3, rounds=2), fine_tune=FakeFineTune(), log=lambda _: None)
    assert tree_digest(tmp_path / "runs") == before
    with pytest.raises(ValueError, match="inside the source run"):
        adapt(runs, runs[0] / "adapted", AdaptConfig(), fine_tune=FakeFineTune(), log=lambda _: None)


def test_an_interrupted_adaptation_resumes_at_its_round(tmp_path):
    runs = make_runs(tmp_path)
    config = AdaptConfig(tau=0.5, rounds=3)
    out = tmp_path / "adapted"
    with pytest.raises(KeyboardInterrupt):
        adapt(runs, out, config, fine_tune=FakeFineTune(fail_at=(2, "heatmap")), log=lambda _: None)
    assert (out / "round-1" / "log.json").is_file() and not (out / "round-2" / "log.json").exists()
    resumed = FakeFineTune()
    adapt(runs, out, config, fine_tune=resumed, log=lambda _: None)
    assert [c for c in resumed.calls if c[0] == "round-1"] == []
    # joint had finished round 2 before the interruption; heatmap and rgb had not.
    assert resumed.calls == [("round-2", "heatmap"), ("round-2", "rgb")] + [("round-3", m) for m in ("joint", "heatmap", "rgb")]

    uninterrupted = tmp_path / "straight"
    adapt(runs, uninterrupted, config, fine_tune=FakeFineTune(), log=lambda _: None)
    for name in ("joint", "heatmap", "rgb"):
        a, b = load_logits(out / "latest" / name, "test"), load_logits(uninterrupted / "latest" / name, "test")
        np.testing.assert_array_equal(a.logits, b.logits)


def test_other_settings_in_the_same_directory_are_refused(tmp_path):
    runs = make_runs(tmp_path)
    adapt(runs, tmp_path / "adapted", AdaptConfig(rounds=1), fine_tune=FakeFineTune(), log=lambda _: None)
    with pytest.raises(ValueError, match="other runs or settings"):
        adapt(runs, tmp_path / "adapted", AdaptConfig(rounds=1, tau=0.9), fine_tune=FakeFineTune(), log=lambda _: None)


def test_needs_two_runs_on_the_same_clips(tmp_path):
    runs = make_runs(tmp_path)
    with pytest.raises(ValueError, match="at least two runs"):
        adapt(runs[:1], tmp_path / "a", AdaptConfig(), fine_tune=FakeFineTune())
    other = make_runs(tmp_path / "other", names=("rgb",))[0]
    z = load_logits(other, "test")
    np.savez(other / "logits" / "test.npz", clip_ids=np.char.add(z.clip_ids, "x"), logits=z.logits,
             labels=z.labels, hidden_labels=z.hidden_labels)
    with pytest.raises(ValueError, match="cover different clips"):
        adapt([runs[0], other], tmp_path / "b", AdaptConfig(), fine_tune=FakeFineTune(), log=lambda _: None)
    assert read_run(runs[0]).modality == "joint"
