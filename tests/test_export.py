"""`mgfast export --format pyskl`: the PYSKL/mmaction2 pickle against the dataset it was made from."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.io.atomic import atomic_save_npy
from mgfast.io.dataset import ClassInfo, Clip, Dataset, write_manifest, write_meta
from mgfast.io.pyskl import to_pyskl, write_pyskl
from mgfast.layout import MG68

runner = CliRunner()

# (clip id, label, split, hidden label, frames)
CLIPS = [
    ("0001_1", 2, "train", None, 7),
    ("0001_2", 0, "train", None, 1),
    ("0002_1", 1, "val", None, 5),
    ("0003_1", None, "test", 2, 9),
    ("0003_2", None, "test", None, 4),
]
WIDTH, HEIGHT = 160, 90


def random_keypoints(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Keypoints as extraction writes them, with every kind of undetected point a pose source produces."""
    kp = np.empty((frames, MG68.num_joints, 3), np.float32)
    kp[..., 0] = rng.uniform(-5, WIDTH + 5, kp.shape[:2])
    kp[..., 1] = rng.uniform(-5, HEIGHT + 5, kp.shape[:2])
    kp[..., 2] = rng.uniform(0.01, 1, kp.shape[:2])
    kind = rng.integers(0, 8, kp.shape[:2])
    kp[kind == 0] = 0.0  # OpenPose: 0, 0, 0
    kp[kind == 1, :2] = np.nan  # NaN coordinates, score 0
    kp[kind == 1, 2] = 0.0
    kp[kind == 2, 2] = 0.0  # coordinates left behind, score 0
    kp[kind == 3, 2] = np.nan  # NaN score
    kp[kind == 4, 0] = np.inf  # a confident point with a broken coordinate
    return kp


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    root = tmp_path / "dataset"
    classes = [ClassInfo(0, 3, "three"), ClassInfo(1, 5, "five"), ClassInfo(2, 99, "other")]
    write_meta(root, layout=MG68, classes=classes, params={})
    clips = []
    for clip_id, label, split, hidden, frames in CLIPS:
        atomic_save_npy(root / "keypoints" / f"{clip_id}.npy", random_keypoints(rng, frames))
        clips.append(Clip(clip_id=clip_id, video=clip_id[:4], subject=clip_id[:4], start=10, end=9 + frames,
                          label=label, split=split, frames=frames, fps=25.0, width=WIDTH, height=HEIGHT,
                          box=(1.0, 2.0, 50.0, 51.0), keypoints=f"keypoints/{clip_id}.npy", crop=None, hidden_label=hidden))
    write_manifest(root / "manifest.csv", clips)
    return root


def expected_annotation(root: Path, clip_id: str, label: int | None, frames: int) -> dict:
    """Written from the format's description: detected = finite coordinates and a finite positive score."""
    kp = np.load(root / "keypoints" / f"{clip_id}.npy").astype(np.float64)
    xy, score = kp[..., :2], kp[..., 2]
    detected = np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1]) & np.isfinite(score) & (score > 0)
    keypoint = np.zeros((1, frames, MG68.num_joints, 2), np.float32)
    keypoint_score = np.zeros((1, frames, MG68.num_joints), np.float32)
    for t in range(frames):
        for v in range(MG68.num_joints):
            if detected[t, v]:
                keypoint[0, t, v] = xy[t, v]
                keypoint_score[0, t, v] = score[t, v]
    return {"frame_dir": clip_id, "label": -1 if label is None else label, "img_shape": (HEIGHT, WIDTH),
            "original_shape": (HEIGHT, WIDTH), "total_frames": frames, "keypoint": keypoint, "keypoint_score": keypoint_score}


def check_pickle(data: dict, root: Path) -> None:
    assert set(data) == {"split", "annotations"}
    assert data["split"] == {
        "train": ["0001_1", "0001_2"], "val": ["0002_1"], "test": ["0003_1", "0003_2"],
    }
    assert [a["frame_dir"] for a in data["annotations"]] == [c[0] for c in CLIPS]
    for annotation, (clip_id, label, _, _, frames) in zip(data["annotations"], CLIPS):
        expected = expected_annotation(root, clip_id, label, frames)
        assert set(annotation) == set(expected)
        for key in ("frame_dir", "label", "img_shape", "original_shape", "total_frames"):
            assert annotation[key] == expected[key], key
            assert type(annotation[key]) is type(expected[key]), key
        for key in ("keypoint", "keypoint_score"):
            assert annotation[key].dtype == np.float32 and annotation[key].shape == expected[key].shape, key
            np.testing.assert_array_equal(annotation[key], expected[key])
            assert np.isfinite(annotation[key]).all()


def test_pickle_matches_dataset(dataset: Path, tmp_path: Path):
    out = write_pyskl(dataset, tmp_path / "export" / "miga.pkl")
    with out.open("rb") as f:
        check_pickle(pickle.load(f), dataset)
    assert sorted(p.name for p in out.parent.iterdir()) == ["miga.pkl"]  # no temporary file left behind


def test_undetected_points_are_zero_and_kept_points_untouched(dataset: Path):
    data = to_pyskl(Dataset(dataset))
    annotation = data["annotations"][0]
    kp = np.load(dataset / "keypoints" / "0001_1.npy")
    detected = annotation["keypoint_score"][0] > 0
    assert detected.any() and (~detected).any()
    np.testing.assert_array_equal(annotation["keypoint"][0][detected], kp[..., :2][detected])
    assert (annotation["keypoint"][0][~detected] == 0).all()


def test_cli_export(dataset: Path, tmp_path: Path):
    out = tmp_path / "cli.pkl"
    result = runner.invoke(app, ["export", str(dataset), "--format", "pyskl", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    with out.open("rb") as f:
        check_pickle(pickle.load(f), dataset)


def test_cli_rejects_unknown_format_and_missing_dataset(dataset: Path, tmp_path: Path):
    result = runner.invoke(app, ["export", str(dataset), "--format", "coco", "--out", str(tmp_path / "x.pkl")])
    assert result.exit_code == 2 and "pyskl" in result.output
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["export", str(missing), "--out", str(tmp_path / "x.pkl")])
    assert result.exit_code == 2 and str(missing) in result.output and "mgfast extract" in result.output
    assert not (tmp_path / "x.pkl").exists()


def test_keypoints_that_disagree_with_the_manifest_are_named(dataset: Path, tmp_path: Path):
    atomic_save_npy(dataset / "keypoints" / "0002_1.npy", np.zeros((3, MG68.num_joints, 3), np.float32))
    with pytest.raises(ValueError, match=r"0002_1\.npy.*\[5, V, 3\]"):
        write_pyskl(dataset, tmp_path / "bad.pkl")
    assert not (tmp_path / "bad.pkl").exists()
