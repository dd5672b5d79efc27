"""Video files: frame-exact reading with seeking, atomic writing, whole-clip reading.

Frame ``i`` of a video is the ``i``-th frame (0-based) that a sequential decode presents, which is what
annotation files count. :class:`VideoReader` reaches it without decoding the whole file: it seeks to the
keyframe at or before the frame's timestamp and decodes forward, identifying frames by their presentation
timestamps. Files whose timestamps do not follow a constant frame rate are detected and read sequentially
instead, so results stay exact.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from mgfast.io.atomic import atomic_path, atomic_save_npy

CODECS = ("h264", "mp4v", "npy")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


class VideoError(RuntimeError):
    """A video file cannot be read: missing streams, truncated or corrupt data, or frames past its end."""


def _av():
    """PyAV, imported lazily so that modules using only ``.npy`` clips do not need it."""
    import av

    return av


class VideoReader:
    """Random access to the frames of one video file, as RGB ``uint8`` arrays.

    Use as a context manager (or call :meth:`close`)::

        with VideoReader("0001.mp4") as video:
            clip = video.read(120, 151)  # frames 120..151 inclusive, [32, H, W, 3]

    Attributes:
        path: the file.
        frame_count: number of frames, from the stream metadata or counted when the metadata lacks it.
        fps: frames per second (the stream's average rate).
        width, height: frame size in pixels.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        av = _av()
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError) as error:
            raise VideoError(f"cannot open video {self.path}: {error} (the file is corrupt, truncated or not a video)") from error
        try:
            if not self._container.streams.video:
                raise VideoError(f"{self.path} has no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            context = self._stream.codec_context
            self.width = int(context.width)
            self.height = int(context.height)
            if self.width <= 0 or self.height <= 0:
                raise VideoError(f"{self.path}: the video stream has no frame size (corrupt header)")
            # Timestamps lie on the grid of the base rate (FFmpeg's r_frame_rate); the average rate is
            # frames / duration, which for a variable-rate file hides the gaps.
            grid = self._stream.base_rate or self._stream.guessed_rate or self._stream.average_rate
            if not grid:
                raise VideoError(f"{self.path}: the video stream has no frame rate")
            self._rate = Fraction(grid)
            self.fps = float(self._stream.average_rate or self._rate)
            self._time_base = Fraction(self._stream.time_base)
            self._first_pts = self._probe_first_pts()
            self.frame_count = int(self._stream.frames) or self._count_frames()
            # Seeking maps frame indices to timestamps on a constant-rate grid; a stream whose duration
            # disagrees with its frame count has a variable rate and is read in decode order instead.
            self._sequential = not self._duration_matches_count()
        except BaseException:
            self._container.close()
            raise

    # -- context manager -------------------------------------------------------------------------------
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, frames={self.frame_count}, fps={self.fps:g}, size={self.width}x{self.height})"

    # -- reading ---------------------------------------------------------------------------------------
    def read(self, start: int, end: int) -> np.ndarray:
        """Frames ``start..end`` (both inclusive, 0-based) as ``uint8 [end - start + 1, H, W, 3]`` RGB."""
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, (int, np.integer)) or not isinstance(end, (int, np.integer)):
            raise TypeError(f"read(start, end) takes integer frame indices, got {start!r}, {end!r}")
        start, end = int(start), int(end)
        if start < 0 or end < start:
            raise ValueError(f"read({start}, {end}) on {self.path}: need 0 <= start <= end")
        if end >= self.frame_count:
            raise VideoError(
                f"{self.path} has {self.frame_count} frames (0..{self.frame_count - 1}); frames {start}..{end} were requested"
            )
        if not self._sequential:
            frames = self._read_seeking(start, end)
            if frames is not None:
                return frames
            self._sequential = True
        return self._read_sequential(start, end)

    def _read_seeking(self, start: int, end: int) -> np.ndarray | None:
        """Seek-and-decode read; ``None`` when the timestamps prove unreliable (the caller then decodes in order)."""
        av = _av()
        out = np.empty((end - start + 1, self.height, self.width, 3), np.uint8)
        # Seek a little before the frame: some demuxers land on the keyframe after a timestamp on ties.
        target = start
        while True:
            self._container.seek(self._pts_of(max(target - 1, 0)), stream=self._stream, backward=True, any_frame=False)
            expected = None  # index of the next frame to store
            try:
                for frame in self._container.decode(self._stream):
                    if frame.pts is None:
                        return None
                    index = self._index_of(frame.pts)
                    if index is None:
                        return None
                    if expected is None:
                        if index > start:  # landed after the frame: seek further back
                            break
                        expected = index
                    if index != expected:  # a gap or a repeat: not a constant-rate timeline
                        return None
                    expected += 1
                    if index >= start:
                        out[index - start] = frame.to_ndarray(format="rgb24")
                        if index == end:
                            return out
                else:
                    raise VideoError(
                        f"{self.path} ends after frame {expected - 1 if expected is not None else '?'} although its header "
                        f"announces {self.frame_count} frames (the file is truncated or corrupt)"
                    )
            except av.FFmpegError as error:
                raise VideoError(f"cannot decode {self.path} near frame {start}: {error} (the file is corrupt or truncated)") from error
            if target == 0:
                return None  # even the first keyframe comes after the frame: timestamps are unusable
            target = max(target - max(int(round(self.fps * 4)), 1), 0) if target > 1 else 0

    def _read_sequential(self, start: int, end: int) -> np.ndarray:
        """Decodes from the beginning and counts presented frames: slow, exact for any timeline."""
        av = _av()
        out = np.empty((end - start + 1, self.height, self.width, 3), np.uint8)
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        index = -1
        try:
            for index, frame in enumerate(self._container.decode(self._stream)):
                if index >= start:
                    out[index - start] = frame.to_ndarray(format="rgb24")
                    if index == end:
                        return out
        except av.FFmpegError as error:
            raise VideoError(f"cannot decode {self.path} after frame {index}: {error} (the file is corrupt or truncated)") from error
        raise VideoError(
            f"{self.path} ends after {index + 1} frames although its header announces {self.frame_count} "
            f"(the file is truncated or corrupt)"
        )

    def __iter__(self):
        """All frames in order, one ``uint8 [H, W, 3]`` array at a time."""
        av = _av()
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        count = 0
        try:
            for frame in self._container.decode(self._stream):
                count += 1
                yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            raise VideoError(f"cannot decode {self.path} after frame {count - 1}: {error} (the file is corrupt or truncated)") from error
        if count < self.frame_count:
            raise VideoError(
                f"{self.path} ends after {count} frames although its header announces {self.frame_count} "
                f"(the file is truncated or corrupt)"
            )

    # -- timestamps ------------------------------------------------------------------------------------
    def _pts_of(self, index: int) -> int:
        return self._first_pts + int(math.floor(Fraction(index) / self._rate / self._time_base))

    def _index_of(self, pts: int) -> int | None:
        """Frame index of a timestamp, or ``None`` when it lies far from the constant-rate grid."""
        position = Fraction(pts - self._first_pts) * self._time_base * self._rate
        index = round(position)
        if abs(position - index) > Fraction(1, 4) or index < 0:
            return None
        return int(index)

    def _duration_matches_count(self) -> bool:
        if self._stream.duration is None:
            return True  # nothing to compare; reads still check that decoded timestamps are consecutive
        frames = Fraction(self._stream.duration) * self._time_base * self._rate
        return abs(frames - self.frame_count) <= 1

    def _probe_first_pts(self) -> int:
        """Timestamp of the first presented frame (decoding it: the stream's start time may be an edit-list value)."""
        av = _av()
        try:
            for frame in self._container.decode(self._stream):
                if frame.pts is not None:
                    return int(frame.pts)
                break
        except av.FFmpegError as error:
            raise VideoError(f"cannot decode the first frame of {self.path}: {error} (the file is corrupt or truncated)") from error
        if self._stream.start_time is None:
            raise VideoError(f"{self.path}: no decodable frame (the file is empty, corrupt or truncated)")
        return int(self._stream.start_time)

    def _count_frames(self) -> int:
        """Counts the video packets when the header does not say how many frames there are."""
        av = _av()
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        try:
            count = sum(1 for packet in self._container.demux(self._stream) if packet.size > 0)
        except av.FFmpegError as error:
            raise VideoError(f"cannot read {self.path}: {error} (the file is corrupt or truncated)") from error
        if count == 0:
            raise VideoError(f"{self.path} contains no video frames")
        return count


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
            av = _av()
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
        av = _av()
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


def read_clip(path: str | Path) -> np.ndarray:
    """All frames of a clip file (a video, or a ``.npy`` array) as ``uint8 [T, H, W, 3]`` RGB."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"clip file not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            frames = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise VideoError(f"cannot read {path}: {error} (the file is corrupt or truncated)") from error
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"{path} must hold a uint8 [T, H, W, 3] array, got {frames.dtype} {list(frames.shape)}")
        return frames
    with VideoReader(path) as video:
        frames = list(video)
    if not frames:
        raise VideoError(f"{path} contains no decodable frames")
    return np.stack(frames)
