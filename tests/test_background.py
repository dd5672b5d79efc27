"""Background ("no gesture") clips: planning the windows, the manifest's kind column, extraction with
--background, training with and without --background-class, and fusing runs that have the class."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import fake_runs
from mgfast import fuse, runs
from mgfast.adapt import AdaptConfig, adapt
from mgfast.cli.main import app
from mgfast.extract import extract
from mgfast.extract.options import BackgroundOptions
from mgfast.extract.plan import background_windows, free_spans, plan_background, video_seed
from mgfast.io.atomic import atomic_save_npy
from mgfast.io.dataset import (BACKGROUND, MANIFEST_COLUMNS, SEGMENT, ClassInfo, Clip, Dataset, background_code,
                               read_manifest, write_manifest)
from mgfast.io.sources import discover
from mgfast.synth import synthesize
from mgfast.train import train
from mgfast.train.config import TrainConfig, config_splits, open_dataset
from tiny_dataset import make_dataset

runner = CliRunner()


# ---------------------------------------------------------------------------------------------------------
# Planning, against brute force over frames


def reference_free(segments, frames: int, gap: int) -> np.ndarray:
    """bool [frames]: at least ``gap`` frames lie between frame t and every segment."""
    t = np.arange(frames)
    free = np.ones(frames, bool)
    for first, last in segments:
        between = np.maximum(first - t, t - last) - 1  # -1 inside the segment, 0 next to it
        free &= between >= gap
    return free


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    spans, start = [], None
    for t, value in enumerate(mask.tolist() + [False]):
        if value and start is None:
            start = t
        elif not value and start is not None:
            spans.append((start, t - 1))
            start = None
    return spans


def random_segments(rng, frames: int, n: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(n):
        first = int(rng.integers(0, frames))
        out.append((first, min(frames - 1, first + int(rng.integers(0, 30)))))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_free_spans_are_the_frames_far_from_every_segment(seed):
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(1, 400))
    segments = random_segments(rng, frames, int(rng.integers(0, 8)))
    gap = int(rng.integers(0, 40))
    assert free_spans(segments, frames, gap) == runs_of(reference_free(segments, frames, gap))


@pytest.mark.parametrize("seed", range(20))
def test_windows_keep_the_gap_do_not_overlap_and_repeat(seed):
    rng = np.random.default_rng(100 + seed)
    frames = int(rng.integers(50, 2000))
    segments = random_segments(rng, frames, int(rng.integers(1, 10)))
    gap, ratio = int(rng.integers(0, 30)), float(rng.uniform(0.2, 4))
    length = None if seed % 2 else int(rng.integers(1, 40))
    windows = background_windows(segments, frames, ratio=ratio, gap=gap, length=length, seed=seed)
    free = reference_free(segments, frames, gap)
    used = np.zeros(frames, int)
    lengths = {b - a + 1 for a, b in segments}
    for first, last in windows:
        assert 0 <= first <= last < frames
        assert free[first:last + 1].all(), "a window comes closer than gap to a segment"
        used[first:last + 1] += 1
        assert (last - first + 1) == length if length is not None else (last - first + 1) in lengths
    assert used.max(initial=0) <= 1, "windows overlap"
    assert len(windows) <= int(np.floor(ratio * len(segments) + 0.5))
    assert background_windows(segments, frames, ratio=ratio, gap=gap, length=length, seed=seed) == windows


def test_ratio_is_met_where_there_is_room_and_a_larger_ratio_keeps_the_windows():
    segments = [(1000, 1020), (3000, 3040), (5000, 5010)]
    one = background_windows(segments, 8000, ratio=1, gap=50, length=None, seed=3)
    three = background_windows(segments, 8000, ratio=3, gap=50, length=None, seed=3)
    assert len(one) == 3 and len(three) == 9
    assert three[:3] == one
    assert len(background_windows(segments, 8000, ratio=0.5, gap=50, length=None, seed=3)) == 2  # 1.5 rounds up
    assert background_windows(segments, 8000, ratio=1, gap=50, length=None, seed=4) != one


def test_every_valid_start_is_drawn_and_no_other():
    segments, frames, gap, length = [(40, 59)], 120, 10, 12
    free = reference_free(segments, frames, gap)
    valid = {t for t in range(frames - length + 1) if free[t:t + length].all()}
    drawn = {background_windows(segments, frames, ratio=1, gap=gap, length=length, seed=s)[0][0] for s in range(3000)}
    assert drawn == valid


@pytest.mark.parametrize("segments, frames, gap", [
    ([(0, 99)], 100, 0),                # the segment covers the video
    ([(0, 40), (45, 99)], 100, 5),      # the free frames between them are all within the gap
    ([(50, 60)], 100, 200),             # gap larger than the video
    ([(10, 20), (30, 40)], 45, 3),      # free spans shorter than every segment
    ([], 100, 0),                       # nothing to imitate
])
def test_no_window_where_there_is_no_room(segments, frames, gap):
    assert background_windows(segments, frames, ratio=5, gap=gap, length=None, seed=0) == []


def test_seed_depends_on_the_video_id_alone():
    assert video_seed("0054") == video_seed("0054") != video_seed("0055")


def test_background_options_are_checked():
    for bad in (0, -1, float("nan"), True):
        with pytest.raises(ValueError, match="--background must"):
            BackgroundOptions(bad)
    with pytest.raises(ValueError, match="--background-gap"):
        BackgroundOptions(1, gap=-1)
    with pytest.raises(ValueError, match="--background-length"):
        BackgroundOptions(1, length=0)


# ---------------------------------------------------------------------------------------------------------
# The manifest


def clip(clip_id: str, kind: str = SEGMENT, label: int | None = 0, video: str = "v") -> Clip:
    return Clip(clip_id=clip_id, video=video, subject="s", start=0, end=9, label=label, split="train", frames=10,
                fps=30.0, width=64, height=48, box=(1.0, 2.0, 30.0, 40.0), keypoints=f"keypoints/{clip_id}.npy",
                crop=None, kind=kind)


def test_manifest_round_trip_and_old_manifests(tmp_path):
    clips = [clip("v_1"), clip("v_bg1", BACKGROUND, None)]
    write_manifest(tmp_path / "m.csv", clips)
    assert read_manifest(tmp_path / "m.csv") == clips
    # A manifest written before the kind column existed: the same rows without it read as segments.
    with (tmp_path / "m.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    old_columns = [c for c in MANIFEST_COLUMNS if c != "kind"]
    with (tmp_path / "old.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, old_columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert [c.kind for c in read_manifest(tmp_path / "old.csv")] == [SEGMENT, SEGMENT]
    rows[0]["kind"] = "fidget"
    with (tmp_path / "bad.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=r"bad\.csv:2: bad manifest row .*kind"):
        read_manifest(tmp_path / "bad.csv")


def test_background_code_stays_clear_of_the_class_codes():
    assert background_code([ClassInfo(0, 1, "a"), ClassInfo(1, 99, "b")]) == 0
    assert background_code([ClassInfo(0, 0, "a"), ClassInfo(1, 3, "b")]) == -1
    assert background_code([ClassInfo(0, -4, "a"), ClassInfo(1, 0, "b")]) == -5


# ---------------------------------------------------------------------------------------------------------
# Extraction from the synthetic corpus

CROP = 32


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three 128x96 videos of 120 frames with two short segments each (room between them); 0002 is a test video."""
    out = tmp_path_factory.mktemp("bgcorpus") / "src"
    synthesize(out, videos=3, subjects=2, frames_per_video=120, width=128, height=96, classes=3, segments_per_video=2,
               min_segment=8, max_segment=16, progress=False)
    return out


@pytest.fixture(scope="module")
def extracted(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bg") / "dataset"
    summary = extract(corpus, out, crop_size=CROP, crop_format="npy", device="cpu", progress=False,
                      background=BackgroundOptions(2.0, gap=4))
    assert summary.ok
    return out


def test_extraction_cuts_background_from_the_unannotated_spans(corpus, extracted):
    dataset = Dataset(extracted)
    background = dataset.background_clips
    assert background and all(c.kind == BACKGROUND and c.label is None and c.split == "train" for c in background)
    assert all(c.kind == SEGMENT for c in dataset.clips)
    test_videos = {c.video for c in dataset.clips if c.split == "test"}
    assert test_videos and not test_videos & {c.video for c in background}
    by_video = {}
    for c in dataset.clips:
        by_video.setdefault(c.video, []).append((c.start, c.end))
    for c in background:
        assert c.clip_id.startswith(f"{c.video}_bg")
        far = reference_free(by_video[c.video], c.end + 1, 4)
        assert far[c.start:].all(), c.clip_id
        assert c.frames == c.end - c.start + 1
        keypoints = dataset.keypoints(c)
        assert keypoints.shape == (c.frames, 68, 3)
        assert np.load(extracted / c.crop).shape == (c.frames, CROP, CROP, 3)
    # The windows the planner places for the videos' segments and lengths, as discovered from the source.
    for source in discover(corpus):
        if source.labelled:
            planned = plan_background(source, 120, BackgroundOptions(2.0, gap=4))
            assert [(p.clip_id, p.start, p.end) for p in planned] == sorted(
                ((c.clip_id, c.start, c.end) for c in background if c.video == source.video_id),
                key=lambda r: int(r[0].rsplit("_bg", 1)[1]))


def test_rerun_and_shards_give_the_same_background(corpus, extracted, tmp_path):
    options = dict(crop_size=CROP, crop_format="npy", device="cpu", progress=False,
                   background=BackgroundOptions(2.0, gap=4))
    again = extract(corpus, extracted, **options)
    assert again.clips_written == 0 and again.videos_skipped == 3
    out = tmp_path / "sharded"
    extract(corpus, out, shard=(1, 2), **options)
    extract(corpus, out, shard=(2, 2), **options)
    merged = extract(corpus, out, **options)
    assert merged.clips_written == 0
    assert (out / "manifest.csv").read_text() == (extracted / "manifest.csv").read_text()


def test_a_pose_table_shorter_than_its_video_drops_the_windows_past_its_end(corpus, tmp_path):
    import shutil

    from mgfast.io.pose_tables import read_pose_table, write_pose_table

    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    options = dict(crop_size=CROP, crop_format="npy", device="cpu", progress=False,
                   background=BackgroundOptions(2.0, gap=4))
    full = Dataset(extract(corpus, tmp_path / "full", **options).manifest.parent)
    # Cut the table of the video whose last background window ends latest to end just before that window.
    last = max(full.background_clips, key=lambda c: c.end)
    segments_end = max(c.end for c in full.clips if c.video == last.video)
    assert segments_end < last.start, "the fixture's corpus must leave a background window after the segments"
    (table,) = (src / last.video).glob(f"{last.video}_openpose.*")
    write_pose_table(table, read_pose_table(table)[: last.end])

    out = tmp_path / "cut"
    summary = extract(src, out, **options)
    assert summary.ok and summary.clips_dropped >= 1, str(summary)
    kept = Dataset(out)
    assert [c.clip_id for c in kept.clips] == [c.clip_id for c in full.clips]  # every segment is there
    dropped = {c.clip_id for c in full.background_clips} - {c.clip_id for c in kept.background_clips}
    assert last.clip_id in dropped and all(c.end < last.end for c in kept.background_clips if c.video == last.video)
    manifest = (out / "manifest.csv").read_text()
    again = extract(src, out, **options)  # the dropped windows are remembered: nothing to redo
    assert again.ok and again.clips_written == 0 and again.videos_skipped == 3
    assert (out / "manifest.csv").read_text() == manifest


def test_cli_background_options(corpus, tmp_path):
    out = tmp_path / "ds"
    result = runner.invoke(app, ["extract", str(corpus), "--out", str(out), "--no-crops", "--background", "1",
                                 "--background-gap", "4", "--background-length", "10", "--no-progress"])
    assert result.exit_code == 0, result.output
    background = Dataset(out).background_clips
    assert background and all(c.frames == 10 for c in background)
    result = runner.invoke(app, ["extract", str(corpus), "--out", str(tmp_path / "x"), "--background-gap", "4"])
    assert result.exit_code == 2 and "add --background RATIO" in result.output
    result = runner.invoke(app, ["extract", str(corpus), "--out", str(tmp_path / "x"), "--background", "0"])
    assert result.exit_code == 2 and "--background must be a positive number" in result.output


# ---------------------------------------------------------------------------------------------------------
# Training

SMALL = dict(epochs=1, batch_size=4, num_clips=1, workers=0, progress=False, lr=0.05, lr_batch=4, clip_len=6,
             model={"dims": 8, "num_blocks": 1, "heads": 1})


def add_background(root: Path, seed: int = 5) -> list[Clip]:
    """Appends still-pose background clips to every training video of a tiny dataset, more to some videos
    than to others (so carving them with the segments would move other subjects to validation)."""
    rng = np.random.default_rng(seed)
    clips = read_manifest(root / "manifest.csv")
    extra = []
    for i, video in enumerate(sorted({c.video for c in clips if c.split != "test"})):
        model = next(c for c in clips if c.video == video)
        base = np.load(root / model.keypoints)[0]
        for k in range(1, (5, 1)[i == 1] + 1):
            n = int(rng.integers(12, 30))
            kp = np.repeat(base[None], n, 0) + rng.normal(0, 1.0, (n, *base.shape)).astype(np.float32)
            kp[..., 2] = 0.9
            clip_id = f"{video}_bg{k}"
            atomic_save_npy(root / "keypoints" / f"{clip_id}.npy", kp.astype(np.float32))
            atomic_save_npy(root / "crops" / f"{clip_id}.npy", rng.integers(0, 255, (n, 24, 24, 3), dtype=np.uint8))
            extra.append(dataclasses.replace(model, clip_id=clip_id, start=1000 * k, end=1000 * k + n - 1, label=None,
                                             frames=n, keypoints=f"keypoints/{clip_id}.npy",
                                             crop=f"crops/{clip_id}.npy", kind=BACKGROUND))
    write_manifest(root / "manifest.csv", clips + extra)
    return extra


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> tuple[Path, Path, list[Clip]]:
    base = tmp_path_factory.mktemp("bgtrain")
    plain = make_dataset(base / "plain", subjects=6)
    with_bg = make_dataset(base / "with_bg", subjects=6)
    return plain, with_bg, add_background(with_bg)


def config(root: Path, out: Path, **values) -> TrainConfig:
    from mgfast.train import make_config

    return make_config(root, "joint", out, preset="tiny", **{**SMALL, **values})


def test_without_the_flag_background_clips_change_nothing(datasets, tmp_path):
    import torch

    from mgfast.train import checkpoint as ckpt

    plain, with_bg, _ = datasets
    a, b = config(plain, tmp_path / "a"), config(with_bg, tmp_path / "b")
    split_a, split_b = config_splits(open_dataset(a), a), config_splits(open_dataset(b), b)
    for name in ("train", "val", "calib", "test"):
        assert [c.clip_id for c in split_a.get(name)] == [c.clip_id for c in split_b.get(name)]
    run_a, run_b = train(a), train(b)
    state_a, state_b = (ckpt.load_checkpoint(r / "checkpoints" / "last.pt")["model"] for r in (run_a, run_b))
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    classes_a, classes_b = (json.loads((r / "run.json").read_text())["classes"] for r in (run_a, run_b))
    assert classes_a == classes_b


def test_the_flag_adds_a_background_class(datasets, tmp_path, monkeypatch):
    from mgfast.train import loop, predict

    plain, with_bg, background = datasets
    counted = {}

    def class_weights(counts, mode):
        counted["counts"] = counts
        return real(counts, mode)

    real = loop.class_weights
    monkeypatch.setattr(loop, "class_weights", class_weights)
    cfg = config(with_bg, tmp_path / "bg", background_class=True)
    run_dir = train(cfg)
    run = runs.read_run(run_dir)
    gestures = Dataset(with_bg).classes
    assert run.classes[:-1] == gestures and run.classes[-1] == ClassInfo(len(gestures), 0, "background")
    assert run.config["background_class"] is True and runs.background_class(run) == len(gestures)
    from mgfast.train import checkpoint as ckpt

    ose = ckpt.load_checkpoint(run_dir / "checkpoints" / "best.pt")["ose"]
    assert [v.shape[0] for k, v in ose.items() if "anchor" in k] == [len(gestures) + 1]  # one anchor per class
    splits = config_splits(open_dataset(cfg), cfg)
    without = config(with_bg, tmp_path / "unused")
    plain_splits = config_splits(open_dataset(without), without)
    for name in ("train", "val", "calib", "test"):  # carved from the segments alone: the same videos as without
        assert [c.clip_id for c in splits.get(name) if c.kind == SEGMENT] == [c.clip_id for c in plain_splits.get(name)]
    n_bg_train = sum(c.kind == BACKGROUND for c in splits.train)
    assert counted["counts"][-1] == n_bg_train > 0  # class weights count background like any class
    seen = []
    for name in ("train", "val", "calib"):
        logits = runs.load_logits(run_dir, name)
        assert logits.num_classes == len(gestures) + 1
        ids = {c.clip_id: c for c in splits.get(name)}
        for cid, label in zip(logits.clip_ids.tolist(), logits.labels.tolist()):
            assert (label == len(gestures)) == (ids[cid].kind == BACKGROUND)
        seen += [cid for cid in logits.clip_ids.tolist() if "_bg" in cid]
        # background clips sit in the split of their video's segments
        videos = {c.video for c in splits.get(name) if c.kind == SEGMENT}
        assert all(c.video in videos for c in splits.get(name) if c.kind == BACKGROUND)
    assert sorted(seen) == sorted(c.clip_id for c in background)
    assert not any("_bg" in cid for cid in runs.load_logits(run_dir, "test").clip_ids.tolist())
    (run_dir / "logits" / "val.npz").unlink()
    predict(run_dir, "val")
    assert runs.load_logits(run_dir, "val").num_classes == len(gestures) + 1
    with pytest.raises(ValueError, match="no background clips"):
        train(config(plain, tmp_path / "none", background_class=True))


def test_cli_background_class_flag(datasets, tmp_path):
    _, with_bg, _ = datasets
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(with_bg), "--modality", "joint", "--out", str(out), "--preset", "tiny",
                                 "--epochs", "1", "--batch-size", "4", "--workers", "0", "--no-progress",
                                 "--background-class"])
    assert result.exit_code == 0, result.output
    run = runs.read_run(out)
    assert run.config["background_class"] is True and run.classes[-1].name == "background"


def test_old_run_files_have_no_background_class():
    values = TrainConfig(dataset="d", modality="joint", out="o").to_dict()
    del values["background_class"]
    assert TrainConfig.from_dict(values).background_class is False


# ---------------------------------------------------------------------------------------------------------
# Fusion and adaptation

CODES = fake_runs.CODES


def background_runs(root: Path, background: tuple[bool, ...], seed: int = 0) -> list[Path]:
    """Fake runs over the gesture classes plus, where asked, a background class (code 0) whose logit is high."""
    rng = np.random.default_rng(seed)
    data = fake_runs.corpus(rng, n_test=120)
    paths = []
    for k, has in enumerate(background):
        extra = [{"index": len(CODES), "code": 0, "name": "background"}] if has else []
        classes = fake_runs.class_list(CODES) + extra
        splits = {}
        for split, (ids, truth) in data.items():
            z = fake_runs.modality_logits(rng, truth, len(CODES), 2.0, 1.0)
            if has:
                z = np.concatenate([z, rng.normal(1.5, 1.0, (truth.size, 1)).astype(np.float32)], 1)
            labelled = split in fake_runs.LABELLED
            none = np.full(truth.size, -1)
            splits[split] = {"clip_ids": ids, "logits": z, "labels": (truth if labelled else none).astype(np.int64),
                             "hidden_labels": (none if labelled else truth).astype(np.int64)}
        path = fake_runs.write_run(root / f"run{k}", f"m{k}", splits, classes=classes)
        run = json.loads((path / "run.json").read_text())
        run["config"]["background_class"] = has
        (path / "run.json").write_text(json.dumps(run))
        paths.append(path)
    return paths


def test_fused_background_runs_submit_gesture_codes_only(tmp_path):
    paths = background_runs(tmp_path, (True, True))
    fusion = fuse.fuse_runs(paths)
    assert fusion.background == len(CODES)
    written = fuse.write_outputs(fusion, tmp_path / "out")
    with np.load(written["fused"]) as npz:
        probs, codes, background = npz["probs"], npz["class_codes"], int(npz["background_class"])
        ids = npz["clip_ids"].tolist()
    assert probs.shape[1] == len(CODES) + 1 and background == len(CODES) and codes[background] == 0
    assert (probs.argmax(1) == background).any(), "the test needs clips whose overall arg-max is background"
    expected = dict(zip(ids, np.asarray(CODES)[probs[:, :len(CODES)].argmax(1)].tolist()))
    assert fuse.read_submission(written["submission"]) == expected
    from mgfast.report import write_report

    text = write_report(fusion, tmp_path / "out")["report"].read_text()
    assert "'background', code 0" in text


def test_runs_must_agree_on_the_background_class(tmp_path):
    paths = background_runs(tmp_path, (True, False))
    with pytest.raises(ValueError, match=r"run0 was trained with a background class .* and .*run1 without"):
        fuse.fuse_runs(paths)
    with pytest.raises(ValueError, match="run0 was trained with a background class"):
        adapt(paths, tmp_path / "adapt", AdaptConfig(), fine_tune=lambda *a, **k: None)


def test_adapt_refuses_background_runs(tmp_path):
    paths = background_runs(tmp_path, (True, True))
    with pytest.raises(ValueError, match="adapt runs trained without it"):
        adapt(paths, tmp_path / "adapt", AdaptConfig(), fine_tune=lambda *a, **k: None)
    assert not (tmp_path / "adapt").exists()
