"""`mgfast extract` end to end on a tiny synthetic corpus: keypoints, boxes, crops, resuming, failures, shards."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mgfast import ops
from mgfast.cli.main import app
from mgfast.extract import extract
from mgfast.extract.options import SALIENCY, ExtractOptions, parse_shard
from mgfast.io.dataset import Dataset, layout_to_dict
from mgfast.io.pose_tables import read_pose_table
from mgfast.io.video import read_clip
from mgfast.layout import MG68, to_mg68
from mgfast.ops import saliency_boxes
from mgfast.synth import synthesize

roi_align = pytest.importorskip("torchvision.ops").roi_align

runner = CliRunner()
CROP = 32
VIDEOS = ("0001", "0002", "0003")
FRAMES = 60


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three 128x96 videos of 60 frames, two segments each; video 0002 is an unlabelled test video."""
    out = tmp_path_factory.mktemp("corpus") / "src"
    summary = synthesize(out, videos=3, subjects=2, frames_per_video=FRAMES, width=128, height=96, classes=3,
                         segments_per_video=2, min_segment=8, max_segment=16, progress=False)
    assert summary.videos == list(VIDEOS) and len(summary.test_videos) == 1
    return out


@pytest.fixture(scope="module")
def npy_dataset(corpus, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("npy") / "dataset"
    return out, extract(corpus, out, crop_size=CROP, crop_format="npy", device="cpu", progress=False)


@pytest.fixture(scope="module")
def h264_dataset(corpus, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("h264") / "dataset"
    return out, extract(corpus, out, crop_size=CROP, device="cpu", progress=False)


# ---------------------------------------------------------------------------------------------------------
# Independent readings of the source (plain csv and PyAV, not mgfast's readers)


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return [row for row in csv.reader(f)][1:]  # synth writes a header row


def expected_clips(corpus: Path) -> dict[str, dict]:
    codes = sorted(int(code) for code, _ in csv_rows(corpus / "classes.csv"))
    subjects = dict(csv_rows(corpus / "subjects.csv"))
    hidden = {clip: int(code) for clip, code in csv_rows(corpus / "hidden_labels.csv")}
    clips = {}
    for video in VIDEOS:
        for number, (code, start, end) in enumerate(csv_rows(corpus / video / f"{video}_label.csv"), start=1):
            clip_id = f"{video}_{number}"
            clips[clip_id] = {
                "video": video, "subject": subjects[video], "start": int(start), "end": int(end),
                "label": codes.index(int(code)) if code else None, "split": "train" if code else "test",
                "hidden_label": codes.index(hidden[clip_id]) if clip_id in hidden else None,
            }
    return clips


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def reference_crop(frames: np.ndarray, box: torch.Tensor, size: int) -> np.ndarray:
    """torchvision's roi_align on the frames as float: ``[T, size, size, 3]`` float32, not yet rounded."""
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    rois = torch.cat([torch.arange(len(frames), dtype=torch.float32)[:, None], box.expand(len(frames), 4)], 1)
    out = roi_align(images, rois, (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    return out.permute(0, 2, 3, 1).numpy()


def file_states(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def manifest_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------------------


def test_manifest_and_meta(corpus, npy_dataset):
    root, summary = npy_dataset
    assert (summary.videos_ok, summary.videos_skipped, summary.videos_failed) == (3, 0, 0)
    assert (summary.clips_written, summary.clips_skipped, summary.clips) == (6, 0, 6) and summary.ok
    dataset = Dataset(root)
    expected = expected_clips(corpus)
    assert [c.clip_id for c in dataset.clips] == sorted(expected)
    for clip in dataset.clips:
        want = expected[clip.clip_id]
        got = {k: getattr(clip, k) for k in want}
        assert got == want, clip.clip_id
        assert clip.frames == clip.end - clip.start + 1
        with av.open(str(corpus / clip.video / f"{clip.video}.mp4")) as container:
            stream = container.streams.video[0]
            assert (clip.width, clip.height, clip.fps) == (stream.width, stream.height, float(stream.average_rate))
        keypoints = dataset.keypoints(clip)
        box = saliency_boxes(torch.from_numpy(keypoints), (clip.height, clip.width), **SALIENCY)
        np.testing.assert_allclose(clip.box, box.numpy(), atol=5e-4, rtol=0)
        assert clip.crop == f"crops/{clip.clip_id}.npy"
    assert dataset.meta["layout"] == layout_to_dict(MG68)
    names = dict((int(code), name) for code, name in csv_rows(corpus / "classes.csv"))
    assert [(c.index, c.code, c.name) for c in dataset.classes] == [(i, code, names[code]) for i, code in enumerate(sorted(names))]
    params = dataset.meta["params"]
    assert params["crop_size"] == CROP and params["crop_format"] == "npy" and params["source"] == str(corpus.resolve())


def test_keypoints_equal_the_converted_pose_table(corpus, npy_dataset):
    dataset = Dataset(npy_dataset[0])
    for clip in dataset.clips:
        table = read_pose_table(corpus / clip.video / f"{clip.video}_openpose.csv")
        expected = to_mg68(table, "openpose137")[clip.start:clip.end + 1]
        keypoints = dataset.keypoints(clip)
        assert keypoints.dtype == np.float32 and keypoints.shape == (clip.frames, 68, 3)
        np.testing.assert_array_equal(keypoints, expected)


def test_npy_crops_are_roi_align_of_the_box_rounded(corpus, npy_dataset):
    dataset = Dataset(npy_dataset[0])
    for clip in dataset.clips:
        frames = decode_all(corpus / clip.video / f"{clip.video}.mp4")[clip.start:clip.end + 1]
        box = saliency_boxes(torch.from_numpy(dataset.keypoints(clip)), (clip.height, clip.width), **SALIENCY)
        reference = reference_crop(frames, box, CROP)
        crop = np.load(dataset.crop_path(clip))
        assert crop.dtype == np.uint8 and crop.shape == (clip.frames, CROP, CROP, 3)
        expected = np.clip(np.round(reference), 0, 255)
        # Exact, except where the float value sits on a rounding tie within the kernels' float error.
        differs = crop != expected
        tie = np.abs(reference - np.floor(reference) - 0.5) < 1e-3
        assert np.all(~differs | (tie & (np.abs(crop.astype(int) - expected) == 1))), clip.clip_id
        assert differs.mean() < 1e-3


def test_npy_crops_equal_crop_resize_of_the_whole_frames(corpus, npy_dataset):
    """Extraction converts only the box's pixels to RGB; the crops are bit for bit those of whole frames."""
    dataset = Dataset(npy_dataset[0])
    smaller = 0
    for clip in dataset.clips:
        frames = decode_all(corpus / clip.video / f"{clip.video}.mp4")[clip.start:clip.end + 1]
        box = saliency_boxes(torch.from_numpy(dataset.keypoints(clip)), (clip.height, clip.width), **SALIENCY)  # unrounded
        smaller += bool(box[2] - box[0] < clip.width - 8 or box[3] - box[1] < clip.height - 8)
        expected = ops.crop_resize(torch.from_numpy(frames), box, CROP).round_().clamp_(0, 255).to(torch.uint8)
        np.testing.assert_array_equal(np.load(dataset.crop_path(clip)), expected.permute(0, 2, 3, 1).numpy(), err_msg=clip.clip_id)
    assert smaller  # some boxes leave part of the frame unconverted: the case under test


def test_h264_crops_decode_close_to_the_reference(corpus, h264_dataset):
    dataset = Dataset(h264_dataset[0])
    for clip in dataset.clips:
        assert clip.crop == f"crops/{clip.clip_id}.mp4"
        frames = decode_all(corpus / clip.video / f"{clip.video}.mp4")[clip.start:clip.end + 1]
        box = saliency_boxes(torch.from_numpy(dataset.keypoints(clip)), (clip.height, clip.width), **SALIENCY)
        expected = np.clip(np.round(reference_crop(frames, box, CROP)), 0, 255)
        crop = read_clip(dataset.crop_path(clip))
        assert crop.shape == expected.shape
        # yuv420p keeps colour at half resolution, so compare brightness (BT.601 luma): PSNR in dB.
        luma = np.array([0.299, 0.587, 0.114])
        mse = np.mean((crop.astype(np.float64) @ luma - expected @ luma) ** 2)
        assert 10 * np.log10(255**2 / max(mse, 1e-12)) > 33, clip.clip_id


def test_rerun_rewrites_nothing(corpus, h264_dataset):
    root, _ = h264_dataset
    before = file_states(root)
    summary = extract(corpus, root, crop_size=CROP, device="cpu", progress=False)
    assert (summary.videos_ok, summary.videos_skipped, summary.clips_written, summary.clips_skipped) == (0, 3, 0, 6)
    assert file_states(root) == before


def test_interrupted_video_resumes_at_the_missing_clip(corpus, h264_dataset, tmp_path):
    root = tmp_path / "dataset"
    shutil.copytree(h264_dataset[0], root)
    (root / "crops" / "0003_2.mp4").unlink()  # as if the run stopped while encoding this crop
    before = file_states(root)
    summary = extract(corpus, root, crop_size=CROP, device="cpu", progress=False)
    assert (summary.videos_ok, summary.videos_skipped, summary.clips_written, summary.clips_skipped) == (1, 2, 1, 5)
    after = file_states(root)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == ["crops/0003_2.mp4", "keypoints/0003_2.npy", "records/0003.json"]
    assert manifest_rows(root / "manifest.csv") == manifest_rows(h264_dataset[0] / "manifest.csv")


def test_corrupt_video_is_reported_and_the_rest_extracted(corpus, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    video = src / "0002" / "0002.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    out = tmp_path / "dataset"
    args = ["extract", str(src), "--out", str(out), "--crop-size", str(CROP), "--device", "cpu", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "FAILED 0002" in result.output and str(video) in result.output
    assert "videos: 3 (2 extracted, 0 already done, 1 failed)" in result.output
    assert [c.clip_id for c in Dataset(out).clips] == ["0001_1", "0001_2", "0003_1", "0003_2"]

    shutil.copy(corpus / "0002" / "0002.mp4", video)  # repaired: a rerun extracts only what is missing
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 written, 4 already done" in result.output
    assert [c.clip_id for c in Dataset(out).clips] == sorted(expected_clips(corpus))


def test_segment_past_the_end_of_the_video_fails_that_video(corpus, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    with (src / "0003" / "0003_label.csv").open("a") as f:
        f.write(f"1,{FRAMES - 5},{FRAMES + 3}\n")
    summary = extract(src, tmp_path / "dataset", crops=False, progress=False)
    assert not summary.ok and list(summary.failures) == ["0003"]
    assert "0003_3" in summary.failures["0003"] and f"{FRAMES} frames" in summary.failures["0003"]
    assert summary.clips == 4 and summary.clips_written == 6  # 0003's first two clips are kept for the rerun


def test_shards_then_merge_equal_an_unsharded_run(corpus, npy_dataset, tmp_path):
    out = tmp_path / "dataset"
    first = extract(corpus, out, crop_size=CROP, crop_format="npy", device="cpu", shard=(1, 2), progress=False)
    second = extract(corpus, out, crop_size=CROP, crop_format="npy", device="cpu", shard=(2, 2), progress=False)
    assert first.ok and second.ok and not (out / "manifest.csv").exists()
    part1, part2 = manifest_rows(out / "manifest.shard-1-of-2.csv"), manifest_rows(out / "manifest.shard-2-of-2.csv")
    assert {r["video"] for r in part1} == {"0001", "0003"} and {r["video"] for r in part2} == {"0002"}

    merged = extract(corpus, out, crop_size=CROP, crop_format="npy", device="cpu", progress=False)
    assert (merged.clips_written, merged.clips_skipped, merged.videos_skipped) == (0, 6, 3)
    reference_root = npy_dataset[0]
    rows = manifest_rows(out / "manifest.csv")
    assert rows == manifest_rows(reference_root / "manifest.csv")
    assert sorted(part1 + part2, key=lambda r: r["clip_id"]) == rows
    for row in rows:
        for key in ("keypoints", "crop"):
            assert (out / row[key]).read_bytes() == (reference_root / row[key]).read_bytes()


def test_openpose_json_folders_and_missing_pose_files(corpus, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    table = src / "0001" / "0001_openpose.csv"
    points = read_pose_table(table)
    table.unlink()
    folder = src / "0001" / "0001_json"
    folder.mkdir()
    for frame, values in enumerate(points):  # as OpenPose --write_json writes them
        parts = {"pose_keypoints_2d": values[:25], "face_keypoints_2d": values[25:95],
                 "hand_left_keypoints_2d": values[95:116], "hand_right_keypoints_2d": values[116:]}
        person = {key: [float(v) for v in part.reshape(-1)] for key, part in parts.items()}
        (folder / f"0001_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": [person]}))
    (src / "0003" / "0003_openpose.csv").unlink()

    summary = extract(src, tmp_path / "dataset", crops=False, pose="openpose", progress=False)
    assert list(summary.failures) == ["0003"] and "no pose file" in summary.failures["0003"]
    dataset = Dataset(tmp_path / "dataset")
    clips = [c for c in dataset.clips if c.video == "0001"]
    assert len(clips) == 2
    for clip in clips:
        np.testing.assert_array_equal(dataset.keypoints(clip), to_mg68(points, "openpose137")[clip.start:clip.end + 1])
    assert json.loads((tmp_path / "dataset" / "records" / "0001.json").read_text())["keypoint_source"].startswith("openpose_json")


def test_worker_processes_write_what_one_process_writes(corpus, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    extract(corpus, serial, crops=False, progress=False)
    summary = extract(corpus, parallel, crops=False, workers=2, progress=False)
    assert summary.ok and (summary.videos_ok, summary.clips_written) == (3, 6)
    rows = manifest_rows(parallel / "manifest.csv")
    assert rows == manifest_rows(serial / "manifest.csv") and all(r["crop"] == "" for r in rows)
    for row in rows:
        assert (parallel / row["keypoints"]).read_bytes() == (serial / row["keypoints"]).read_bytes()


def test_pose_backend_sees_the_segment_frames_in_chunks(corpus, tmp_path, monkeypatch):
    class FrameStatistics:
        """A stand-in pose estimator whose keypoints are statistics of the frames it was given."""

        def __init__(self):
            self.calls = []

        def estimate(self, frames):
            self.calls.append(len(frames))
            return frame_keypoints(frames)

    backend = FrameStatistics()
    monkeypatch.setattr("mgfast.pose.get_backend", lambda name, **options: backend)
    monkeypatch.setattr("mgfast.extract.worker._BACKENDS", {})
    out = tmp_path / "dataset"
    summary = extract(corpus, out, crop_size=CROP, crop_format="npy", pose="mediapipe", device="cpu",
                      chunk_frames=5, progress=False)
    assert summary.ok and summary.clips_written == 6
    assert max(backend.calls) == 5 and sum(backend.calls) == sum(c["end"] - c["start"] + 1 for c in expected_clips(corpus).values())
    dataset = Dataset(out)
    for clip in dataset.clips:
        frames = decode_all(corpus / clip.video / f"{clip.video}.mp4")[clip.start:clip.end + 1]
        np.testing.assert_array_equal(dataset.keypoints(clip), frame_keypoints(frames))
        assert np.load(dataset.crop_path(clip)).shape == (clip.frames, CROP, CROP, 3)
    assert json.loads((out / "records" / "0001.json").read_text())["keypoint_source"] == "mediapipe"


def frame_keypoints(frames: np.ndarray) -> np.ndarray:
    means = frames.reshape(len(frames), -1, 3).mean(1)
    kp = np.zeros((len(frames), 68, 3), np.float32)
    kp[..., 0] = means[:, :1] * np.arange(68) / 68
    kp[..., 1] = means[:, 1:2]
    kp[..., 2] = 0.9
    return kp


def test_changed_parameters_need_overwrite(corpus, tmp_path):
    out = tmp_path / "dataset"
    extract(corpus, out, crops=False, progress=False)
    with pytest.raises(ValueError, match=r"crop_size: None -> 16.*--overwrite"):
        extract(corpus, out, crop_size=16, crop_format="npy", device="cpu", progress=False)
    summary = extract(corpus, out, crop_size=16, crop_format="npy", device="cpu", overwrite=True, progress=False)
    assert summary.clips_written == 6 and Dataset(out).meta["params"]["crop_size"] == 16


def test_bad_options_are_refused(corpus, tmp_path):
    with pytest.raises(ValueError, match="even crop size"):
        ExtractOptions(crop_size=31)
    assert ExtractOptions(crop_size=31, crop_format="npy").crop_size == 31
    with pytest.raises(ValueError, match="--pose-model"):
        ExtractOptions(pose="onnx")
    for text in ("0/2", "3/2", "two", "1/0"):
        with pytest.raises(ValueError, match="i/n"):
            parse_shard(text)
    assert parse_shard(" 2/4 ") == (2, 4)
    result = runner.invoke(app, ["extract", str(corpus), "--out", str(tmp_path / "d"), "--shard", "5/4"])
    assert result.exit_code == 2 and "i/n" in result.output
    result = runner.invoke(app, ["extract", str(tmp_path / "missing"), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "missing" in result.output
    assert not (tmp_path / "d").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and not an mgfast dataset"):
        extract(corpus, tmp_path / "notes", crops=False, progress=False)
    if not ops.cuda_available():
        with pytest.raises(ValueError, match="--device cpu"):
            extract(corpus, tmp_path / "d", device="cuda", progress=False)
        assert not (tmp_path / "d").exists()
