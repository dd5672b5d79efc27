"""Reading video files: frame-exact random access (:class:`VideoReader`) and whole clips (:func:`read_clip`).

Frame ``i`` of a video is the ``i``-th frame (0-based) that a sequential decode presents, which is what
annotation files count. :class:`VideoReader` reaches it without decoding the whole file: it seeks to the
keyframe at or before the frame's timestamp and decodes forward, identifying frames by their presentation
timestamps. Files whose timestamps do not follow a constant frame rate are detected and read sequentially
instead, so results stay exact.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from mgfast.io.video.pyav import import_av


class VideoError(RuntimeError):
    """A video file cannot be read: missing streams, truncated or corrupt data, or frames past its end."""


class VideoReader:
    """Random access to the frames of one video file, as RGB ``uint8`` arrays.

    Use as a context manager (or call :meth:`close`)::

        with VideoReader("0001.mp4") as video:
            clip = video.read(120, 151)  # frames 120..151 inclusive, [32, H, W, 3]

    Attributes:
        path: the file.
        frame_count: number of presented frames, from the stream metadata, or counted when the metadata lacks
            it or an edit list hides some of the stored frames.
        fps: frames per second (the stream's average rate).
        width, height: frame size in pixels.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        av = import_av()
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
            self._live = None  # a decode in progress that a following read may continue, and its next index
            self._live_next: int | None = None
            self._first_pts = self._probe_first_pts()
            # The header counts every stored frame; an edit list (a stream-copied cut) hides the frames
            # before its start, so a header that disagrees with the duration is checked by counting packets.
            header = int(self._stream.frames)
            self.frame_count = header if header and self._duration_matches(header) else self._count_frames()
            # Seeking maps frame indices to timestamps on a constant-rate grid; a stream whose duration
            # disagrees with its frame count has a variable rate and is read in decode order instead.
            self._sequential = not self._duration_matches(self.frame_count)
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
    def read(self, start: int, end: int, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Frames ``start..end`` (both inclusive, 0-based) as ``uint8 [end - start + 1, H, W, 3]`` RGB.

        ``region`` ``(x0, y0, x1, y1)`` (pixels, end exclusive) converts only that rectangle to RGB, widened
        to even coordinates (the chroma grid); the other pixels are 0. Its pixels equal a full read's, so a
        crop that samples only inside the rectangle is unchanged, and a small box costs a fraction of the
        colour conversion. (Frames in other pixel formats than yuv420p/yuvj420p are converted whole.)
        """
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, (int, np.integer)) or not isinstance(end, (int, np.integer)):
            raise TypeError(f"read(start, end) takes integer frame indices, got {start!r}, {end!r}")
        start, end = int(start), int(end)
        if start < 0 or end < start:
            raise ValueError(f"read({start}, {end}) on {self.path}: need 0 <= start <= end")
        if end >= self.frame_count:
            raise VideoError(
                f"{self.path} has {self.frame_count} frames (0..{self.frame_count - 1}); frames {start}..{end} were requested"
            )
        converter = _RgbConverter(self.width, self.height, region)
        out = converter.output(end - start + 1)
        if not self._sequential:
            if self._read_seeking(start, end, out, converter):
                return out
            self._sequential = True
        self._read_sequential(start, end, out, converter)
        return out

    def _seek(self, pts: int) -> None:
        self._live = None  # the decoder's position is lost
        self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)

    def _read_seeking(self, start: int, end: int, out: np.ndarray, converter: _RgbConverter) -> bool:
        """Seek-and-decode read into ``out``; ``False`` when the timestamps prove unreliable (the caller then
        decodes in order).

        A read that starts shortly after the previous one ended goes on decoding instead of seeking: clips
        sorted by start (extraction) then decode each frame once and skip the decoder's restart.
        """
        av = import_av()
        # Seek a little before the frame: some demuxers land on the keyframe after a timestamp on ties.
        target = start
        while True:
            if self._live is None or not 0 <= start - self._live_next <= max(int(round(self.fps)), 1):
                self._seek(self._pts_of(max(target - 1, 0)))
                self._live, self._live_next = self._container.decode(self._stream), None
            expected = self._live_next  # index of the next frame to store
            try:
                for frame in self._live:
                    if frame.pts is None:
                        self._live = None
                        return False
                    index = self._index_of(frame.pts)
                    if index is None:
                        self._live = None
                        return False
                    if expected is None:
                        if index > start:  # landed after the frame: seek further back
                            break
                        expected = index
                    if index != expected:  # a gap or a repeat: not a constant-rate timeline
                        self._live = None
                        return False
                    expected += 1
                    if index >= start:
                        converter.store(frame, out[index - start])
                        if index == end:
                            self._live_next = end + 1
                            return True
                else:
                    self._live = None
                    raise VideoError(
                        f"{self.path} ends after frame {expected - 1 if expected is not None else '?'} although its header "
                        f"announces {self.frame_count} frames (the file is truncated or corrupt)"
                    )
            except av.FFmpegError as error:
                self._live = None
                raise VideoError(f"cannot decode {self.path} near frame {start}: {error} (the file is corrupt or truncated)") from error
            self._live = None
            if target == 0:
                return False  # even the first keyframe comes after the frame: timestamps are unusable
            target = max(target - max(int(round(self.fps * 4)), 1), 0) if target > 1 else 0

    def _read_sequential(self, start: int, end: int, out: np.ndarray, converter: _RgbConverter) -> None:
        """Decodes from the beginning into ``out`` and counts presented frames: slow, exact for any timeline."""
        av = import_av()
        self._seek(0)
        index = -1
        try:
            for index, frame in enumerate(self._container.decode(self._stream)):
                if index >= start:
                    converter.store(frame, out[index - start])
                    if index == end:
                        return
        except av.FFmpegError as error:
            raise VideoError(f"cannot decode {self.path} after frame {index}: {error} (the file is corrupt or truncated)") from error
        raise VideoError(
            f"{self.path} ends after {index + 1} frames although its header announces {self.frame_count} "
            f"(the file is truncated or corrupt)"
        )

    def __iter__(self):
        """All frames in order, one ``uint8 [H, W, 3]`` array at a time."""
        av = import_av()
        self._seek(0)
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

    def _duration_matches(self, count: int) -> bool:
        if self._stream.duration is None:
            return True  # nothing to compare; reads still check that decoded timestamps are consecutive
        frames = Fraction(self._stream.duration) * self._time_base * self._rate
        return abs(frames - count) <= 1

    def _probe_first_pts(self) -> int:
        """Timestamp of the first presented frame (decoding it: the stream's start time may be an edit-list value)."""
        av = import_av()
        self._live = None
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
        """Counts the presented video packets (those an edit list does not discard), without decoding."""
        av = import_av()
        self._seek(0)
        try:
            count = sum(1 for packet in self._container.demux(self._stream) if packet.size > 0 and not packet.is_discard)
        except av.FFmpegError as error:
            raise VideoError(f"cannot read {self.path}: {error} (the file is corrupt or truncated)") from error
        if count == 0:
            raise VideoError(f"{self.path} contains no video frames")
        return count


class _RgbConverter:
    """Converts decoded frames to RGB, all of each frame or only a rectangle of it.

    A rectangle is converted by swscale from the frame's yuv420p planes cut to it, at even coordinates so
    that the chroma samples stay the same: the same conversion as a whole frame's, restricted to it.
    """

    def __init__(self, width: int, height: int, region: tuple[int, int, int, int] | None) -> None:
        self.shape = (height, width, 3)
        self.region = None
        self._cut = None  # the frame the rectangle's planes are copied into
        if region is not None and width % 2 == 0 and height % 2 == 0:  # odd sizes: chroma planes do not split evenly
            x0, y0, x1, y1 = (int(v) for v in region)
            x0, y0 = max(x0 - x0 % 2, 0), max(y0 - y0 % 2, 0)
            x1, y1 = min(x1 + x1 % 2, width), min(y1 + y1 % 2, height)
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"region {region} lies outside the {width}x{height} frame")
            if (x1 - x0, y1 - y0) != (width, height):
                self.region = (x0, y0, x1, y1)

    def output(self, count: int) -> np.ndarray:
        return np.zeros((count, *self.shape), np.uint8) if self.region else np.empty((count, *self.shape), np.uint8)

    def store(self, frame, out: np.ndarray) -> None:
        if self.region is None or frame.format.name not in ("yuv420p", "yuvj420p"):
            _copy_rgb(frame, out)
            return
        x0, y0, x1, y1 = self.region
        if self._cut is None or self._cut.format.name != frame.format.name:
            self._cut = import_av().VideoFrame(x1 - x0, y1 - y0, frame.format.name)  # reused: one allocation per read
        cut = self._cut
        for source, target, scale in zip(frame.planes, cut.planes, (1, 2, 2)):
            rows = np.frombuffer(source, np.uint8).reshape(-1, source.line_size)
            into = np.frombuffer(target, np.uint8).reshape(-1, target.line_size)
            width, height = (x1 - x0) // scale, (y1 - y0) // scale
            into[:height, :width] = rows[y0 // scale:y0 // scale + height, x0 // scale:x0 // scale + width]
        cut.colorspace, cut.color_range = frame.colorspace, frame.color_range
        _copy_rgb(cut, out[y0:y1, x0:x1])


def _copy_rgb(frame, out: np.ndarray) -> None:
    """Converts ``frame`` to RGB (swscale, as ``to_ndarray(format="rgb24")``) straight into ``out`` [h, w, 3]."""
    rgb = frame.reformat(format="rgb24").planes[0]
    height, width = out.shape[:2]
    out[:] = np.frombuffer(rgb, np.uint8).reshape(-1, rgb.line_size)[:height, :width * 3].reshape(height, width, 3)


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
