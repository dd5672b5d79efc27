"""``--render``: the video with its skeleton and the current recognised label drawn on every frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mgfast.io.dataset import ClassInfo
from mgfast.layout import MG68
from mgfast.recognize.decode import Segment

MIN_SCORE = 0.1  # points below this confidence are not drawn (as the saliency box ignores them)


def frame_labels(segments: list[Segment], frames: int) -> np.ndarray:
    """Per frame the index into ``segments`` of the segment holding it (-1 for none; later ones win)."""
    owner = np.full(frames, -1, dtype=np.int64)
    for i, s in enumerate(segments):
        owner[s.start : s.end] = i
    return owner


def draw_frame(frame: np.ndarray, points: np.ndarray, text: str | None) -> np.ndarray:
    """A copy of RGB ``frame`` with the mg68 skeleton of ``points`` ``[68, 3]`` and ``text`` at the top."""
    out = np.ascontiguousarray(frame).copy()
    seen = (points[:, 2] >= MIN_SCORE) & np.isfinite(points[:, :2]).all(1)
    xy = np.round(np.nan_to_num(points[:, :2])).astype(np.int32)
    for a, b in MG68.limbs:
        if seen[a] and seen[b]:
            cv2.line(out, tuple(map(int, xy[a])), tuple(map(int, xy[b])), (0, 255, 0), 1, cv2.LINE_AA)
    for p in np.flatnonzero(seen):
        cv2.circle(out, tuple(map(int, xy[p])), 1, (255, 64, 64), -1, cv2.LINE_AA)
    if text:
        scale = max(0.3, out.shape[0] / 480)
        cv2.putText(out, text, (4, int(16 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), 1,
                    cv2.LINE_AA)
    return out


def render_video(video: Path, keypoints: np.ndarray, segments: list[Segment], classes: list[ClassInfo],
                 out: Path) -> Path:
    """Writes ``out`` (H.264, atomically): each frame of ``video`` with its skeleton and current label."""
    from mgfast.io.video import VideoReader, VideoWriter

    with VideoReader(video) as reader:
        owner = frame_labels(segments, reader.frame_count)
        width, height = reader.width - reader.width % 2, reader.height - reader.height % 2
        with VideoWriter(out, width=width, height=height, fps=reader.fps, preset="veryfast") as writer:
            for t, frame in enumerate(reader):
                if t >= len(keypoints):
                    break
                s = segments[owner[t]] if owner[t] >= 0 else None
                text = None if s is None else f"{classes[s.label].code} {classes[s.label].name} ({s.score:.2f})"
                writer.write(draw_frame(frame, keypoints[t], text)[:height, :width])
    return out
