"""The synthetic corpus: layout on disk, determinism, pose/pixel agreement, long tail, detector-like noise."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.io.annotations import CLASS_CODES
from mgfast.io.pose_tables import read_pose_table
from mgfast.io.sources import discover, read_hidden_labels
from mgfast.io.video import VideoReader, read_clip
from mgfast.synth import CATALOGUE, SynthConfig, class_counts, synthesize
from mgfast.synth.body import FACE, FIDGETS, HIDDEN_BODY, LEFT_HAND, RESTS, RIGHT_HAND, sample_subject
from mgfast.synth.corpus import plan, simulate
from mgfast.synth.motion import Gesture, make_script, pose_video

TINY = dict(videos=3, subjects=3, seed=5, frames_per_video=200, segments_per_video=4, width=256, height=144,
            classes=6, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    synthesize(out, **TINY)
    return out


def _config(out: Path) -> SynthConfig:
    return SynthConfig(**json.loads((out / "synth.json").read_text())["config"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# -- layout -------------------------------------------------------------------------------------------
def test_layout_on_disk(corpus):
    config = _config(corpus)
    videos = [f"{i:04d}" for i in range(1, config.videos + 1)]
    subjects = {r["video"]: r["subject"] for r in _rows(corpus / "subjects.csv")}
    assert list(subjects) == videos and len(set(subjects.values())) == config.subjects
    classes = {int(r["code"]): r["name"] for r in _rows(corpus / "classes.csv")}
    assert list(classes) == sorted(c.code for c in CATALOGUE[: config.classes])
    assert set(classes) <= set(CLASS_CODES)
    manifest = json.loads((corpus / "synth.json").read_text())
    test_videos = manifest["test_videos"]
    assert test_videos and {subjects[v] for v in test_videos} == set(manifest["test_subjects"])
    assert all((subjects[v] in manifest["test_subjects"]) == (v in test_videos) for v in videos)

    sources = {s.video_id: s for s in discover(corpus)}
    assert list(sources) == videos
    hidden = read_hidden_labels(corpus)
    expected_hidden = set()
    for video in videos:
        folder = corpus / video
        assert sorted(p.name for p in folder.iterdir()) == [f"{video}.mp4", f"{video}_label.csv", f"{video}_openpose.csv"]
        source = sources[video]
        assert source.subject == subjects[video] and source.pose_kind == "table"
        with VideoReader(source.video_path) as reader:
            assert (reader.frame_count, reader.width, reader.height) == (config.frames_per_video, config.width, config.height)
            assert reader.fps == pytest.approx(config.fps)
        assert read_pose_table(source.pose_path).shape == (config.frames_per_video, 137, 3)
        labels = (folder / f"{video}_label.csv").read_text().splitlines()
        assert labels[0] == "class,start_frame,end_frame" and len(labels) == 1 + config.segments_per_video
        segments = source.segments
        assert [s.number for s in segments] == list(range(1, len(segments) + 1))
        previous_end = -1
        for segment in segments:
            assert previous_end < segment.start <= segment.end < config.frames_per_video  # ordered, disjoint, inside
            assert config.min_segment <= segment.frames <= config.max_segment
            assert segment.start - previous_end > 1  # an idle stretch before every gesture
            previous_end = segment.end
        assert config.frames_per_video - 1 - previous_end >= 1  # and after the last
        if video in test_videos:
            assert all(s.code is None for s in segments)
            assert all(line.startswith(",") for line in labels[1:])
            expected_hidden |= {f"{video}_{s.number}" for s in segments}
        else:
            assert all(s.code in classes for s in segments)
    assert set(hidden) == expected_hidden
    assert set(hidden.values()) <= set(classes)


def test_hidden_labels_are_the_scripted_classes(corpus):
    """The hidden codes are the classes the test videos actually act out."""
    config = _config(corpus)
    _, jobs, _ = plan(config)
    hidden = read_hidden_labels(corpus)
    for job in jobs:
        script = simulate(job).script
        labels = _rows(corpus / job.video_id / f"{job.video_id}_label.csv")
        assert [(int(r["start_frame"]), int(r["end_frame"])) for r in labels] == [(g.start, g.end) for g in script]
        codes = [g.cls.code for g in script]
        if job.test:
            assert [hidden[f"{job.video_id}_{n}"] for n in range(1, len(codes) + 1)] == codes
        else:
            assert [int(r["class"]) for r in labels] == codes


# -- determinism --------------------------------------------------------------------------------------
def test_same_seed_same_corpus(corpus, tmp_path):
    again = tmp_path / "again"
    synthesize(again, **{**TINY, "progress": False}, workers=2)  # parallel rendering must not change anything
    for path in sorted(corpus.rglob("*")):
        twin = again / path.relative_to(corpus)
        assert twin.exists(), twin
        if path.suffix == ".csv" or path.name == "synth.json":
            assert path.read_bytes() == twin.read_bytes(), path
        elif path.suffix == ".mp4":
            np.testing.assert_array_equal(read_clip(path), read_clip(twin))
    other = tmp_path / "other"
    synthesize(other, **{**TINY, "seed": TINY["seed"] + 1, "videos": 1, "subjects": 1, "test_fraction": 0.0})
    assert (other / "0001" / "0001_openpose.csv").read_bytes() != (corpus / "0001" / "0001_openpose.csv").read_bytes()


def test_xlsx_pose_tables(tmp_path):
    out = tmp_path / "xlsx"
    options = {**TINY, "videos": 1, "subjects": 1, "test_fraction": 0.0, "frames_per_video": 180, "segments_per_video": 3}
    synthesize(out, **options, pose_format="xlsx")
    table = read_pose_table(out / "0001" / "0001_openpose.xlsx")
    _, jobs, _ = plan(SynthConfig(**{k: v for k, v in options.items() if k != "progress"}, pose_format="xlsx"))
    np.testing.assert_array_equal(table, simulate(jobs[0]).table)
    assert not (out / "0001" / "0001_openpose.csv").exists()


# -- pose and pixels ----------------------------------------------------------------------------------
def test_hand_points_lie_on_hand_pixels(corpus):
    """Drawn from the clean skeleton, every hand keypoint's pixel has exactly the skin colour."""
    config = _config(corpus)
    _, jobs, _ = plan(config)
    for job in jobs:
        sim = simulate(job)
        skin = np.array(sim.scene.colours.skin)
        checked = 0
        for t in range(0, config.frames_per_video, 3):
            image = sim.frame(t, job.subject)
            xy = np.round(sim.pixels[t, LEFT_HAND : RIGHT_HAND + 21]).astype(int)
            inside = (xy[:, 0] >= 0) & (xy[:, 0] < config.width) & (xy[:, 1] >= 0) & (xy[:, 1] < config.height)
            np.testing.assert_array_equal(image[xy[inside, 1], xy[inside, 0]], np.broadcast_to(skin, (int(inside.sum()), 3)))
            checked += int(inside.sum())
        assert checked > 0.9 * 42 * len(range(0, config.frames_per_video, 3))


def test_pose_table_agrees_with_video(corpus):
    """In the files (noisy table, compressed video), confident hand points fall on skin-coloured pixels;
    the same points displaced by a tenth of the frame do not."""
    config = _config(corpus)
    _, jobs, _ = plan(config)
    for job in jobs:
        sim = simulate(job)
        frames = read_clip(corpus / job.video_id / f"{job.video_id}.mp4")
        table = read_pose_table(corpus / job.video_id / f"{job.video_id}_openpose.csv")
        np.testing.assert_array_equal(table, sim.table)
        skin = np.array(sim.scene.colours.skin)
        hands = table[:, LEFT_HAND : RIGHT_HAND + 21]
        t, k = np.nonzero(hands[..., 2] > 0.3)

        def on_skin(shift: float) -> float:
            x = np.clip(np.round(hands[t, k, 0] + shift), 0, config.width - 1).astype(int)
            y = np.clip(np.round(hands[t, k, 1]), 0, config.height - 1).astype(int)
            # Within 30 levels (summed over R, G, B) of the skin colour: room for H.264 at crf 23.
            return float((np.abs(frames[t, y, x].astype(int) - skin).sum(axis=1) < 30).mean())

        assert len(t) > 1000
        assert on_skin(0.0) > 0.88
        assert on_skin(0.1 * config.width) < 0.45


def test_face_and_body_points_are_consistent(corpus):
    """BODY_25 eyes and nose coincide with the face-70 pupils and nose tip; the chin lies below the mouth."""
    config = _config(corpus)
    _, jobs, _ = plan(config)
    sim = simulate(jobs[0])
    p = sim.pixels
    np.testing.assert_array_equal(p[:, 15], p[:, FACE + 68])
    np.testing.assert_array_equal(p[:, 16], p[:, FACE + 69])
    np.testing.assert_array_equal(p[:, 0], p[:, FACE + 30])
    assert (p[:, 15, 0] < p[:, 16, 0]).all()  # the subject's right eye is on the image's left
    assert (p[:, 2, 0] < p[:, 5, 0]).all() and (p[:, RIGHT_HAND, 0] < p[:, LEFT_HAND, 0]).mean() > 0.5
    assert (p[:, FACE + 8, 1] > p[:, FACE + 57, 1]).all() and (p[:, FACE + 57, 1] > p[:, 0, 1]).all()
    assert (p[:, 0, 1] > p[:, 15, 1]).all() and (p[:, 1, 1] > p[:, FACE + 8, 1]).all()


def test_gestures_reach_their_body_parts():
    """At a gesture's peak the hand's contact point is on the named body part (for a subject without a
    personal reach bias), and the hands are elsewhere while idle."""
    subject = sample_subject("T", np.random.default_rng(11))
    habits = dataclasses.replace(subject.habits, reach_bias=(0.0, 0.0), dominant="R", dominant_share=1.0)
    subject = dataclasses.replace(subject, habits=habits)
    landmark = {"nose": FACE + 30, "eye": FACE + 68, "chin": FACE + 8, "ear": 17, "throat": 1}
    for cls in CATALOGUE:
        if cls.target not in landmark:
            continue
        gesture = Gesture(cls, 20, 59, "R")
        pose = pose_video(subject, [gesture], 80, 25.0, np.random.default_rng(1))
        peak = 40
        hand = slice(RIGHT_HAND, RIGHT_HAND + 21)
        target = pose.points[peak, landmark[cls.target]]
        # Allowed: the class's small holding movement plus the few hundredths of a unit by which the
        # target sits off its landmark (just below the nose tip, chin or ear point).
        slack = math.hypot(cls.motion[0], cls.motion[1]) + 0.08 + (0.22 * subject.body.head_h if cls.target == "ear" else 0)
        assert np.linalg.norm(pose.points[peak, hand] - target, axis=-1).min() < slack, cls.name
        at_rest = np.linalg.norm(pose.points[5, hand] - pose.points[5, landmark[cls.target]], axis=-1).min()
        assert at_rest > 1.0, cls.name  # at rest the hand is on the table


def test_bow_moves_only_the_head():
    subject = sample_subject("T", np.random.default_rng(2))
    bow = next(c for c in CATALOGUE if c.hands == "none")
    quiet = dataclasses.replace(subject, habits=dataclasses.replace(subject.habits, fidget_rate=0.0))
    points = pose_video(quiet, [Gesture(bow, 20, 49, "N")], 70, 25.0, np.random.default_rng(4)).points
    nose_over_neck = points[:, 0, 1] - points[:, 1, 1]
    assert nose_over_neck[35] - nose_over_neck[10] > 0.1  # the nose comes down towards the neck
    for wrist in (4, 7):  # while the hands stay where they rest
        assert np.linalg.norm(points[35, wrist] - points[10, wrist]) < 0.25


# -- long tail and noise ------------------------------------------------------------------------------
@pytest.mark.parametrize("total,classes,imbalance", [(80, 8, 6.0), (1000, 12, 10.0), (40, 8, 6.0), (7, 5, 3.0), (33, 3, 1.0)])
def test_class_counts_are_long_tailed(total, classes, imbalance):
    counts = class_counts(total, classes, imbalance)
    assert sum(counts) == total and len(counts) == classes
    # Reference: shares proportional to rank^-a with a chosen so that first/last = imbalance.
    a = math.log(imbalance) / math.log(classes)
    weights = [r**-a for r in range(1, classes + 1)]
    share = [total * w / sum(weights) for w in weights]
    if total >= classes:
        assert min(counts) >= 1
    for count, s in zip(counts, share):
        assert abs(count - s) < 1 + (1 if total >= classes and s < 1 else 0)
    assert all(x >= y for x, y in zip(counts, counts[1:]))
    if total >= 100:
        assert counts[0] / counts[-1] == pytest.approx(imbalance, rel=0.15)


def test_corpus_class_counts_follow_the_tail(corpus):
    config = dataclasses.replace(_config(corpus), videos=12, subjects=6, classes=8)
    _, jobs, _ = plan(config)
    codes = [c.code for c in CATALOGUE[:8]]
    for test in (False, True):
        drawn = [code for job in jobs if job.test == test for code in job.codes]
        expected = class_counts(len(drawn), 8, config.imbalance)
        assert [drawn.count(c) for c in codes] == expected
    assert expected[0] >= 3 * expected[-1]


def test_detections_look_like_openpose(corpus):
    config = _config(corpus)
    for video in ("0001", "0002", "0003"):
        table = read_pose_table(corpus / video / f"{video}_openpose.csv")
        score = table[..., 2]
        assert ((score == 0) == (table[..., :2] == 0).all(axis=-1)).all()  # undetected is exactly 0, 0, 0
        assert (score <= 1).all() and (score >= 0).all()
        assert (table[:, list(HIDDEN_BODY)] == 0).all()
        for first in (LEFT_HAND, RIGHT_HAND):
            hand = score[:, first : first + 21]
            dropped = (hand == 0).all(axis=1)
            assert 0.01 < dropped.mean() < 0.35  # whole-hand dropouts on some frames
            runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], dropped.astype(int), [0]]))))[::2]
            assert runs.max() >= 2  # dropouts last several frames, as with a lost track
        detected = score[:, LEFT_HAND:] > 0
        assert ((score[:, LEFT_HAND:] < 0.2) & detected).any()  # some hand points are barely detected
        assert (score[:, [0, 1, 2, 5]] > 0.3).mean() > 0.95  # the upper body is found reliably
    # The table is the clean skeleton plus jitter of about a pixel, not a copy of it.
    _, jobs, _ = plan(config)
    sim = simulate(jobs[0])
    confident = sim.table[..., 2] > 0.3
    error = np.linalg.norm(sim.table[..., :2] - sim.pixels, axis=-1)[confident]
    assert 0.1 < np.median(error) < 0.05 * sim.scene.camera.scale


def test_subjects_differ():
    subjects = [sample_subject(f"S{i}", np.random.default_rng(i)) for i in range(60)]
    assert {s.habits.dominant for s in subjects} == {"R", "L"}
    assert {s.habits.fidget for s in subjects} == set(FIDGETS)
    assert {s.habits.rest for s in subjects} == set(RESTS)
    assert len({s.appearance.skin for s in subjects}) > 30
    scales = [s.camera.scale for s in subjects]
    assert max(scales) / min(scales) > 1.15
    speeds = [s.habits.speed for s in subjects]
    assert max(speeds) / min(speeds) > 1.3


# -- errors and CLI -----------------------------------------------------------------------------------
@pytest.mark.parametrize("change,match", [
    ({"videos": 2, "subjects": 3}, "videos"),
    ({"classes": 13}, "classes"),
    ({"frames_per_video": 100}, "frames_per_video"),
    ({"width": 255}, "even"),
    ({"pose_format": "json"}, "pose_format"),
    ({"test_fraction": 1.0}, "test_fraction"),
    ({"subjects": 1, "videos": 2}, "2 subjects"),
])
def test_bad_parameters(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        synthesize(tmp_path / "out", **{**TINY, **change})
    assert not (tmp_path / "out").exists()


def test_refuses_to_overwrite_unless_forced(tmp_path):
    small = {**TINY, "videos": 2, "subjects": 2, "frames_per_video": 180, "segments_per_video": 3}
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        synthesize(foreign, **small)
    with pytest.raises(FileExistsError, match="synth.json"):
        synthesize(foreign, **small, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "mine"

    out = tmp_path / "out"
    synthesize(out, **small)
    synthesize(out, **{**small, "videos": 1, "subjects": 1, "test_fraction": 0.0}, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["0001", "classes.csv", "hidden_labels.csv", "subjects.csv", "synth.json"]


def test_resumes_after_an_interrupted_run(tmp_path, monkeypatch):
    import mgfast.synth.corpus as corpus_module

    small = {**TINY, "videos": 2, "subjects": 2, "frames_per_video": 180, "segments_per_video": 3}
    real = corpus_module.render_video
    calls = []

    def render_then_fail(job, out):
        if calls:
            raise RuntimeError("interrupted")
        calls.append(job.video_id)
        return real(job, out)

    monkeypatch.setattr(corpus_module, "render_video", render_then_fail)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="interrupted"):
        synthesize(out, **small)
    assert (out / "0001").is_dir() and not (out / "synth.json").exists()
    monkeypatch.setattr(corpus_module, "render_video", real)
    with pytest.raises(FileExistsError):
        synthesize(out, **small)
    synthesize(out, **small, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["0001", "0002", "classes.csv", "hidden_labels.csv", "subjects.csv",
                                                    "synth.json"]


def test_tight_scripts_shorten_gestures():
    """When gestures do not fit at their natural length, they shrink to fit, never below the minimum."""
    subject = sample_subject("T", np.random.default_rng(0))
    slow = dataclasses.replace(subject, habits=dataclasses.replace(subject.habits, speed=1.25))
    classes = [max(CATALOGUE, key=lambda c: c.frames)] * 8
    exact = 8 * 16 + 9 * 8
    script = make_script(classes, slow, exact, np.random.default_rng(1), 16, 40, 25.0, 8)
    assert [g.frames for g in script] == [16] * 8
    assert [g.start for g in script] == [8 + k * 24 for k in range(8)] and script[-1].end == exact - 9
    roomy = make_script(classes, slow, 8 * 40 + 9 * 8 + 50, np.random.default_rng(1), 16, 40, 25.0, 8)
    assert max(g.frames for g in roomy) > 16
    with pytest.raises(ValueError, match="do not fit"):
        make_script(classes, slow, exact - 1, np.random.default_rng(1), 16, 40, 25.0, 8)


def test_cli(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["synth", str(out), "--videos", "2", "--subjects", "2", "--frames-per-video", "200", "--segments-per-video",
            "4", "--width", "128", "--height", "72", "--seed", "3", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 videos" in result.output and (out / "0002" / "0002_openpose.csv").is_file()
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not empty" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path / "x"), "--classes", "40"])
    assert result.exit_code == 2 and "classes" in result.output
