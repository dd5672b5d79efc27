"""Untrimmed synthetic test videos: dense labels that read back through the label reader, inside the video and
non-overlapping, equal to the simulated script; deterministic per seed and per video; the CLI option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.io.annotations import read_classes_csv, read_miga_labels
from mgfast.io.pose_tables import read_pose_table
from mgfast.io.sources import discover
from mgfast.io.video import VideoReader
from mgfast.synth.corpus import simulate
from mgfast.synth.untrimmed import TINY, plan_untrimmed, untrimmed_size, write_untrimmed

SEED = 3


@pytest.fixture(scope="module")
def untrimmed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("untrimmed") / "videos"
    folders = write_untrimmed(out, 3, SEED, tiny=True, subjects=2, classes=5, gestures_per_minute=30.0, progress=False)
    assert folders == [out / "U0001", out / "U0002", out / "U0003"]
    return out


def test_labels_read_back_dense_inside_and_apart(untrimmed):
    classes = read_classes_csv(untrimmed / "classes.csv")
    codes = {c.code for c in classes}
    assert len(codes) == 5
    total = 0
    for source in discover(untrimmed):
        labels = read_miga_labels(untrimmed / source.video_id / f"{source.video_id}_label.csv", classes)
        assert labels == source.segments and source.labelled and source.pose_path is not None
        assert all(s.code in codes for s in labels)
        frames = read_pose_table(source.pose_path).shape[0]
        with VideoReader(source.video_path) as reader:
            assert reader.frame_count == frames == TINY.frames
        assert all(0 <= s.start <= s.end < frames for s in labels)  # inclusive ends inside the video
        assert all(a.end < b.start for a, b in zip(labels, labels[1:]))  # in time order, apart
        total += len(labels)
    assert total >= 3
    info = json.loads((untrimmed / "synth.json").read_text())
    assert info["format"] == "mgfast-synth-untrimmed" and sum(info["segments"].values()) == total


def test_every_simulated_gesture_is_labelled(untrimmed):
    """The label file holds exactly the script that the video acts out, gesture for gesture."""
    classes = read_classes_csv(untrimmed / "classes.csv")
    jobs = plan_untrimmed(3, SEED, untrimmed_size(True, gestures_per_minute=30.0), subjects=2, classes=5)
    assert [j.subject.subject_id for j in jobs] == ["S01", "S02", "S01"]
    for job in jobs:
        script = simulate(job).script
        labels = read_miga_labels(untrimmed / job.video_id / f"{job.video_id}_label.csv", classes)
        assert [(s.code, s.start, s.end) for s in labels] == [(g.cls.code, g.start, g.end) for g in script]


def test_deterministic_per_seed_and_per_video(untrimmed, tmp_path):
    again = tmp_path / "again"
    write_untrimmed(again, 1, SEED, tiny=True, subjects=2, classes=5, gestures_per_minute=30.0, progress=False)
    for name in ("U0001_label.csv", "U0001_openpose.csv"):  # video 1 does not depend on how many are written
        assert (again / "U0001" / name).read_bytes() == (untrimmed / "U0001" / name).read_bytes()
    other = tmp_path / "other"
    write_untrimmed(other, 1, SEED + 1, tiny=True, subjects=2, classes=5, gestures_per_minute=30.0, progress=False)
    assert (other / "U0001" / "U0001_openpose.csv").read_bytes() != (untrimmed / "U0001" / "U0001_openpose.csv").read_bytes()


def test_refuses_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        write_untrimmed(tmp_path / "a", 0, 0, tiny=True)
    with pytest.raises(ValueError, match="width and height"):
        write_untrimmed(tmp_path / "b", 1, 0, tiny=True, width=50)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_untrimmed(tmp_path / "c", 1, 0, tiny=True, progress=False)
    with pytest.raises(FileExistsError, match="no synth.json"):
        write_untrimmed(tmp_path / "c", 1, 0, tiny=True, overwrite=True, progress=False)
    assert (tmp_path / "c" / "notes.txt").read_text() == "mine"


def test_cli_option(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["synth", str(out), "--untrimmed", "1", "--quick", "--frames-per-video", "150",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 untrimmed videos (150 frames at 128x96" in result.output
    assert read_pose_table(out / "U0001" / "U0001_openpose.csv").shape[0] == 150
    again = runner.invoke(app, ["synth", str(out), "--untrimmed", "1", "--quick", "--force", "--no-progress"])
    assert again.exit_code == 0, again.output
    assert read_pose_table(out / "U0001" / "U0001_openpose.csv").shape[0] == TINY.frames
    for extra, message in ((["--videos", "3"], "--videos do not apply"), (["--profile", "benchmark"], "does not combine")):
        refused = runner.invoke(app, ["synth", str(tmp_path / "x"), "--untrimmed", "1", *extra])
        assert refused.exit_code == 2 and message in refused.output
