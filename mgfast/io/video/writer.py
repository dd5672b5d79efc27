"""Writing video files atomically: :class:`VideoWriter` streams H.264 (PyAV/libx264); :func:`write_video`
writes a whole clip and falls back to MPEG-4 Part 2 (OpenCV), then to ``.npy``, when an encoder is missing.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from mgfast.io.atomic import atomic_path, atomic_save_npy
from mgfast.io.video.pyav import import_av

CODECS = ("h264", "mp4v", "npy")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must have shape [T, H, W, 3] with T >= 1, got {list(frames.shape)}")
    return frames


class EncoderUnavailable(RuntimeError):
    """PyAV or its libx264 encoder is not installed here."""


class VideoWriter:
    """Streams RGB frames into an H.264 MP4 (PyAV/libx264, yuv420p); the file appears only on success.

    Frames go to a temporary file next to ``path``, renamed to ``path`` when the block ends without an
    error (or :meth:`close` is called); on an error the temporary file is removed::

        with VideoWriter("out.mp4", width=320, height=180, fps=25) as writer:
            for frame in frames:
                writer.write(frame)

    Raises :class:`EncoderUnavailable` when PyAV or libx264 is missing (:func:`write_video` then falls
    back to other formats) and ``ValueError`` for odd frame sizes, which yuv420p cannot store. ``preset`` is
    x264's speed/size trade-off ("ultrafast" ... "veryslow"); ``crf`` its quality (lower is better).
    """

    def __init__(self, path: str | Path, *, width: int, height: int, fps: float, crf: int = 18,
                 keyframe_interval: int | None = None, preset: str = "medium") -> None:
        self.path = Path(path)
        _check_encoding(fps, crf)
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(
                f"H.264 (yuv420p) needs positive even frame sizes, got {width}x{height} for {self.path}: crop or resize "
                f"to even sizes, or use write_video(..., pad_odd=True) or codec='mp4v'"
            )
        if preset not in X264_PRESETS:
            raise ValueError(f"unknown x264 preset {preset!r}: use one of {', '.join(X264_PRESETS)}")
        try:
            av = import_av()
        except ImportError as error:
            raise EncoderUnavailable("PyAV is not installed (pip install av)") from error
        if "libx264" not in av.codecs_available:
            raise EncoderUnavailable("this PyAV build has no libx264 encoder")
        self.width, self.height = width, height
        self.frames = 0
        try:
            import cv2

            self._cv2 = cv2
        except ImportError:
            self._cv2 = None
        self._stack = ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        try:
            self._container = av.open(str(tmp), "w", format="mp4")
            rate = Fraction(fps).limit_denominator(1001)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            interval = keyframe_interval if keyframe_interval is not None else max(int(round(2 * fps)), 1)
            self._stream.options = {"crf": str(crf), "g": str(interval), "preset": preset}
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise

    def write(self, frame: np.ndarray) -> None:
        """Appends one ``uint8 [H, W, 3]`` RGB frame."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise ValueError(f"{self.path}: frames must be uint8 [{self.height}, {self.width}, 3], got {frame.dtype} {list(frame.shape)}")
        av = import_av()
        if self._cv2 is not None:  # OpenCV converts to yuv420p (BT.601, limited range) ~10x faster than swscale
            image = av.VideoFrame.from_ndarray(self._cv2.cvtColor(frame, self._cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        self._container.mux(self._stream.encode(image))
        self.frames += 1

    def close(self) -> Path:
        """Flushes the encoder and moves the file into place; returns its path."""
        if self.frames == 0:
            self.abort()
            raise ValueError(f"{self.path}: no frames were written")
        try:
            self._container.mux(self._stream.encode())
            self._container.close()
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stack.close()
        return self.path

    def abort(self) -> None:
        """Discards the temporary file."""
        self._container.close()
        error = RuntimeError("aborted")
        self._stack.__exit__(RuntimeError, error, None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _check_encoding(fps: float, crf: int) -> None:
    if isinstance(fps, bool) or not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must lie in [0, 51], got {crf}")


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    codec: str = "h264",
    *,
    crf: int = 18,
    keyframe_interval: int | None = None,
    pad_odd: bool = False,
) -> Path:
    """Writes ``uint8 [T, H, W, 3]`` RGB frames to ``path`` atomically; returns the path actually written.

    ``codec="h264"`` encodes with PyAV/libx264 (yuv420p, constant rate factor ``crf``: 0 lossless .. 51
    worst, 18 visually near-lossless). If PyAV or libx264 is unavailable it falls back to MPEG-4 Part 2
    (``mp4v``) through OpenCV, and if that fails too, to ``path`` with suffix ``.npy``. ``codec="mp4v"``
    starts at the OpenCV step, ``codec="npy"`` writes the array directly.

    yuv420p stores colour at half resolution, so H.264 needs even frame sizes: odd sizes raise
    ``ValueError`` unless ``pad_odd=True`` (which repeats the last row/column, making the video one pixel
    larger). ``keyframe_interval`` (frames between keyframes, default 2 seconds) bounds the cost of seeking.
    """
    path = Path(path)
    frames = _check_frames(frames)
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: use one of {', '.join(CODECS)}")
    _check_encoding(fps, crf)
    if codec == "h264":
        height, width = frames.shape[1:3]
        if (height % 2 or width % 2) and pad_odd:
            frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        try:
            with VideoWriter(path, width=frames.shape[2], height=frames.shape[1], fps=fps, crf=crf,
                             keyframe_interval=keyframe_interval) as writer:
                for image in frames:
                    writer.write(image)
            return path
        except EncoderUnavailable:
            pass  # no libx264 here: the fallbacks below still give a readable file
    if codec in ("h264", "mp4v"):
        if _write_opencv(path, frames, fps):
            return path
    npy = path.with_suffix(".npy")
    atomic_save_npy(npy, np.ascontiguousarray(frames))
    return npy


def _write_opencv(path: Path, frames: np.ndarray, fps: float) -> bool:
    """MPEG-4 Part 2 via OpenCV; ``False`` (and nothing written) when OpenCV or its encoder is unavailable."""
    try:
        import cv2
    except ImportError:
        return False
    try:
        with atomic_path(path) as tmp:
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (frames.shape[2], frames.shape[1]))
            if not writer.isOpened():
                raise EncoderUnavailable
            try:
                for image in frames:
                    writer.write(np.ascontiguousarray(image[..., ::-1]))  # OpenCV expects BGR
            finally:
                writer.release()
            if tmp.stat().st_size == 0:
                raise EncoderUnavailable
    except EncoderUnavailable:
        return False
    return True
