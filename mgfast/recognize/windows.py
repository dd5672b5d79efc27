"""Sliding windows over an untrimmed video, and per-frame probabilities from the windows' probabilities.

Windows are half-open frame ranges ``[start, end)`` of ``length`` frames, ``stride`` frames apart, from frame
0; the last window is moved back to end at the video's last frame, so every frame is covered and no window
reaches past the end (a video shorter than ``length`` is one window of all its frames). A frame's
probabilities are the plain mean of the probabilities of every window that covers it (uniform weights: a
window's label describes all its frames alike, and the centre-weighted alternative only shifts boundaries by
less than a stride).
"""

from __future__ import annotations

import numpy as np


def check_window(length: int, stride: int) -> None:
    """``ValueError`` naming the option when the window length or stride is unusable."""
    for name, value in (("window length", length), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"the {name} must be a whole number of frames >= 1, got {value!r} (--window / --stride)")
    if stride > length:
        raise ValueError(f"the stride ({stride}) is longer than the window ({length}): frames between windows "
                         "would get no probabilities; choose --stride <= --window")


def plan_windows(frames: int, length: int, stride: int) -> np.ndarray:
    """int64 ``[N, 2]``: the ``(start, end)`` of each window, half-open, in time order (module docstring)."""
    check_window(length, stride)
    if frames < 1:
        raise ValueError(f"a video needs at least one frame to plan windows, got {frames}")
    if frames <= length:
        return np.array([[0, frames]], dtype=np.int64)
    starts = np.arange(0, frames - length + 1, stride, dtype=np.int64)
    if starts[-1] + length < frames:
        starts = np.append(starts, frames - length)
    return np.stack([starts, starts + length], axis=1)


def frame_probabilities(window_probs: np.ndarray, windows: np.ndarray, frames: int) -> np.ndarray:
    """float64 ``[frames, C]``: per frame the mean of the probabilities ``[N, C]`` of the windows covering it."""
    window_probs = np.asarray(window_probs, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.int64)
    if window_probs.ndim != 2 or windows.shape != (len(window_probs), 2):
        raise ValueError(f"need one [start, end) per row of probabilities, got windows {windows.shape} and "
                         f"probabilities {window_probs.shape}")
    # Difference arrays: +p at each start, -p at each end; the running sums are the totals and the counts.
    total = np.zeros((frames + 1, window_probs.shape[1]))
    count = np.zeros(frames + 1)
    np.add.at(total, windows[:, 0], window_probs)
    np.add.at(total, windows[:, 1], -window_probs)
    np.add.at(count, windows[:, 0], 1)
    np.add.at(count, windows[:, 1], -1)
    total, count = np.cumsum(total, axis=0)[:frames], np.cumsum(count)[:frames]
    if (count <= 0).any():
        raise ValueError(f"frame {int(np.flatnonzero(count <= 0)[0])} lies in no window")
    return total / count[:, None]


def default_window(clip_len: int, segment_frames: list[int] | None) -> tuple[int, int]:
    """(length, stride): the training segments' median length (the branch's clip length when unknown), and a
    quarter of it."""
    length = int(np.median(segment_frames)) if segment_frames else int(clip_len)
    length = max(length, 1)
    return length, max(1, length // 4)
