"""Which clips an extraction run makes: one per annotated segment, with its label, split and subject.

Labels and splits are decided here, from the source's annotations, every run; the expensive outputs
(keypoints, crops, saliency boxes) come from the per-video records. So editing ``classes.csv``,
``subjects.csv`` or ``hidden_labels.csv`` and rerunning refreshes the manifest without re-extracting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mgfast.io.dataset import ClassInfo


@dataclass(frozen=True)
class PlannedClip:
    """A clip to extract: one annotated segment of one video (frames inclusive)."""

    clip_id: str
    video: str
    subject: str
    start: int
    end: int
    label: int | None
    split: str
    hidden_label: int | None


def load_classes(src: Path) -> list[ClassInfo]:
    """The source's ``classes.csv`` (code,name) when present, else the 32 MiGA codes (1-31 and 99)."""
    from mgfast.io import annotations

    path = src / "classes.csv"
    return annotations.read_classes_csv(path) if path.is_file() else annotations.default_classes()


def class_index_by_code(classes: Sequence[ClassInfo]) -> dict[int, int]:
    return {c.code: c.index for c in classes}


def plan_video(source, index_of_code: dict[int, int], hidden: dict[str, int]) -> list[PlannedClip]:
    """The clips of one :class:`mgfast.io.sources.VideoSource`.

    A segment with a class code is a labelled ``train`` clip; one without (a test label file) is an
    unlabelled ``test`` clip whose ``hidden_label`` comes from ``hidden_labels.csv`` when listed there.
    Raises ``ValueError`` naming the video and segment for codes outside the class list.
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
    return clips


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
