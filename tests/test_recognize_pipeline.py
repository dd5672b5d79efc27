"""`mgfast recognize` end to end on a tiny synthetic untrimmed video with a tiny joint run, and the equality
of a window scored by recognize with the same span extracted as a clip and scored by `mgfast predict`.

Uses `mgfast.synth.untrimmed.write_untrimmed`, `mgfast.recognize.decode`, `.evaluate` and `.timeline`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mgfast.calibration import softmax
from mgfast.cli.main import app
from mgfast.extract.options import SALIENCY
from mgfast.fuse import fuse_runs, read_fusion_params, write_outputs
from mgfast.io.dataset import Dataset, write_manifest
from mgfast.ops import saliency_boxes
from mgfast.recognize.decode import DecodeOptions
from mgfast.recognize.pipeline import Recognizer, RecognizeOptions, recognize
from mgfast.recognize.scoring import BranchScorer
from mgfast.runs import load_logits
from mgfast.synth.untrimmed import write_untrimmed
from mgfast.train import make_config, predict, train
from tiny_dataset import make_dataset

CODES = (1, 10, 15)  # the first three classes of the synthetic catalogue, as the untrimmed videos use them


def as_extracted(root: Path) -> None:
    """The tiny dataset with the catalogue's codes and each clip's box as extraction computes it."""
    meta = json.loads((root / "meta.json").read_text())
    for c, code in zip(meta["classes"], CODES):
        c["code"] = code
    (root / "meta.json").write_text(json.dumps(meta))
    ds = Dataset(root)
    clips = []
    for c in ds.clips:
        box = saliency_boxes(torch.from_numpy(ds.keypoints(c)), (c.height, c.width), **SALIENCY)
        clips.append(type(c)(**{**c.__dict__, "box": tuple(float(v) for v in box)}))
    write_manifest(root / "manifest.csv", clips)


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("recognize")
    root = make_dataset(base / "ds", num_classes=3, subjects=8, frames=(16, 30))
    as_extracted(root)
    config = make_config(root, "joint", base / "run", preset="tiny", epochs=2, batch_size=4, num_clips=2, workers=0,
                         progress=False, lr=0.05, lr_batch=4, warmup_epochs=0.5, clip_len=6,
                         model={"dims": 8, "num_blocks": 1, "heads": 1})
    return train(config)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("untrimmed") / "videos"
    write_untrimmed(out, 1, 5, tiny=True, subjects=2, classes=3, progress=False)
    return out


def test_a_window_scores_as_the_same_span_extracted_and_predicted(joint_run):
    path = predict(joint_run, "test", workers=0)
    logits = load_logits(joint_run, "test")
    ds = Dataset(json.loads((joint_run / "run.json").read_text())["dataset"])
    scorer = BranchScorer.load(joint_run)
    by_id = {c.clip_id: c for c in ds.split("test")}
    assert path.is_file() and len(logits.clip_ids) == len(by_id)
    for cid, row in zip(logits.clip_ids, logits.logits):
        clip = by_id[cid]
        kp = ds.keypoints(clip)
        got = scorer.score("v", kp, np.array([[0, len(kp)]]), clip.fps, (clip.height, clip.width))
        np.testing.assert_allclose(got[0], row, rtol=1e-4, atol=1e-5)


def test_fused_windows_use_the_recorded_temperatures_and_weights(joint_run, tmp_path):
    fusion = fuse_runs([joint_run])
    write_outputs(fusion, tmp_path / "fused")
    params = read_fusion_params(tmp_path / "fused")
    assert params.temperatures == {"joint": pytest.approx(fusion.temperatures["joint"])}
    recognizer = Recognizer([joint_run], tmp_path / "fused", window=12, stride=3)
    kp = np.load(next((Path(json.loads((joint_run / "run.json").read_text())["dataset"]) / "keypoints").glob("*.npy")))
    windows = np.array([[0, len(kp)]])
    z = recognizer.scorers[0].score("v", kp, windows, 30.0, (240, 320))
    expected = softmax(z, fusion.temperatures["joint"])
    np.testing.assert_allclose(recognizer.window_probs("v", kp, windows, 30.0, (240, 320)), expected, rtol=1e-6)
    with pytest.raises(FileNotFoundError, match="fused.npz is missing"):
        read_fusion_params(tmp_path)


def test_recognize_end_to_end_with_eval_and_resume(joint_run, videos, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["recognize", str(videos), "--runs", str(joint_run), "--out", str(out), "--eval", "--no-progress",
            "--window", "24", "--stride", "6", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "segment F1 @ IoU 0.5" in result.output and "frame-level" in result.output
    video = out / "U0001"
    probs = np.load(video / "probs.npz")
    frames = json.loads((video / "recognize.json").read_text())["frames"]
    assert probs["probs"].shape == (frames, 3) and np.allclose(probs["probs"].sum(1), 1, atol=1e-5)
    assert probs["class_codes"].tolist() == list(CODES)
    with (video / "segments.csv").open() as f:
        rows = list(csv.DictReader(f))
    header = (video / "segments.csv").read_text().splitlines()[0]
    assert header == "video,start_frame,end_frame_inclusive,class,name,score"
    for r in rows:
        assert r["video"] == "U0001" and int(r["class"]) in CODES
        assert 0 <= int(r["start_frame"]) <= int(r["end_frame_inclusive"]) < frames
    assert (video / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((video / "recognize.json").read_text())
    assert record["scores"] is not None and set(record["scores"]["iou"]) == {"0.1", "0.2", "0.3", "0.4", "0.5",
                                                                             "0.6", "0.7"}
    before = (video / "probs.npz").stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "already done" in again.output
    assert (video / "probs.npz").stat().st_mtime_ns == before
    assert again.output.split("segment-level")[1] == result.output.split("segment-level")[1]  # same scores


def test_a_corrupt_video_is_reported_and_skipped(joint_run, videos, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "U0001.mp4").symlink_to(videos / "U0001" / "U0001.mp4")
    (src / "U0001_openpose.csv").symlink_to(videos / "U0001" / "U0001_openpose.csv")
    (src / "broken.mp4").write_bytes(b"not a video")
    lines: list[str] = []
    results = recognize(src, [joint_run], tmp_path / "out", options=RecognizeOptions(
        window=24, stride=6, progress=False, decode=DecodeOptions(), render=True), log=lines.append)
    assert [r.video for r in results] == ["U0001", "broken"]
    assert results[0].error is None and results[1].error is not None
    assert len(lines) == 1 and lines[0].startswith("broken: skipped") and "broken.mp4" in lines[0]
    assert (tmp_path / "out" / "U0001" / "render.mp4").stat().st_size > 0


def test_online_decides_every_stride_with_the_offline_scores(joint_run, videos):
    from mgfast.recognize.online import file_frames, latency_summary, run_online

    recognizer = Recognizer([joint_run], window=20, stride=7)
    table = np.load(next((Path(json.loads((joint_run / "run.json").read_text())["dataset"]) / "keypoints").glob("*.npy")))
    kp = np.concatenate([table] * 3)  # a "video" of keypoints, frames without pixels
    frames = iter([(None, float(i)) for i in range(len(kp))])
    decisions = run_online(recognizer, 30.0, (240, 320), frames, lambda i, frame: kp[i])
    ends = [d.frame for d in decisions]
    expected = list(range(19, len(kp), 7))
    assert ends[: len(expected)] == expected and ends[-1] == len(kp) - 1 and len(ends) - len(expected) <= 1
    for d in decisions:
        span = kp[max(0, d.frame - 19) : d.frame + 1]
        offline = recognizer.window_probs("x", span, np.array([[0, len(span)]]), 30.0, (240, 320))[0]
        assert d.label == int(np.argmax(offline)) and d.probability == pytest.approx(offline.max(), rel=1e-5)
    assert "decisions" in latency_summary(decisions)
    fps, size, stream = file_frames(str(videos / "U0001" / "U0001.mp4"), realtime=False)
    first = next(stream)
    assert first[0].shape == (*size, 3) and fps == pytest.approx(25.0)


def test_single_view_scores_one_unflipped_sampling(joint_run):
    from mgfast.data import pose_aug
    from mgfast.data.sampling import uniform_sample_indices

    scorer = BranchScorer.load(joint_run, single_view=True)
    kp = np.load(next((Path(json.loads((joint_run / "run.json").read_text())["dataset"]) / "keypoints").glob("*.npy")))
    kp = np.concatenate([kp, kp])
    got = scorer.score("v", kp, np.array([[3, len(kp)]]), 30.0, (240, 320))
    span = kp[3:]
    box = saliency_boxes(torch.from_numpy(span), (240, 320), **SALIENCY).tolist()
    x = pose_aug.normalise_to_box(pose_aug.mark_missing(span)[uniform_sample_indices(len(span), 6, train=False)], box)
    expected = scorer.model(torch.from_numpy(np.ascontiguousarray(x)).float()).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_bad_fused_files_are_reported_with_the_file(tmp_path):
    (tmp_path / "fused.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="fused.npz: not a readable .npz"):
        read_fusion_params(tmp_path)
    np.savez(tmp_path / "fused.npz", modalities=np.array(["joint"]))
    with pytest.raises(ValueError, match="missing array\\(s\\) temperatures, weights"):
        read_fusion_params(tmp_path)
    np.savez(tmp_path / "fused.npz", modalities=np.array(["joint", "heatmap"]), temperatures=np.array([2.0, 0.5]),
             weights=np.array([0.25, 0.75]), class_codes=np.array([1, 2]), background_class=np.int64(-1))
    params = read_fusion_params(tmp_path)
    z = np.random.default_rng(0).normal(size=(5, 2))
    expected = 0.25 * softmax(z, 2.0) + 0.75 * softmax(2 * z, 0.5)
    np.testing.assert_allclose(params.fuse({"joint": z, "heatmap": 2 * z}), expected)
    with pytest.raises(ValueError, match="pass the runs that were fused"):
        params.fuse({"joint": z})


def test_the_onnx_engine_scores_windows_as_the_torch_engine_does(joint_run, tmp_path):
    ds = Dataset(json.loads((joint_run / "run.json").read_text())["dataset"])
    clip = ds.split("test")[0]
    kp = np.concatenate([ds.keypoints(c) for c in ds.split("test")[:3]])
    windows = np.array([[0, 12], [5, 20], [len(kp) - 9, len(kp)]])
    engines = tmp_path / "engines"
    by_torch = BranchScorer.load(joint_run).score("v", kp, windows, clip.fps, (clip.height, clip.width))
    by_onnx = BranchScorer.load(joint_run, "onnx", engine_dir=engines).score("v", kp, windows, clip.fps,
                                                                              (clip.height, clip.width))
    np.testing.assert_allclose(by_onnx, by_torch, atol=1e-4, rtol=0)
    (exported,) = engines.glob("joint-*.onnx")
    stamp = exported.stat().st_mtime_ns
    BranchScorer.load(joint_run, "onnx", engine_dir=engines)  # the same checkpoint: the export is reused
    assert exported.stat().st_mtime_ns == stamp and len(list(engines.iterdir())) == 1


def test_sources_and_engines_fail_with_a_clear_message(joint_run, tmp_path):
    from mgfast.recognize.scoring import load_window_model
    from mgfast.recognize.sources import find_videos

    with pytest.raises(ValueError, match="needs a folder for its exported models"):
        load_window_model(joint_run, "onnx", torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown engine 'tensorrt'"):
        load_window_model(joint_run, "tensorrt", torch.device("cpu"))
    with pytest.raises(FileNotFoundError, match="holds no videos"):
        find_videos(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_videos(tmp_path / "nothing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="is not a video"):
        find_videos(tmp_path / "notes.txt")
    result = CliRunner().invoke(app, ["recognize", str(tmp_path), "--runs", str(joint_run), "--out",
                                      str(tmp_path / "o"), "--window", "4", "--stride", "8"])
    assert result.exit_code == 1 and "holds no videos" in result.output
