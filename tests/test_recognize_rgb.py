"""`mgfast recognize` with an rgb run: a window's crop is the crop extraction writes for the same span
(`mgfast.extract.worker.crop_spans` against the dataset's ``.npy`` crops), a window scores as `mgfast predict`
scores the span extracted as a clip, and recognition end to end, fused with a joint run, writes segments.

A tiny synthetic untrimmed video (`mgfast.synth.untrimmed`), extracted with ``.npy`` crops (exact uint8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mgfast.calibration import softmax
from mgfast.extract.options import ExtractOptions
from mgfast.extract.pipeline import extract
from mgfast.extract.worker import crop_spans, video_keypoints
from mgfast.io.dataset import Dataset
from mgfast.recognize.sources import find_videos
from mgfast.io.video import VideoReader, read_clip
from mgfast.recognize.online import OnlineRecognizer
from mgfast.recognize.pipeline import Recognizer, RecognizeOptions, recognize
from mgfast.recognize.scoring import BranchScorer, window_boxes
from mgfast.runs import load_logits
from mgfast.synth.untrimmed import write_untrimmed
from mgfast.train import make_config, predict, train

CROP = 16
TINY = dict(preset="tiny", epochs=1, batch_size=4, num_clips=2, workers=0, progress=False, val_fraction=0,
            calib_fraction=0)  # one video, one subject: nothing to carve validation from


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """(the untrimmed videos, their dataset extracted with npy crops)."""
    base = tmp_path_factory.mktemp("recognize-rgb")
    write_untrimmed(base / "videos", 1, 5, tiny=True, subjects=2, classes=3, progress=False)
    extract(base / "videos", base / "ds", crop_size=CROP, crop_format="npy", device="cpu", progress=False)
    return base / "videos", base / "ds"


@pytest.fixture(scope="module")
def rgb_run(corpus, tmp_path_factory) -> Path:
    config = make_config(corpus[1], "rgb", tmp_path_factory.mktemp("rgb") / "run", clip_len=4, train_size=CROP,
                         test_size=CROP, model={"arch": "r2plus1d_lite", "widths": [4, 4, 8, 8], "blocks": [1, 1, 1, 1]},
                         **TINY)
    return train(config)


def source_of(videos: Path):
    (source,) = find_videos(videos)
    return source


def test_window_crops_are_the_crops_extraction_writes(corpus):
    videos, root = corpus
    clips = Dataset(root).split("train")
    # Overlapping spans (a clip and a shifted copy) share decoding; a small chunk size puts chunk edges inside spans.
    spans = [(c.start, c.end) for c in clips] + [(clips[0].start + 3, clips[1].end)]
    source = source_of(videos)
    with VideoReader(source.video_path) as reader:
        # The boxes as extraction computes them (the manifest rounds its copy to 3 decimals).
        keypoints = video_keypoints(source, ExtractOptions(crops=False), reader, reader.frame_count)
        boxes = torch.from_numpy(window_boxes(keypoints, np.array(spans) + [0, 1], (reader.height, reader.width)))
        crops = crop_spans(reader, spans, boxes, CROP, "cpu", chunk_frames=7)
        full = reader.read(spans[-1][0], spans[-1][1])
    for clip, crop in zip(clips, crops):
        written = read_clip(root / clip.crop)
        assert crop.dtype == np.uint8 and crop.shape == (clip.frames, CROP, CROP, 3)
        np.testing.assert_array_equal(crop, written)
    # The shifted span: the reference crops a whole-frame decode with the same box, frame by frame.
    from mgfast import ops
    reference = ops.crop_resize(torch.from_numpy(full), boxes[-1], CROP).round_().clamp_(0, 255)
    np.testing.assert_array_equal(crops[-1], reference.permute(0, 2, 3, 1).to(torch.uint8).numpy())


def test_an_rgb_window_scores_as_the_same_span_extracted_and_predicted(corpus, rgb_run):
    videos, root = corpus
    predict(rgb_run, "train", workers=0)
    logits = load_logits(rgb_run, "train")
    clips = {c.clip_id: c for c in Dataset(root).split("train")}
    source = source_of(videos)
    scorer = BranchScorer.load(rgb_run, batch_size=2)  # batches of windows: crops made per batch
    assert scorer.crop_size == CROP
    with VideoReader(source.video_path) as reader:
        keypoints = video_keypoints(source, ExtractOptions(crops=False), reader, reader.frame_count)
        ordered = [clips[i] for i in logits.clip_ids]
        windows = np.array([[c.start, c.end + 1] for c in ordered])
        got = scorer.score(source.video_id, keypoints, windows, reader.fps, (reader.height, reader.width), reader)
        with pytest.raises(ValueError, match="is an rgb run: it scores the video's frames"):
            scorer.score(source.video_id, keypoints, windows, reader.fps, (reader.height, reader.width))
    assert len(ordered) == len(clips) >= 3
    np.testing.assert_allclose(got, logits.logits, rtol=1e-4, atol=1e-4)


def test_recognize_an_rgb_run_fused_with_a_joint_run_writes_segments(corpus, rgb_run, tmp_path):
    videos, root = corpus
    joint = train(make_config(root, "joint", tmp_path / "joint", clip_len=6,
                              model={"dims": 8, "num_blocks": 1, "heads": 1}, **TINY))
    results = recognize(videos, [rgb_run, joint], tmp_path / "out", options=RecognizeOptions(
        window=24, stride=8, progress=False))
    (result,) = results
    assert result.error is None
    with (result.out / "segments.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["start_frame"]), int(r["end_frame_inclusive"])) for r in rows] == \
        [(s.start, s.end - 1) for s in result.segments]
    saved = np.load(result.out / "probs.npz")
    assert saved["probs"].shape == (result.frames, 3)
    # The windows' probabilities are the uniform mean of both runs' softmax, the rgb run's from the video's crops.
    recognizer = Recognizer([rgb_run, joint], window=24, stride=8)
    source = source_of(videos)
    with VideoReader(source.video_path) as reader:
        keypoints = video_keypoints(source, ExtractOptions(crops=False), reader, reader.frame_count)
        size = (reader.height, reader.width)
        z = [s.score(source.video_id, keypoints, saved["windows"], reader.fps, size, reader)
             for s in recognizer.scorers]
    np.testing.assert_allclose(saved["window_probs"], (softmax(z[0]) + softmax(z[1])) / 2, rtol=1e-5, atol=1e-6)
    assert json.loads((result.out / "recognize.json").read_text())["frames"] == result.frames
    with pytest.raises(ValueError, match="--online scores joint and heatmap runs"):
        OnlineRecognizer(recognizer, 25.0, size)
