"""The benchmark corpus (mgfast synth --profile benchmark): its structure on disk, the properties that
docs/benchmark.md states with their numbers, determinism, atomic writing, and loading through the inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.data import HeatmapInput, JointInput, collate, resolve_splits
from mgfast.io.dataset import Dataset
from mgfast.layout import MG68
from mgfast.synth import benchmark
from mgfast.synth.benchmark import (
    CLASSES,
    FULL,
    LOOK_ALIKES,
    QUICK,
    corpus_spec,
    plan_benchmark,
    simulate_session,
    write_benchmark_dataset,
)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    return write_benchmark_dataset(tmp_path_factory.mktemp("bench") / "quick", seed=3, quick=True)


@pytest.fixture(scope="module")
def full_plan():
    return plan_benchmark(seed=0)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- the quick profile on disk ----------------------------------------------------------------------------
def test_quick_profile_is_a_dataset_with_the_documented_structure(quick):
    ds = Dataset(quick)
    assert ds.layout.name == MG68.name and ds.num_classes == 6
    assert [c.index for c in ds.classes] == list(range(6))
    assert [c.code for c in ds.classes] == [CLASSES[k].code for k in QUICK.classes]
    assert sorted(p.name for p in quick.iterdir()) == ["benchmark.json", "clip_info.csv", "keypoints", "manifest.csv", "meta.json"]
    assert ds.meta["params"]["crops"] is False and ds.meta["params"]["benchmark"]["calib_fraction"] == 0.2

    subjects = {split: {c.subject for c in ds.split(split)} for split in ("train", "val", "test")}
    assert [len(subjects[s]) for s in ("train", "val", "test")] == [10, 2, 3]  # 8 + 2 calibration, 2, 3
    assert not (subjects["train"] & subjects["val"]) and not (subjects["test"] & (subjects["train"] | subjects["val"]))
    assert [len(ds.split(s)) for s in ("train", "val", "test")] == [60, 12, 30]
    for clip in ds.clips:
        kp = ds.keypoints(clip)
        assert kp.dtype == np.float32 and kp.shape == (clip.frames, 68, 3) and 24 <= clip.frames <= 48
        assert clip.frames == clip.end - clip.start + 1 and clip.crop is None
        assert clip.fps == 25.0 and (clip.width, clip.height) == (1280, 720)
        x0, y0, x1, y1 = clip.box
        assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720 and x1 - x0 == pytest.approx(y1 - y0, abs=0.01)
        seen = kp[..., 2] > 0
        assert seen.mean() > 0.5 and np.all(kp[~seen] == 0)
        if clip.split == "test":
            assert clip.label is None and clip.hidden_label is not None
        else:
            assert clip.label is not None and clip.hidden_label is None

    # mgfast train with --calib-fraction 0.2 carves exactly the subjects the corpus planned as calibration.
    info = json.loads((quick / "benchmark.json").read_text())
    splits = resolve_splits(ds, calib_fraction=info["mgfast_train"]["calib_fraction"], split_seed=info["mgfast_train"]["split_seed"])
    assert not splits.carved
    assert sorted({c.subject for c in splits.calib}) == info["subjects_per_split"]["calib"]
    labels = lambda clips: np.bincount([c.label for c in clips], minlength=6).tolist()  # noqa: E731
    assert labels(splits.train) == info["counts"]["train"] == list(QUICK.train_counts)
    assert labels(splits.calib) == info["counts"]["calib"] and labels(splits.val) == info["counts"]["val"]
    assert np.bincount([c.hidden_label for c in splits.test], minlength=6).tolist() == info["counts"]["test"]


def test_boxes_are_those_extract_computes(quick):
    from mgfast.extract.options import SALIENCY
    from mgfast.ops import saliency_boxes

    assert benchmark.SALIENCY == SALIENCY
    ds = Dataset(quick)
    assert ds.meta["params"]["saliency"] == json.loads(json.dumps(SALIENCY))
    for clip in ds.clips[:5]:
        box = saliency_boxes(torch.from_numpy(ds.keypoints(clip)), (clip.height, clip.width), **SALIENCY)
        np.testing.assert_allclose(clip.box, box.numpy(), atol=1e-3)


def test_a_clip_loads_through_the_joint_and_heatmap_inputs(quick):
    ds = Dataset(quick)
    clip = ds.split("train")[0]
    rng = np.random.default_rng(0)
    joint = JointInput(ds.layout, clip_len=16).load(ds, clip, train=True, num_clips=1, rng=rng)["keypoints"]
    assert joint.shape == (16, 68, 3) and np.isfinite(joint).all() and (joint[..., 2] > 0).any()
    heatmap = HeatmapInput(ds.layout, clip_len=12, train_size=32, test_size=36, box="saliency", sigma=1.2)
    sample = heatmap.load(ds, clip, train=True, num_clips=1, rng=rng)
    batch = collate([sample])
    volume = heatmap.train_batch(batch, torch.device("cpu"), torch.float32)
    assert volume.shape == (1, 68, 12, 32, 32) and volume.max() > 0.1
    views = JointInput(ds.layout, clip_len=16).load(ds, ds.split("test")[0], train=False, num_clips=2, rng=None)["keypoints"]
    assert views.shape == (2, 16, 68, 3)


def test_clip_info_lists_every_clip(quick):
    ds = Dataset(quick)
    rows = _rows(quick / "clip_info.csv")
    assert [r["clip_id"] for r in rows] == sorted(c.clip_id for c in ds.clips)
    by_id = {c.clip_id: c for c in ds.clips}
    for row in rows:
        clip = by_id[row["clip_id"]]
        assert int(row["class"]) == (clip.label if clip.label is not None else clip.hidden_label)
        assert (row["population"] == "target") == (clip.split == "test")
        assert row["hand"] in ("R", "L", "B", "N") and float(row["jitter"]) > 0


# -- determinism and writing --------------------------------------------------------------------------------
def test_same_seed_same_bytes_and_other_seed_other_corpus(quick, tmp_path):
    again = write_benchmark_dataset(tmp_path / "again", seed=3, quick=True)
    assert _files(again) == _files(quick)
    other = write_benchmark_dataset(tmp_path / "other", seed=4, quick=True)
    assert _files(other)["manifest.csv"] != _files(quick)["manifest.csv"]


def test_refuses_foreign_folders_and_keeps_finished_corpora(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no benchmark corpus"):
        write_benchmark_dataset(foreign, quick=True)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    with pytest.raises(NotADirectoryError):
        write_benchmark_dataset(foreign / "notes.txt", quick=True)

    out = tmp_path / "corpus"
    out.mkdir()  # an empty folder is fine
    write_benchmark_dataset(out, seed=1, quick=True)
    stamp = (out / "manifest.csv").stat().st_mtime_ns
    write_benchmark_dataset(out, seed=1, quick=True)  # the same corpus: nothing to do
    assert (out / "manifest.csv").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="another benchmark corpus"):
        write_benchmark_dataset(out, seed=2, quick=True)
    write_benchmark_dataset(out, seed=2, quick=True, overwrite=True)
    assert corpus_spec(out)["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "foreign"]  # no partial or old folders left


def test_an_interrupted_write_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    calls = []

    def failing(plan, session):
        calls.append(session.video)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return simulate_session(plan, session)

    monkeypatch.setattr(benchmark, "simulate_session", failing)
    with pytest.raises(KeyboardInterrupt):
        write_benchmark_dataset(tmp_path / "corpus", quick=True)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_benchmark_dataset(tmp_path / "corpus", quick=True)
    assert corpus_spec(tmp_path / "corpus") is not None and Dataset(tmp_path / "corpus").clips


def test_cli_benchmark_profile(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["synth", str(tmp_path / "b"), "--profile", "benchmark", "--quick", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "train 48, calib 12, val 12, test 30" in result.output
    assert Dataset(tmp_path / "b").num_classes == 6
    result = runner.invoke(app, ["synth", str(tmp_path / "b"), "--profile", "benchmark", "--quick", "--no-progress"])
    assert result.exit_code == 0 and "nothing written" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path / "c"), "--profile", "benchmark", "--videos", "3"])
    assert result.exit_code == 2 and "--videos" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path / "d"), "--quick"])
    assert result.exit_code == 2 and "--profile benchmark" in result.output
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


# -- the full profile's properties (planned, or simulated for a sample of sessions) --------------------------
def test_full_profile_long_tail_and_split_sizes(full_plan):
    counts = full_plan.counts()
    train = counts["train"]
    assert len(full_plan.classes) == 12 and len(train) == 12
    assert train == sorted(train, reverse=True) and train[0] / train[-1] >= 20
    assert all(5 <= n <= 10 for n in train[-3:])  # the tail: 10, 9 and 7 training clips
    subjects = {split: len(full_plan.split_subjects(split)) for split in ("train", "calib", "val", "test")}
    assert subjects == {"train": 20, "calib": 5, "val": 5, "test": 20}
    clips = {split: sum(n) for split, n in counts.items()}
    assert clips["calib"] >= 100 and clips["val"] >= 100 and clips["test"] >= 500
    assert all(n >= 1 for split in ("calib", "val", "test") for n in counts[split])
    assert min(counts["test"]) >= 25  # the tail third has >= 100 test clips
    per_subject = {}
    for session in full_plan.sessions:
        per_subject[session.subject] = per_subject.get(session.subject, 0) + len(session.classes)
    for index, n in per_subject.items():  # equal per split, so that carving by subject is exact
        assert n == FULL.clips_per_subject[full_plan.subjects[index].split]


def test_full_profile_calibration_carving_matches_mgfast_train(full_plan):
    from mgfast.data import carve_validation
    from mgfast.io.dataset import Clip

    clips = [Clip(clip_id=f"{s.video}_{k}", video=s.video, subject=full_plan.subjects[s.subject].id, start=0, end=0,
                  label=c, split="train", frames=1, fps=25.0, width=1280, height=720, box=(0, 0, 1, 1), keypoints="",
                  crop=None)
             for s in full_plan.sessions if full_plan.subjects[s.subject].split in ("train", "calib")
             for k, c in enumerate(s.classes)]
    rest, calib = carve_validation(clips, val_fraction=0.2, split_seed=0, split="calib")
    assert sorted({c.subject for c in calib}) == sorted(s.id for s in full_plan.split_subjects("calib"))
    assert np.bincount([c.label for c in rest], minlength=12).tolist() == list(FULL.train_counts)


def test_full_profile_test_subjects_differ_systematically(full_plan):
    def attrs(split):
        return [s.attributes() for s in full_plan.split_subjects(split)]

    source = attrs("train") + attrs("calib") + attrs("val")
    target = attrs("test")
    left = lambda group: np.mean([a["dominant"] == "L" for a in group])  # noqa: E731
    assert left(source) <= 0.2 and left(target) >= 0.4
    assert max(a["zoom"] for a in target) < min(a["zoom"] for a in source)  # zoomed out
    assert min(abs(a["yaw"]) for a in target) > max(abs(a["yaw"]) for a in source)  # filmed from the side
    assert min(a["build"] for a in target) > max(a["build"] for a in source)  # broader, longer arms
    assert max(a["speed"] for a in target) < min(a["speed"] for a in source)  # quicker
    # Their own way of making each class: the target population's contact points are shifted per class.
    offsets = lambda group: np.array([[c.offset for c in s.styles] for s in group])  # noqa: E731 [S, C, 2]
    shift = offsets(full_plan.split_subjects("test")).mean(0) - offsets(full_plan.split_subjects("train")).mean(0)
    assert np.abs(shift).max() > 0.02


def test_full_profile_micro_movements_against_jitter(full_plan):
    """A sample of the full profile's sessions: gestures of about a third of a shoulder width against ~3 %
    jitter (the demo corpus's travel about a shoulder width against ~1.5 %), hands often not reported."""
    picks = []
    for split in ("train", "test"):
        members = {full_plan.subjects.index(s) for s in full_plan.split_subjects(split)[:4]}
        picks += [s for s in full_plan.sessions if s.subject in members][::2]
    info = [r.info for session in picks for r in simulate_session(full_plan, session)]
    for population, (lo, hi) in (("source", (5, 15)), ("target", (3, 12))):
        rows = [r for r in info if r["population"] == population]
        ratio = np.median([r["amplitude"] / r["jitter"] for r in rows])
        assert lo <= ratio <= hi, (population, ratio)
        assert 0.15 <= np.median([r["amplitude"] for r in rows]) <= 0.5
        assert 0.1 <= np.median([r["missing"] for r in rows]) <= 0.35
    jitter = {p: np.median([r["jitter"] for r in info if r["population"] == p]) for p in ("source", "target")}
    assert jitter["target"] > 1.1 * jitter["source"]  # zoomed out: relatively noisier keypoints
    assert 0.15 <= np.mean([r["distractor"] for r in info]) <= 0.45


def test_confusable_pairs_share_everything_but_the_target():
    assert set(LOOK_ALIKES) == {5, 9, 11}
    for alike, head in LOOK_ALIKES.items():
        a, b = CLASSES[alike], CLASSES[head]
        assert alike > head and a.target != b.target and a.code != b.code
        assert (a.hands, a.effector, a.config, a.angle, a.motion, a.frames) == (b.hands, b.effector, b.config, b.angle, b.motion, b.frames)
    assert len({c.code for c in CLASSES}) == 12
