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
        av = import_av()
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
        av = import_av()
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
        av = import_av()
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

    def _duration_matches(self, count: int) -> bool:
        if self._stream.duration is None:
            return True  # nothing to compare; reads still check that decoded timestamps are consecutive
        frames = Fraction(self._stream.duration) * self._time_base * self._rate
        return abs(frames - count) <= 1

    def _probe_first_pts(self) -> int:
        """Timestamp of the first presented frame (decoding it: the stream's start time may be an edit-list value)."""
        av = import_av()
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
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        try:
            count = sum(1 for packet in self._container.demux(self._stream) if packet.size > 0 and not packet.is_discard)
        except av.FFmpegError as error:
            raise VideoError(f"cannot read {self.path}: {error} (the file is corrupt or truncated)") from error
        if count == 0:
            raise VideoError(f"{self.path} contains no video frames")
        return count


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
