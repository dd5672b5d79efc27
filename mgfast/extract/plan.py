"""Which clips an extraction run makes: one per annotated segment, with its label, split and subject, and,
when asked, background ("no gesture") windows cut from the unannotated spans of labelled videos.

Labels and splits are decided here, from the source's annotations, every run; the expensive outputs
(keypoints, crops, saliency boxes) come from the per-video records. So editing ``classes.csv``,
``subjects.csv`` or ``hidden_labels.csv`` and rerunning refreshes the manifest without re-extracting.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgfast.extract.options import BackgroundOptions
from mgfast.io.dataset import BACKGROUND, SEGMENT, ClassInfo


@dataclass(frozen=True)
class PlannedClip:
    """A clip to extract: one annotated segment, or one background window, of one video (frames inclusive)."""

    clip_id: str
    video: str
    subject: str
    start: int
    end: int
    label: int | None
    split: str
    hidden_label: int | None
    kind: str = SEGMENT


def load_classes(src: Path) -> list[ClassInfo]:
    """The source's ``classes.csv`` (code,name) when present, else the 32 MiGA codes (1-31 and 99)."""
    from mgfast.io import annotations

    path = src / "classes.csv"
    return annotations.read_classes_csv(path) if path.is_file() else annotations.default_classes()


def class_index_by_code(classes: Sequence[ClassInfo]) -> dict[int, int]:
    return {c.code: c.index for c in classes}


def plan_video(source, index_of_code: dict[int, int], hidden: dict[str, int],
               background: BackgroundOptions | None = None) -> list[PlannedClip]:
    """The clips of one :class:`mgfast.io.sources.VideoSource`.

    A segment with a class code is a labelled ``train`` clip; one without (a test label file) is an
    unlabelled ``test`` clip whose ``hidden_label`` comes from ``hidden_labels.csv`` when listed there.
    With ``background``, a labelled video also gets the windows of :func:`plan_background` (the video is
    opened to learn its length). Raises ``ValueError`` naming the video and segment for codes outside the
    class list, or naming the video when it cannot be opened.
    """
    clips = []
    for segment in source.segments:
        clip_id = source.clip_id(segment)
        label = _index(segment.code, index_of_code, f"video {source.video_id}, segment {segment.number}")
        hidden_label = _index(hidden.get(clip_id), index_of_code, f"hidden_labels.csv, clip {clip_id}")
        clips.append(PlannedClip(
            clip_id=clip_id, video=source.video_id, subject=source.subject, start=int(segment.start),
            end=int(segment.end), label=label, split="test" if label is None else "train", hidden_label=hidden_label,
        ))
    if background is not None and source.labelled:
        clips += plan_background(source, video_frame_count(source.video_path), background)
    return clips


def plan_background(source, frames: int, options: BackgroundOptions) -> list[PlannedClip]:
    """The background clips of a labelled video of ``frames`` frames: unlabelled ``train`` clips of kind
    ``background`` named ``<video>_bg<k>`` (k = 1, 2, ... in drawing order), at :func:`background_windows`."""
    windows = background_windows([(s.start, s.end) for s in source.segments], frames, ratio=options.ratio,
                                 gap=options.gap, length=options.length, seed=video_seed(source.video_id))
    return [PlannedClip(clip_id=background_clip_id(source.video_id, k), video=source.video_id, subject=source.subject,
                        start=start, end=end, label=None, split="train", hidden_label=None, kind=BACKGROUND)
            for k, (start, end) in enumerate(windows, start=1)]


def background_clip_id(video_id: str, number: int) -> str:
    """``<video>_bg<number>``: never a segment's id, which ends in ``_<number>``."""
    return f"{video_id}_bg{number}"


def video_seed(video_id: str) -> int:
    """A seed that depends on the video id alone, so reruns, shards and the merge draw the same windows."""
    return int.from_bytes(hashlib.sha256(f"background\0{video_id}".encode()).digest()[:8], "little")


def free_spans(segments: Sequence[tuple[int, int]], frames: int, gap: int) -> list[tuple[int, int]]:
    """The maximal runs of frames in ``[0, frames)`` at least ``gap`` frames from every segment (segments and
    spans inclusive ``(first, last)``), in frame order."""
    spans, cursor = [], 0
    for first, last in sorted(segments):
        blocked_from = min(max(first - gap, 0), frames)
        if blocked_from > cursor:
            spans.append((cursor, blocked_from - 1))
        cursor = max(cursor, last + gap + 1)
    if cursor < frames:
        spans.append((cursor, frames - 1))
    return spans


def background_windows(segments: Sequence[tuple[int, int]], frames: int, *, ratio: float, gap: int,
                       length: int | None, seed: int) -> list[tuple[int, int]]:
    """Background windows (inclusive ``(first, last)``) of a video of ``frames`` frames, in drawing order.

    ``ratio * len(segments)`` draws (rounded half up): each takes a length (``length``, or that of a segment of the
    video picked at random, so background clips last as long as real ones and length tells the branches
    nothing), then a start uniformly among those that keep the window inside the free spans
    (:func:`free_spans`) and off the windows drawn before. A draw whose length fits nowhere is dropped, so
    a video with little free span gets fewer windows. Window k depends only on the draws up to k, so a
    larger ratio keeps the windows of a smaller one (and their extracted files).
    """
    if not segments:
        return []
    count = math.floor(ratio * len(segments) + 0.5)
    lengths = [last - first + 1 for first, last in segments]
    rng = np.random.default_rng(seed)
    spans = free_spans(segments, frames, gap)
    windows: list[tuple[int, int]] = []
    for _ in range(count):
        want = length if length is not None else lengths[int(rng.integers(len(lengths)))]
        starts = [max(last - first + 2 - want, 0) for first, last in spans]  # valid starts per span
        total = sum(starts)
        if total == 0:
            continue
        pick = int(rng.integers(total))
        for i, n in enumerate(starts):
            if pick < n:
                break
            pick -= n
        first, last = spans[i]
        window = (first + pick, first + pick + want - 1)
        spans[i:i + 1] = [s for s in ((first, window[0] - 1), (window[1] + 1, last)) if s[0] <= s[1]]
        windows.append(window)
    return windows


def video_frame_count(path: Path) -> int:
    """The frame count extraction reads ``path`` with; ``ValueError`` naming the file when it cannot be opened."""
    from mgfast.io.video import VideoError, VideoReader

    try:
        with VideoReader(path) as reader:
            return reader.frame_count
    except (VideoError, OSError) as error:
        raise ValueError(f"{path}: cannot be opened to place background windows ({error}); fix or remove the "
                         "video") from None


def _index(code: int | None, index_of_code: dict[int, int], where: str) -> int | None:
    if code is None:
        return None
    if code not in index_of_code:
        known = ", ".join(str(c) for c in sorted(index_of_code))
        raise ValueError(f"{where}: class code {code} is not among the classes ({known}); fix the label or classes.csv")
    return index_of_code[code]


def select_shard(sources: Sequence, shard: tuple[int, int] | None) -> list:
    """Shard ``i/n`` (1-based) of the videos sorted by id: every n-th video starting at the i-th.

    Deterministic for a given source, and interleaved so that shards get similar mixes of videos.
    """
    ordered = sorted(sources, key=lambda s: s.video_id)
    if shard is None:
        return ordered
    index, count = shard
    return ordered[index - 1::count]
