"""Bad files and bad input that once escaped as a crash, a silent mistake or a write outside the output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fake_runs import make_runs
from mgfast.adapt import AdaptConfig, adapt
from mgfast.cli.main import app
from mgfast.io.dataset import Dataset
from mgfast.io.names import check_name, check_relative_path
from mgfast.runs import read_run
from mgfast.synth import synthesize
from tiny_dataset import make_dataset

runner = CliRunner()


@pytest.mark.parametrize("name", ["../../../ESCAPED", "a/b", "a\\b", "..", ".", "", " ", "x\0y", " joint"])
def test_names_that_cannot_be_one_path_component_are_refused(name):
    with pytest.raises(ValueError, match="cannot name a file or folder"):
        check_name(name, "modality", "run.json")


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.npy", "keypoints/../../x.npy", "C:\\x.npy", "\\\\host\\x", ""])
def test_paths_that_leave_the_dataset_are_refused(path):
    with pytest.raises(ValueError, match="leaves the dataset folder|is not a path"):
        check_relative_path(path, "keypoints", "manifest.csv:2")


def test_names_and_relative_paths_that_are_fine_pass():
    assert check_name("joint", "modality", "w") == "joint" and check_name("0054_12", "clip_id", "w") == "0054_12"
    assert check_relative_path("keypoints/0054_12.npy", "keypoints", "w") == "keypoints/0054_12.npy"


def test_a_run_json_modality_cannot_send_adaptation_outside_its_folder(tmp_path):
    paths, _ = make_runs(tmp_path / "runs")
    info = json.loads((paths[0] / "run.json").read_text())
    (paths[0] / "run.json").write_text(json.dumps({**info, "modality": "../../../ESCAPED"}))
    with pytest.raises(ValueError, match="modality '../../../ESCAPED' cannot name a file or folder"):
        read_run(paths[0])
    with pytest.raises(ValueError, match="cannot name"):
        adapt(paths, tmp_path / "adapted", AdaptConfig(rounds=1), fine_tune=lambda *a: None, log=lambda _: None)
    assert not any(p.name == "ESCAPED" for p in tmp_path.rglob("*"))


def test_a_manifest_cannot_point_outside_the_dataset(tmp_path):
    root = make_dataset(tmp_path / "ds")
    manifest = root / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1].replace("keypoints/", "../../", 1)
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="manifest.csv:2: keypoints '../../.*' leaves the dataset folder"):
        Dataset(root)


def test_a_truncated_keypoints_file_names_itself_instead_of_aborting(tmp_path):
    root = make_dataset(tmp_path / "ds")
    dataset = Dataset(root)
    clip = dataset.clips[0]
    path = root / clip.keypoints
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=rf"{path.name}: unreadable keypoints .*truncated or corrupt"):
        dataset.keypoints(clip)
    result = runner.invoke(app, ["train", str(root), "--modality", "joint", "--out", str(tmp_path / "run"),
                                 "--preset", "tiny", "--epochs", "1", "--workers", "0", "--no-progress"])
    assert result.exit_code == 2 and "Aborted" not in result.output and "unreadable keypoints" in result.output


def test_bad_adapt_weights_write_nothing_so_the_corrected_rerun_runs(tmp_path):
    paths, _ = make_runs(tmp_path / "runs")
    out = tmp_path / "adapted"
    for weights in ({"jiont": 1.0, "heatmap": 1.0, "rgb": 1.0}, {"joint": -1.0, "heatmap": 1.0, "rgb": 1.0}):
        with pytest.raises(ValueError, match="weights"):
            adapt(paths, out, AdaptConfig(rounds=1, weights=weights), fine_tune=lambda *a: None, log=lambda _: None)
        assert not out.exists()


def test_train_resume_without_a_run_is_refused(tmp_path):
    root = make_dataset(tmp_path / "ds")
    result = runner.invoke(app, ["train", str(root), "--modality", "joint", "--out", str(tmp_path / "run"),
                                 "--resume", "--no-progress"])
    assert result.exit_code == 2 and "holds no run to continue" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad_row", ["1,30,10", "nose,0,10"])
def test_one_bad_label_file_fails_its_video_and_the_rest_extract(tmp_path, bad_row):
    src = tmp_path / "src"
    synthesize(src, videos=3, subjects=2, frames_per_video=60, width=128, height=96, classes=3,
               segments_per_video=2, min_segment=8, max_segment=16, progress=False)
    label = src / "0001" / "0001_label.csv"
    label.write_text(bad_row + "\n" + label.read_text().split("\n", 1)[1])
    out = tmp_path / "ds"
    result = runner.invoke(app, ["extract", str(src), "--out", str(out), "--no-crops", "--no-progress"])
    assert result.exit_code != 0
    assert "FAILED 0001" in result.output and "0001_label.csv" in result.output
    assert {c.video for c in Dataset(out).clips} == {"0002", "0003"}


def test_temporary_files_of_a_killed_extraction_are_removed_by_the_next_run(tmp_path):
    src = tmp_path / "src"
    synthesize(src, videos=2, subjects=2, frames_per_video=60, width=128, height=96, classes=3,
               segments_per_video=2, min_segment=8, max_segment=16, progress=False)
    out = tmp_path / "ds"
    args = ["extract", str(src), "--out", str(out), "--no-crops", "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    (out / "crops").mkdir(exist_ok=True)
    stale = [out / "crops" / ".0001_1.k3j9x_2.tmp.mp4", out / "keypoints" / ".0001_1.a8d7_q.tmp.npy"]
    keep = out / "crops" / ".0001_12.zz.tmp.mp4"  # another clip's name that merely starts the same
    for path in [*stale, keep]:
        path.write_bytes(b"half a file")
    result = runner.invoke(app, args)  # everything is done; the rerun only tidies up
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in stale) and keep.exists()


def test_the_weight_grid_is_bounded():
    from mgfast.fuse import simplex_grid

    assert len(simplex_grid(3, 0.01)) == 5151  # C(102, 2): fine
    with pytest.raises(ValueError, match="has 4,598,126 points .*coarser --step"):
        simplex_grid(5, 0.01)


@pytest.mark.parametrize("err,hint", [(28, "the disk is full"), (30, "read-only"), (13, "no permission")])
def test_a_failed_write_is_one_line_naming_the_path(tmp_path, monkeypatch, err, hint):
    """Full disk, read-only folder, no permission: `mgfast fuse` (as every command) prints one line."""
    import mgfast.fuse

    def full(*args, **kwargs):
        raise OSError(err, os.strerror(err), str(tmp_path / "fused" / "fused.npz"))

    monkeypatch.setattr(mgfast.fuse, "write_outputs", full)
    paths, _ = make_runs(tmp_path / "runs")
    result = runner.invoke(app, ["fuse", *map(str, paths), "--out", str(tmp_path / "fused")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: ") and "fused.npz" in line and os.strerror(err) in line and hint in line


def test_torch_failing_to_write_a_checkpoint_names_the_file(tmp_path, monkeypatch):
    from mgfast.train import checkpoint

    def failing(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpoint.torch, "save", failing)
    with pytest.raises(OSError, match="could not write the checkpoint") as caught:
        checkpoint.save_checkpoint(tmp_path / "last.pt", {"epoch": 1})
    assert caught.value.filename == str(tmp_path / "last.pt") and not list(tmp_path.iterdir())


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_extraction_workers_exit_when_the_extraction_is_killed(tmp_path):
    src = tmp_path / "src"
    synthesize(src, videos=4, subjects=2, frames_per_video=400, width=320, height=180, classes=3,
               segments_per_video=6, progress=False)
    command = [sys.executable, "-m", "mgfast.cli.main", "extract", str(src), "--out", str(tmp_path / "ds"),
               "--workers", "2", "--no-progress"]
    # run outside the checkout, so that the installed package (with its extension) is imported
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2 and parent.poll() is None:
            workers = {c for c in _children(parent.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()}
            time.sleep(0.2)
        assert len(workers) >= 2, "the extraction did not start its workers"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            for w in workers:  # reap zombies of processes re-parented to us (not usually the case)
                try:
                    os.waitpid(w, os.WNOHANG)
                except ChildProcessError:
                    pass
            time.sleep(0.2)
        alive = [w for w in workers if Path(f"/proc/{w}").exists()
                 and Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        assert alive == []
    finally:
        if parent.poll() is None:
            parent.kill()


def test_class_names_in_a_label_file_are_read_as_their_codes_or_refused(tmp_path):
    from mgfast.io.annotations import read_miga_labels
    from mgfast.io.dataset import ClassInfo
    from mgfast.io.annotations import Segment

    classes = [ClassInfo(0, 1, "touch nose"), ClassInfo(1, 7, "fold_arms")]
    named = tmp_path / "v_label.csv"
    named.write_text("Touch Nose,0,10\nfold arms,20,30\n")
    assert read_miga_labels(named, classes) == [Segment(1, 0, 10, 1), Segment(2, 20, 30, 7)]
    unknown = tmp_path / "w_label.csv"
    unknown.write_text("scratch head,0,10\nscratch head,20,30\n")  # before: an unlabelled test video, silently
    with pytest.raises(ValueError, match=r"w_label.csv:1: class 'scratch head' is neither a class code nor a class"):
        read_miga_labels(unknown, classes)
