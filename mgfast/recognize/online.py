"""``mgfast recognize --online``: frames consumed as they arrive, one decision per new stride.

A file is read in real-time order (each frame released at its presentation time, ``index / fps`` after the
start); a camera or stream URL is read as fast as frames arrive. Each frame's keypoints come from the
video's pose file (row ``index``) or from the pose estimator run on that frame alone. A ring buffer holds the
keypoints of the last ``window`` frames; whenever ``stride`` new frames have arrived (and at least one
window's worth, or the whole video at its end, is in the buffer), the buffer is scored as one window by the
same code as offline recognition (:meth:`mgfast.recognize.pipeline.Recognizer.window_probs`). The latency
of a decision is the time from the arrival of the newest frame it covers to the decision. RGB runs are
refused: the buffer holds no frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from mgfast.recognize.pipeline import Recognizer


@dataclass(frozen=True)
class Decision:
    """The class of the window ending at frame ``frame`` (inclusive), and when it was decided."""

    frame: int
    label: int
    probability: float
    latency: float  # seconds from the arrival of frame ``frame`` to the decision


def file_frames(path: str, *, realtime: bool = True) -> tuple[float, tuple[int, int], Iterator[tuple[np.ndarray, float]]]:
    """(fps, (height, width), frames with their arrival times) of a video file, released at real-time pace."""
    from mgfast.io.video import VideoReader

    reader = VideoReader(path)

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        with reader:
            start = time.perf_counter()
            for index, frame in enumerate(reader):
                due = start + index / reader.fps
                now = time.perf_counter()
                if realtime and now < due:
                    time.sleep(due - now)
                yield frame, max(time.perf_counter(), due) if realtime else time.perf_counter()

    return reader.fps, (reader.height, reader.width), frames()


def stream_frames(url: str) -> tuple[float, tuple[int, int], Iterator[tuple[np.ndarray, float]]]:
    """The same for a camera index or stream URL that OpenCV opens, frames as fast as they arrive."""
    import cv2

    capture = cv2.VideoCapture(int(url) if url.isdigit() else url)
    if not capture.isOpened():
        raise ValueError(f"cannot open the stream {url!r} with OpenCV; check the URL or camera index")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter()
        finally:
            capture.release()

    return float(fps), size, frames()


def check_online(recognizer: Recognizer) -> None:
    """Refuses rgb runs: the ring buffer holds keypoints, not the frames their crops need."""
    if recognizer.needs_frames:
        raise ValueError("--online scores joint and heatmap runs (its buffer holds keypoints, not frames); "
                         "score rgb runs offline, without --online")


class OnlineRecognizer:
    """The ring buffer and the decision rule (module docstring); :meth:`push` one frame's keypoints at a time."""

    def __init__(self, recognizer: Recognizer, fps: float, frame_size: tuple[int, int], name: str = "online"):
        check_online(recognizer)
        self.recognizer, self.fps, self.frame_size, self.name = recognizer, fps, frame_size, name
        self.window, self.stride = recognizer.window, recognizer.stride
        self.buffer: np.ndarray | None = None
        self.seen = 0  # frames pushed so far
        self.since = 0  # frames since the last decision

    def _buffered(self) -> np.ndarray:
        assert self.buffer is not None
        n = min(self.seen, self.window)
        start = self.seen % self.window if self.seen >= self.window else 0
        return np.roll(self.buffer, -start, axis=0)[:n]  # oldest first

    def decide(self, arrival: float) -> Decision:
        points = self._buffered()
        probs = self.recognizer.window_probs(self.name, points, np.array([[0, len(points)]]), self.fps,
                                             self.frame_size)[0]
        self.since = 0
        label = int(np.argmax(probs))
        return Decision(self.seen - 1, label, float(probs[label]), time.perf_counter() - arrival)

    def push(self, keypoints: np.ndarray, arrival: float) -> Decision | None:
        """Adds one frame's keypoints ``[V, 3]``; returns a decision when one is due."""
        if self.buffer is None:
            self.buffer = np.zeros((self.window, *keypoints.shape), np.float32)
        self.buffer[self.seen % self.window] = keypoints
        self.seen += 1
        self.since += 1
        if self.seen >= self.window and self.since >= self.stride:
            return self.decide(arrival)
        return None

    def finish(self, arrival: float) -> Decision | None:
        """At the end of the input: a last decision for the frames no decision covered yet."""
        return self.decide(arrival) if self.seen and (self.since or self.seen < self.window) else None


def run_online(recognizer: Recognizer, fps: float, frame_size: tuple[int, int],
               frames: Iterator[tuple[np.ndarray, float]], keypoints_of: Callable[[int, np.ndarray], np.ndarray],
               emit: Callable[[Decision], None] = lambda d: None) -> list[Decision]:
    """Feeds ``frames`` (with arrival times) through an :class:`OnlineRecognizer`; ``keypoints_of(index,
    frame)`` gives a frame's keypoints ``[V, 3]``. Returns every decision (each also passed to ``emit``)."""
    online = OnlineRecognizer(recognizer, fps, frame_size)
    decisions, arrival = [], time.perf_counter()
    for index, (frame, arrival) in enumerate(frames):
        decision = online.push(keypoints_of(index, frame), arrival)
        if decision is not None:
            decisions.append(decision)
            emit(decision)
    last = online.finish(arrival)
    if last is not None:
        decisions.append(last)
        emit(last)
    return decisions


def latency_summary(decisions: list[Decision]) -> str:
    if not decisions:
        return "no decisions (the input had no frames)"
    ms = np.array([d.latency for d in decisions]) * 1e3
    return (f"{len(decisions)} decisions, latency (frame arrival to decision) mean {ms.mean():.1f} ms, "
            f"p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")


def keypoints_source(source, options) -> Callable[[int, np.ndarray], np.ndarray]:
    """``keypoints_of(index, frame)`` for :func:`run_online`: the video's pose file (read once, as `mgfast
    extract` reads it) or the pose estimator on each frame (``options``: :class:`ExtractOptions`)."""
    from mgfast.extract.worker import _backend, keypoint_source, video_keypoints
    from mgfast.io.video import VideoReader

    if source is not None and keypoint_source(source, options) == "table":
        with VideoReader(source.video_path) as reader:
            frames = reader.frame_count
        table = video_keypoints(source, options, None, frames)
        return lambda index, frame: table[index]
    if source is not None:
        method = keypoint_source(source, options)
    elif options.pose == "openpose":
        raise ValueError("a stream has no pose file; estimate poses with --pose mediapipe or --pose onnx --pose-model PATH")
    else:  # a stream: the estimator asked for, or the one `extract` picks without a pose file
        method = options.pose if options.pose != "auto" else ("onnx" if options.pose_model is not None else "mediapipe")
    backend = _backend(method, options.pose_model)
    return lambda index, frame: np.asarray(backend.estimate(frame[None]), np.float32)[0]
