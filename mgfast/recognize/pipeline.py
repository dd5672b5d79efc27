"""`mgfast recognize`: untrimmed videos -> per-frame class probabilities -> gesture segments, per video.

For each video: keypoints (its pose file, or the pose estimator, as `mgfast extract` gets them), sliding
windows (:mod:`mgfast.recognize.windows`), each run's logits per window (:mod:`mgfast.recognize.scoring`),
fused with the temperatures and weights `mgfast fuse` recorded (``--fusion``; without it one run's softmax,
or several runs' uniform mean), averaged onto the frames, and decoded into segments
(:mod:`mgfast.recognize.decode`). Outputs, in ``OUT/<video id>/``::

    segments.csv      video,start_frame,end_frame_inclusive,class,name,score (ends inclusive, as <id>_label.csv)
    probs.npz         probs float32 [T, C], class_codes, fps, windows [N, 2] (half-open), window_probs [N, C]
    timeline.png      classes over time, ground truth beside them when the video has a label file
    render.mp4        with --render: the skeleton and the current label drawn on the frames
    recognize.json    written last: the options and, with a label file, the video's scores

A video whose ``recognize.json`` matches the options is skipped on a rerun (``force`` redoes it); a video
that cannot be read is reported and skipped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mgfast.calibration import softmax
from mgfast.extract.options import ExtractOptions
from mgfast.extract.worker import video_keypoints
from mgfast.fuse import FusionParams, fuse_probs, read_fusion_params
from mgfast.io.annotations import read_miga_labels
from mgfast.io.atomic import atomic_path, atomic_write_text
from mgfast.io.dataset import ClassInfo, Dataset
from mgfast.io.sources import VideoSource
from mgfast.recognize.decode import DecodeOptions, Segment, decode
from mgfast.recognize.evaluate import (DetectionScores, frame_scores, iou_sweep, pool_scores, pool_sweeps)
from mgfast.recognize.scoring import BranchScorer
from mgfast.recognize.sources import find_videos, label_file
from mgfast.recognize.windows import check_window, default_window, frame_probabilities, plan_windows
from mgfast.runs import background_class, check_same_classes, run_names

RECORD = "recognize.json"
ENGINES_DIR = "engines"  # under --out: the runs' networks exported for --engine onnx, one file per checkpoint
SEGMENTS_HEADER = ("video", "start_frame", "end_frame_inclusive", "class", "name", "score")


@dataclass(frozen=True)
class RecognizeOptions:
    """How `mgfast recognize` runs (the CLI's options)."""

    window: int | None = None  # frames; None: the training segments' median length
    stride: int | None = None  # frames; None: a quarter of the window
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    pose: str = "auto"
    pose_model: Path | None = None
    engine: str = "torch"
    checkpoint: str = "best"
    batch_size: int = 32
    single_view: bool = False  # one sampling per window, no flip (see BranchScorer.load)
    render: bool = False
    force: bool = False
    progress: bool = True


class Recognizer:
    """The runs (and their fusion) that score windows: :meth:`probabilities` of a video's frames."""

    def __init__(self, run_dirs: Sequence[Path], fusion: Path | None = None, *, engine: str = "torch",
                 device: torch.device | None = None, checkpoint: str = "best", batch_size: int = 32,
                 window: int | None = None, stride: int | None = None, single_view: bool = False,
                 engine_dir: Path | None = None):
        if not run_dirs:
            raise ValueError("no runs given; pass --runs RUN_DIR (one or more trained runs)")
        self.scorers = [BranchScorer.load(Path(r), engine, device, checkpoint, batch_size, single_view, engine_dir)
                        for r in run_dirs]
        runs = [s.run for s in self.scorers]
        self.classes: list[ClassInfo] = check_same_classes(runs)
        self.background = background_class(runs[0])
        self.names = run_names(runs)
        self.fusion: FusionParams | None = read_fusion_params(fusion) if fusion is not None else None
        if self.fusion is not None and self.fusion.class_codes != [c.code for c in self.classes]:
            raise ValueError(f"{self.fusion.path} fused other classes than the runs' ({runs[0].path}); pass the "
                             "fused folder of these runs")
        default = default_window(self.scorers[0].config.clip_len, training_lengths(runs[0].dataset))
        self.window = window if window is not None else default[0]
        self.stride = stride if stride is not None else max(1, self.window // 4)
        check_window(self.window, self.stride)

    @property
    def needs_frames(self) -> bool:
        """Whether a run scores the video's frames (an rgb run), not only its keypoints."""
        return any(s.crop_size is not None for s in self.scorers)

    def window_probs(self, video: str, keypoints: np.ndarray, windows: np.ndarray, fps: float,
                     frame_size: tuple[int, int], reader=None) -> np.ndarray:
        """float64 ``[N, C]`` fused class probabilities of each window (``reader``: the video's, for rgb runs)."""
        logits = {n: s.score(video, keypoints, windows, fps, frame_size, reader)
                  for n, s in zip(self.names, self.scorers)}
        if self.fusion is not None:
            return self.fusion.fuse(logits)
        return fuse_probs({n: softmax(z) for n, z in logits.items()}, {n: 1.0 for n in logits})

    def probabilities(self, video: str, keypoints: np.ndarray, fps: float, frame_size: tuple[int, int],
                      reader=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(per-frame probabilities ``[T, C]``, windows ``[N, 2]``, window probabilities ``[N, C]``)."""
        windows = plan_windows(len(keypoints), self.window, self.stride)
        per_window = self.window_probs(video, keypoints, windows, fps, frame_size, reader)
        return frame_probabilities(per_window, windows, len(keypoints)), windows, per_window


def training_lengths(dataset: Path) -> list[int] | None:
    """Frames of the training segments of the run's dataset, when it is still where the run says."""
    try:
        return [c.frames for c in Dataset(dataset).split("train")] or None
    except (OSError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class VideoResult:
    video: str
    out: Path
    segments: list[Segment]
    frames: int
    scores: dict | None  # {"iou": {iou: [tp, fp, fn]}, "frame": [tp, fp, fn]} when the video has labels
    skipped: bool = False
    error: str | None = None


def truth_segments(source: VideoSource, classes: list[ClassInfo]) -> list[Segment] | None:
    """The video's labelled segments as half-open :class:`Segment` (class indices), or None without labels."""
    path = label_file(source)
    if not path.is_file():
        return None
    labels = read_miga_labels(path, classes)
    if not any(s.code is not None for s in labels):
        return None
    index = {c.code: c.index for c in classes}
    return [Segment(s.start, s.end + 1, index[s.code], 1.0) for s in labels]


def segments_csv(video: str, segments: list[Segment], classes: list[ClassInfo]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(SEGMENTS_HEADER)
    for s in segments:
        writer.writerow([video, s.start, s.end - 1, classes[s.label].code, classes[s.label].name, f"{s.score:.4f}"])
    return text.getvalue()


def read_segments_csv(path: Path, classes: list[ClassInfo]) -> list[Segment]:
    """The segments of a ``segments.csv`` as half-open :class:`Segment`."""
    index = {c.code: c.index for c in classes}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [Segment(int(r["start_frame"]), int(r["end_frame_inclusive"]) + 1, index[int(r["class"])],
                    float(r["score"])) for r in rows]


def video_scores(segments: list[Segment], truth: list[Segment], frames: int, classes: int,
                 background: int | None) -> dict:
    sweep = iou_sweep(segments, truth)
    frame = frame_scores(segments, truth, frames, classes, background)
    return {"iou": {str(k): [v.tp, v.fp, v.fn] for k, v in sweep.items()}, "frame": [frame.tp, frame.fp, frame.fn]}


def pooled_scores(results: Sequence[VideoResult]) -> tuple[dict[float, DetectionScores], DetectionScores] | None:
    """Segment scores per IoU and frame scores over every scored video (counts summed first)."""
    scored = [r.scores for r in results if r.scores is not None]
    if not scored:
        return None
    sweeps = pool_sweeps([{float(k): DetectionScores.from_counts(*v) for k, v in s["iou"].items()} for s in scored])
    return sweeps, pool_scores(DetectionScores.from_counts(*s["frame"]) for s in scored)


def _params(recognizer: Recognizer, options: RecognizeOptions, fusion: Path | None) -> dict:
    return {"runs": [str(s.run.path.resolve()) for s in recognizer.scorers],
            "fusion": None if fusion is None else str(Path(fusion).resolve()),
            "window": recognizer.window, "stride": recognizer.stride, "decode": asdict(options.decode),
            "pose": options.pose, "checkpoint": options.checkpoint, "engine": options.engine,
            "render": options.render, "single_view": options.single_view}


def _finished(out: Path, params: dict) -> dict | None:
    try:
        record = json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("params") == json.loads(json.dumps(params)) else None


def recognize_video(source: VideoSource, recognizer: Recognizer, options: RecognizeOptions, out: Path,
                    params: dict) -> VideoResult:
    """Recognises one video into ``out`` (module docstring)."""
    from mgfast.io.video import VideoReader
    from mgfast.recognize.timeline import draw_timeline

    classes = recognizer.classes
    if not options.force and (record := _finished(out, params)) is not None:
        return VideoResult(source.video_id, out, read_segments_csv(out / "segments.csv", classes), record["frames"],
                           record.get("scores"), skipped=True)
    truth = truth_segments(source, classes)
    extract_options = ExtractOptions(crops=False, pose=options.pose, pose_model=options.pose_model)
    with VideoReader(source.video_path) as reader:
        frames, fps, size = reader.frame_count, reader.fps, (reader.height, reader.width)
        keypoints = video_keypoints(source, extract_options, reader, frames)
        probs, windows, per_window = recognizer.probabilities(source.video_id, keypoints, fps, size, reader)
    segments = decode(probs, options.decode, recognizer.background)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "segments.csv", segments_csv(source.video_id, segments, classes))
    with atomic_path(out / "probs.npz") as tmp, tmp.open("wb") as f:
        np.savez(f, probs=probs.astype(np.float32), class_codes=np.array([c.code for c in classes], np.int64),
                 fps=np.float64(fps), windows=windows, window_probs=per_window.astype(np.float32))
    draw_timeline(probs, segments, [c.name for c in classes], fps, out / "timeline.png", truth=truth)
    if options.render:
        from mgfast.recognize.render import render_video

        render_video(source.video_path, keypoints, segments, classes, out / "render.mp4")
    scores = None if truth is None else video_scores(segments, truth, frames, len(classes), recognizer.background)
    record = {"params": params, "video": str(source.video_path), "frames": frames, "fps": fps,
              "segments": len(segments), "scores": scores}
    atomic_write_text(out / RECORD, json.dumps(record, indent=1) + "\n")
    return VideoResult(source.video_id, out, segments, frames, scores)


def recognize(src: str | Path, run_dirs: Sequence[str | Path], out: str | Path, *, fusion: str | Path | None = None,
              options: RecognizeOptions = RecognizeOptions(), device: torch.device | None = None,
              log: Callable[[str], None] = print) -> list[VideoResult]:
    """Recognises every video at ``src`` into ``out/<video id>/``; a video that fails is reported through
    ``log`` and returned with its ``error``, the others go on."""
    sources = find_videos(src)
    out = Path(out)
    recognizer = Recognizer([Path(r) for r in run_dirs], None if fusion is None else Path(fusion),
                            engine=options.engine, device=device, checkpoint=options.checkpoint,
                            batch_size=options.batch_size, window=options.window, stride=options.stride,
                            single_view=options.single_view, engine_dir=out / ENGINES_DIR)
    params = _params(recognizer, options, None if fusion is None else Path(fusion))
    results = []
    for source in tqdm(sources, desc="recognising", unit="video", disable=not options.progress):
        try:
            results.append(recognize_video(source, recognizer, options, out / source.video_id, params))
        except (OSError, ValueError, RuntimeError) as error:  # one bad video must not stop the batch
            log(f"{source.video_id}: skipped, {type(error).__name__}: {error}")
            results.append(VideoResult(source.video_id, out / source.video_id, [], 0, None, error=str(error)))
    return results
