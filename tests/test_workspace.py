"""The commands' default paths: the product's usage lines run as written in a folder holding videos/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fake_runs
import mgfast.extract
import mgfast.train
from mgfast.cli import adapt as adapt_cli
from mgfast.cli import workspace
from mgfast.cli.main import app
from mgfast.synth import synthesize

runner = CliRunner()

# Small models and short clips keep each training run to seconds on a CPU; the paths stay the defaults.
SIZES = {
    "heatmap": {"clip_len": 4, "train_size": 16, "test_size": 16, "num_clips": 1, "test_flip": False,
                "model": {"base_channels": 4, "stage_blocks": [1, 1, 1]}},
    "joint": {"clip_len": 6, "num_clips": 1, "test_flip": False, "model": {"dims": 8, "num_blocks": 1, "heads": 1}},
}


def tiny(modality: str, folder: Path) -> list[str]:
    path = folder / f"{modality}.json"
    path.write_text(json.dumps(SIZES[modality]))
    return ["--preset", "tiny", "--config", str(path), "--epochs", "1", "--workers", "0", "--no-progress"]


def invoke(*args: str, code: int = 0):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})  # --help on one line per option
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """An empty working folder, made the current directory."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_the_usage_lines_run_as_written_in_a_folder_holding_videos(work, tmp_path):
    synthesize(work / "videos", videos=6, subjects=6, frames_per_video=100, width=128, height=96, classes=3,
               segments_per_video=4, min_segment=10, max_segment=16, progress=False)
    sizes = tmp_path / "sizes"
    sizes.mkdir()

    result = invoke("extract", "videos/", "--crop-size", "32", "--no-progress")
    assert result.output.splitlines()[0] == "reading videos, writing mgfast-data"
    assert (work / "mgfast-data" / "manifest.csv").is_file()

    result = invoke("train", "--modality", "heatmap", *tiny("heatmap", sizes))
    assert result.output.splitlines()[0] == "reading mgfast-data, writing runs/heatmap"
    assert (work / "runs" / "heatmap" / "logits" / "test.npz").is_file()

    # Adaptation is cross-modal: one branch is not enough, and the message says what to run.
    result = invoke("adapt", code=2)
    assert "found only runs/heatmap" in result.output and "mgfast train --modality joint" in result.output
    assert not (work / "runs" / "adapted").exists()

    invoke("train", "--modality", "joint", *tiny("joint", sizes))
    result = invoke("adapt", "--rounds", "1")
    assert result.output.splitlines()[0] == "reading runs/joint runs/heatmap, writing runs/adapted"
    assert result.output.splitlines()[-1] == "next: mgfast fuse"
    for modality in ("joint", "heatmap"):
        assert (work / "runs" / "adapted" / "latest" / modality / "logits" / "test.npz").is_file()

    result = invoke("fuse")
    adapted = "runs/adapted/latest"
    assert result.output.splitlines()[0] == f"reading {adapted}/joint {adapted}/heatmap, writing fused"
    for name in ("submission.csv", "fused.npz", "report.md"):
        assert (work / "fused" / name).is_file()

    # Explicit paths win, and then nothing is filled in or announced.
    submission = (work / "fused" / "submission.csv").stat().st_mtime_ns
    result = invoke("fuse", "runs/joint", "runs/heatmap", "--out", "fused-source")
    assert not result.output.startswith("reading")
    assert (work / "fused-source" / "submission.csv").is_file()
    assert (work / "fused" / "submission.csv").stat().st_mtime_ns == submission


def test_explicit_paths_reach_each_stage_unchanged(work, monkeypatch):
    calls = {}

    def record(stage, result):
        def stage_fn(*args, **kwargs):
            calls[stage] = args
            return result
        return stage_fn

    class Summary:
        ok = True

    summary = Summary()
    monkeypatch.setattr(mgfast.extract, "extract", record("extract", summary))
    monkeypatch.setattr(mgfast.train, "make_config", record("make_config", None))
    monkeypatch.setattr(mgfast.train, "train", record("train", Path("elsewhere/run")))
    monkeypatch.setattr(adapt_cli, "adapt", record("adapt", {}))

    commands = {
        "extract": ["extract", "videos/", "--out", "data"],
        "make_config": ["train", "data", "--modality", "joint", "--out", "r/joint"],
        "adapt": ["adapt", "r/joint", "r/heatmap", "--out", "r/adapted"],
    }
    for stage, args in commands.items():
        result = invoke(*args)
        assert "reading" not in result.output, result.output
    assert calls["extract"][:2] == (Path("videos/"), Path("data"))
    assert calls["make_config"] == (Path("data"), "joint", Path("r/joint"))
    assert calls["adapt"][:2] == ([Path("r/joint"), Path("r/heatmap")], Path("r/adapted"))

    # One path given, the other filled in.
    invoke("train", "--modality", "rgb", "--out", "r/rgb")
    assert calls["make_config"] == (workspace.DATASET, "rgb", Path("r/rgb"))
    invoke("adapt", "r/joint", "r/heatmap")
    assert calls["adapt"][:2] == ([Path("r/joint"), Path("r/heatmap")], workspace.ADAPTED)
    assert not any(Path(name).exists() for name in ("data", "r", "mgfast-data", "runs"))


def test_trained_runs_are_found_in_branch_order_and_adapted_runs_first(work):
    assert workspace.trained_runs() == []
    with pytest.raises(ValueError, match=r"no trained runs in runs/.*mgfast train --modality joint and mgfast train"):
        workspace.adapt_sources()
    with pytest.raises(ValueError, match="no runs in runs/adapted/latest/ or runs/"):
        workspace.fuse_sources()

    fake_runs.make_runs(work / "runs", specs=(("rgb", 1.0, 1.0),))
    with pytest.raises(ValueError, match=r"found only runs/rgb; .* mgfast train --modality joint$"):
        workspace.adapt_sources()
    fake_runs.make_runs(work / "runs", specs=(("heatmap", 1.5, 2.0), ("joint", 2.0, 3.0)))
    (work / "runs" / "notes").mkdir()  # not a run: no run.json
    fake_runs.write_run(work / "runs" / "heatmap-limbs", "heatmap", {})
    expected = [Path("runs", name) for name in ("joint", "heatmap", "rgb", "heatmap-limbs")]
    assert workspace.trained_runs() == workspace.adapt_sources() == workspace.fuse_sources() == expected

    # An adaptation in progress (no latest/ yet) is not fused; once finished, its runs are.
    fake_runs.make_runs(work / "runs" / "adapted" / "round-1", specs=(("joint", 2.0, 3.0), ("heatmap", 1.5, 2.0)))
    (work / "runs" / "adapted" / "adapt.json").write_text("{}")
    assert workspace.fuse_sources() == expected and workspace.trained_runs() == expected
    os.symlink("round-1", work / "runs" / "adapted" / "latest")
    assert workspace.fuse_sources() == [Path("runs/adapted/latest", name) for name in ("joint", "heatmap")]


def test_fuse_with_no_runs_names_the_fix(work):
    result = invoke("fuse", code=1)
    assert "error: no runs in runs/adapted/latest/ or runs/" in result.output
    assert not (work / "fused").exists()


def test_help_shows_the_defaults():
    for command, default in (("extract", "mgfast-data"), ("train", "runs/<modality>"), ("adapt", "runs/adapted"),
                             ("fuse", "fused")):
        result = invoke(command, "--help")
        assert f"[default: ({default})]" in result.output, result.output
