"""Extraction of one video: keypoints, saliency box and RGB crop for each of its clips.

Runs in the calling process or in a pool worker. Decoding reads only the frames of the clips to do, in
chunks of ``chunk_frames`` (a long segment of a 720p video never sits in memory whole). Every file is
written atomically and the video's record is updated after each clip, so an interrupted run resumes at
the clip it was doing.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from mgfast.extract.options import SALIENCY, ExtractOptions
from mgfast.extract.plan import PlannedClip
from mgfast.extract.records import VideoRecord, load_record, save_record
from mgfast.io.atomic import atomic_save_npy, remove_leftovers
from mgfast.io.dataset import BACKGROUND, Clip

STAGES = ("decode", "pose", "saliency", "crop", "encode", "write")
"""Where extraction time goes, as reported in :attr:`VideoResult.timings`: decoding frames (and opening the
video), keypoints (pose-table reading and conversion, or the pose backend), saliency boxes, crop-resize
(including transfers to and from the device), encoding crop videos, writing keypoints and records."""

KEYPOINTS_DIR = "keypoints"
CROPS_DIR = "crops"


@dataclass(frozen=True)
class VideoJob:
    """Everything a worker needs for one video (picklable)."""

    source: object  # mgfast.io.sources.VideoSource
    clips: list[PlannedClip]
    root: Path
    options: ExtractOptions
    params: dict
    device: str


@dataclass
class VideoResult:
    video: str
    clips: list[Clip] = field(default_factory=list)  # every planned clip that is on disk now, as manifest rows
    written: int = 0
    skipped: int = 0
    dropped: int = 0  # background windows past the end of the pose table (see process_video)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def untouched(self) -> bool:
        """Nothing to do: every clip was already extracted."""
        return self.error is None and self.written == 0


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


_BACKENDS: dict[tuple, object] = {}  # pose backends, loaded once per process


def _backend(name: str, model: Path | None):
    from mgfast.pose import get_backend

    key = (name, str(model) if model is not None else None)
    if key not in _BACKENDS:
        _BACKENDS[key] = get_backend(name, model=str(model)) if name == "onnx" else get_backend(name)
    return _BACKENDS[key]


def keypoint_source(source, options: ExtractOptions) -> str:
    """``"table"`` (the video's pose file) or the name of the pose backend that will estimate keypoints."""
    if options.pose in ("auto", "openpose") and source.pose_path is not None:
        return "table"
    if options.pose == "openpose":
        raise FileNotFoundError(
            f"video {source.video_id} ({source.video_path}) has no pose file (<id>_openpose.xlsx/.csv or <id>_json/); "
            f"add one, or estimate poses with --pose mediapipe or --pose onnx --pose-model PATH"
        )
    if options.pose == "auto":
        return "onnx" if options.pose_model is not None else "mediapipe"
    return options.pose


class _PoseTable:
    """A video's OpenPose output (table or JSON folder), read on first use, converted to mg68 per segment."""

    def __init__(self, source) -> None:
        self.path = Path(source.pose_path)
        self.kind = source.pose_kind
        self._points: np.ndarray | None = None

    @property
    def frames(self) -> int:
        """Rows (frames) in the pose file; reads it on first use."""
        from mgfast.io import pose_tables

        if self._points is None:
            reader = pose_tables.read_openpose_json_dir if self.kind == "openpose_json" else pose_tables.read_pose_table
            self._points = reader(self.path)
        return len(self._points)

    def segment(self, start: int, end: int) -> np.ndarray:
        from mgfast.layout import to_mg68

        if end >= self.frames:
            raise ValueError(
                f"{self.path} has {self.frames} frames of keypoints but a segment ends at frame {end}; "
                f"the pose file and the label file do not belong together, or the pose file is incomplete"
            )
        return to_mg68(self._points[start:end + 1], "openpose137")


def video_keypoints(source, options: ExtractOptions, reader, frames: int) -> np.ndarray:
    """float32 ``[frames, V, 3]`` (mg68) of a whole video's first ``frames`` frames: from its pose file, or
    estimated by the pose backend that :func:`keypoint_source` picks, chunk by chunk (for `mgfast recognize`)."""
    method = keypoint_source(source, options)
    if method == "table":
        return np.ascontiguousarray(_PoseTable(source).segment(0, frames - 1), dtype=np.float32)
    pose = _backend(method, options.pose_model)
    parts = [np.asarray(pose.estimate(chunk), dtype=np.float32)
             for chunk in _chunks(reader, 0, frames - 1, options.chunk_frames, _Timer())]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _chunks(reader, start: int, end: int, size: int, timer: _Timer, region: tuple[int, int, int, int] | None = None) -> Iterator[np.ndarray]:
    for first in range(start, end + 1, size):
        with timer("decode"):
            frames = reader.read(first, min(first + size - 1, end), region=region)
        yield frames


def _footprint(box: torch.Tensor, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixels crop_resize can read for ``box``: its aligned sampling grid spans [x0 - 0.5, x1 - 0.5],
    each sample reads the pixels at floor and floor + 1; one more pixel each side spares float rounding."""
    x0, y0, x1, y1 = box.tolist()
    left, top = max(math.floor(x0 - 0.5) - 1, 0), max(math.floor(y0 - 0.5) - 1, 0)
    right, bottom = min(math.ceil(x1 - 0.5) + 2, width), min(math.ceil(y1 - 0.5) + 2, height)
    if right <= left or bottom <= top:  # wholly outside: crop_resize reads (almost) nothing; decode all
        return 0, 0, width, height
    return left, top, right, bottom


def _crop(chunks, box: torch.Tensor, size: int, device: str, timer: _Timer) -> np.ndarray:
    """The clip's crops as uint8 ``[T, size, size, 3]``: crop_resize's float32 rounded and clamped to 0..255."""
    from mgfast import ops

    box = box.to(device)
    parts = []
    for frames in chunks:
        with timer("crop"):
            out = ops.crop_resize(torch.from_numpy(frames).to(device), box, size).round_().clamp_(0, 255)
            # One pass converts to uint8 and reorders to [T, size, size, 3] (no separate copies per step).
            parts.append(torch.empty((len(out), size, size, 3), dtype=torch.uint8, device=device).copy_(out.permute(0, 2, 3, 1)).cpu())
    return parts[0].numpy() if len(parts) == 1 else torch.cat(parts).numpy()


def crop_spans(reader, spans: list[tuple[int, int]], boxes: torch.Tensor, size: int, device: str | torch.device,
               chunk_frames: int = ExtractOptions.chunk_frames) -> list[np.ndarray]:
    """Per span ``(start, end)`` (inclusive) of ``reader``'s video, the uint8 ``[end - start + 1, size, size, 3]``
    crop with its box ``boxes[i]`` that extraction writes for a clip of that span (as ``.npy``). Overlapping
    spans (`mgfast recognize`'s windows) share the decoding: the frames from the first start to the last end
    are decoded once, ``chunk_frames`` at a time, in the union of the boxes' footprints (the pixels each box
    reads are those of a full decode, so every crop equals its own clip's)."""
    footprints = [_footprint(box, reader.width, reader.height) for box in boxes]
    region = (min(f[0] for f in footprints), min(f[1] for f in footprints),
              max(f[2] for f in footprints), max(f[3] for f in footprints))
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    parts: list[list[np.ndarray]] = [[] for _ in spans]
    timer = _Timer()
    position = first
    for chunk in _chunks(reader, first, last, chunk_frames, timer, region):
        for part, (start, end), box in zip(parts, spans, boxes):
            lo, hi = max(start, position), min(end, position + len(chunk) - 1)
            if lo <= hi:
                part.append(_crop([chunk[lo - position:hi - position + 1]], box, size, str(device), timer))
        position += len(chunk)
    return [np.concatenate(part) if len(part) > 1 else part[0] for part in parts]


def _extract_clip(planned: PlannedClip, reader, pose, method: str, job: VideoJob, timer: _Timer, encoder: ThreadPoolExecutor) -> Future:
    """Extracts one clip; the crop is encoded on ``encoder`` (overlapping the next clip's decoding), so the
    clip's manifest row arrives as the returned future's result once its files are all on disk."""
    from mgfast.io.video import write_video
    from mgfast.ops import saliency_boxes

    options, root = job.options, job.root
    start, end = planned.start, planned.end
    if end >= reader.frame_count:
        raise ValueError(f"the segment ends at frame {end} but {reader.path} has {reader.frame_count} frames (0..{reader.frame_count - 1}); fix the label file")

    def frames(region: tuple[int, int, int, int] | None = None) -> Iterator[np.ndarray]:
        return _chunks(reader, start, end, options.chunk_frames, timer, region)

    if method == "table":
        with timer("pose"):
            keypoints = pose.segment(start, end)
    else:
        if end - start < options.chunk_frames:  # one chunk: decode once for both the backend and the crop
            decoded = list(frames())
            frames = lambda region=None: iter(decoded)  # noqa: E731
        parts = []
        for chunk in frames():
            with timer("pose"):
                parts.append(np.asarray(pose.estimate(chunk), dtype=np.float32))
        keypoints = np.concatenate(parts)
    keypoints = np.ascontiguousarray(keypoints, dtype=np.float32)
    with timer("saliency"):
        box = saliency_boxes(torch.from_numpy(keypoints), (reader.height, reader.width), **SALIENCY)
    keypoints_path = Path(KEYPOINTS_DIR) / f"{planned.clip_id}.npy"
    with timer("write"):
        atomic_save_npy(root / keypoints_path, keypoints)
    crop = None
    if options.crops:
        # Only the pixels the crop reads are converted to RGB (the rest stay 0): the same crops, less work.
        crop = _crop(frames(_footprint(box, reader.width, reader.height)), box, options.crop_size, job.device, timer)
    clip = Clip(
        clip_id=planned.clip_id, video=planned.video, subject=planned.subject, start=start, end=end,
        label=planned.label, split=planned.split, frames=end - start + 1, fps=reader.fps,
        width=reader.width, height=reader.height, box=tuple(float(v) for v in box.tolist()),
        keypoints=keypoints_path.as_posix(), crop=None, hidden_label=planned.hidden_label,
    )

    def encode() -> Clip:
        if crop is None:
            return clip
        suffix = ".npy" if options.crop_format == "npy" else ".mp4"
        with timer("encode"):
            written = write_video(root / CROPS_DIR / f"{planned.clip_id}{suffix}", crop, reader.fps, codec=options.crop_format)
        return replace(clip, crop=written.relative_to(root).as_posix())

    return encoder.submit(encode)


def _was_dropped(record: VideoRecord, planned: PlannedClip) -> bool:
    return record.dropped.get(planned.clip_id) == (planned.start, planned.end)


def _with_plan(clip: Clip, planned: PlannedClip) -> Clip:
    """A recorded clip with the labels, split, subject and kind that the source says now."""
    return replace(clip, subject=planned.subject, label=planned.label, split=planned.split,
                   hidden_label=planned.hidden_label, kind=planned.kind)


def process_video(job: VideoJob, tick: Callable[[int], None] | None = None) -> VideoResult:
    """Extracts the clips of ``job`` that are not on disk yet; never raises for a bad video (see ``error``).

    ``tick(n)`` is called as clips finish (for progress bars).
    """
    from mgfast.io.video import VideoReader

    source = job.source
    result = VideoResult(video=source.video_id)
    timer = _Timer()
    tick = tick or (lambda n: None)
    current: PlannedClip | None = None  # the clip being extracted, named in errors
    try:
        # The video's clips belong to this worker alone: temporary files an earlier, killed run left are stale.
        for planned in job.clips:
            remove_leftovers(job.root / KEYPOINTS_DIR / f"{planned.clip_id}.npy")
            remove_leftovers(job.root / CROPS_DIR / f"{planned.clip_id}.mp4")
        record = None if job.options.overwrite else load_record(job.root, source.video_id, job.params)
        record = record or VideoRecord(source.video_id, job.params)
        done = {p.clip_id: record.done(job.root, p) for p in job.clips}
        todo = [p for p in job.clips if done[p.clip_id] is None and not _was_dropped(record, p)]
        result.skipped = len(job.clips) - len(todo)
        tick(result.skipped)
        if todo:
            method = keypoint_source(source, job.options)
            with timer("pose"):
                pose = _PoseTable(source) if method == "table" else _backend(method, job.options.pose_model)
            record.keypoint_source = f"{source.pose_kind} ({source.pose_path})" if method == "table" else method
            with timer("decode"):
                reader = VideoReader(source.video_path)
            pending: tuple[PlannedClip, Future] | None = None  # the clip whose crop is being encoded

            def finish() -> None:
                """Records the pending clip once its crop is on disk (errors then name that clip)."""
                nonlocal current, pending
                (done, future), pending = pending, None
                extracting, current = current, done
                record.clips[done.clip_id] = future.result()
                with timer("write"):
                    save_record(job.root, record)
                result.written += 1
                tick(1)
                current = extracting

            with reader, ThreadPoolExecutor(1, thread_name_prefix="encode") as encoder:
                for planned in sorted(todo, key=lambda p: (p.start, p.end, p.clip_id)):  # seek forward
                    current = planned
                    if planned.kind == BACKGROUND and method == "table" and planned.end >= pose.frames:
                        # Background windows are planned from the video's length; a pose table a few frames
                        # shorter must cost that window only, not the video (a segment there stays an error).
                        record.dropped[planned.clip_id] = (planned.start, planned.end)
                        with timer("write"):
                            save_record(job.root, record)
                        result.dropped += 1
                        tick(1)
                        continue
                    try:
                        future = _extract_clip(planned, reader, pose, method, job, timer, encoder)
                    finally:
                        if pending is not None:  # also when this clip failed: the previous one is done
                            finish()
                    pending = (planned, future)
                finish()
                current = None
        result.clips = [_with_plan(record.clips[p.clip_id], p) for p in job.clips if not _was_dropped(record, p)]
    except Exception as error:  # one bad video must not stop the corpus: report it and go on
        where = f"clip {current.clip_id} (frames {current.start}..{current.end}): " if current is not None else ""
        result.error = where + _describe(error)
    result.timings = dict(timer.seconds)
    return result


def _describe(error: Exception) -> str:
    from mgfast.io.video import VideoError

    expected = (VideoError, ValueError, FileNotFoundError, OSError, ImportError)
    text = f"{type(error).__name__}: {error}"
    if not isinstance(error, expected):  # not a data problem: keep the traceback for a bug report
        text += "\n" + "".join(traceback.format_exception(error)).rstrip()
    return text
