"""Finding the videos, segment annotations and pose files of a source folder.

:func:`discover` accepts two layouts:

(a) the MiGA / iMiGUE challenge layout, one folder per video::

        SRC/<id>/<id>.mp4                   the untrimmed video (.mp4, .avi, .mov or .mkv)
        SRC/<id>/<id>_label.csv             segments: class,start_frame,end_frame (required)
        SRC/<id>/<id>_openpose.csv|xlsx     OpenPose 137-point table (optional; .csv wins over .xlsx)
        SRC/<id>/<id>_json/ or json/        OpenPose JSON folder (optional, used when there is no table)

(b) a plain folder of videos with one annotation file, used whenever ``SRC/annotations.csv`` exists::

        SRC/<name>.mp4 ...                  videos (.mp4, .avi, .mov or .mkv); the video id is the file stem
        SRC/annotations.csv                 video,start,end[,label]; video with or without its extension
        SRC/<name>_openpose.csv|xlsx, SRC/<name>_json/    optional pose files, as in (a)

Videos that ``annotations.csv`` does not mention have no segments and are left out. In both layouts, a video
without pose files gets ``pose_path`` None, and the extractor runs a pose backend on it.

Optional files in either layout: ``SRC/subjects.csv`` (video,subject; every video must be listed, otherwise
each video is its own subject), ``SRC/classes.csv`` (code,name; otherwise the 32 MiGA classes) and
``SRC/hidden_labels.csv`` (clip_id,code: true labels of unlabelled clips, for evaluation only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from mgfast.io.annotations import Segment, default_classes, read_annotation_csv, read_classes_csv, read_miga_labels
from mgfast.io.csvfile import csv_rows, header_key, parse_int
from mgfast.io.dataset import ClassInfo

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
ANNOTATIONS_FILE = "annotations.csv"
SUBJECTS_FILE = "subjects.csv"
CLASSES_FILE = "classes.csv"
HIDDEN_LABELS_FILE = "hidden_labels.csv"

PoseKind = Literal["table", "openpose_json"]

LAYOUTS_TEXT = (
    "mgfast reads (a) the MiGA layout SRC/<id>/<id>.mp4 with SRC/<id>/<id>_label.csv (and optionally "
    "<id>_openpose.xlsx|csv or an OpenPose JSON folder <id>_json/), or (b) a folder of videos "
    f"({', '.join(VIDEO_SUFFIXES)}) with SRC/{ANNOTATIONS_FILE} (header video,start,end[,label])"
)


@dataclass(frozen=True)
class VideoSource:
    """One untrimmed video with its segments and, when the source has them, its OpenPose keypoints."""

    video_id: str
    video_path: Path
    subject: str
    segments: list[Segment]
    pose_path: Path | None
    pose_kind: PoseKind | None
    problem: str | None = None  # why the video cannot be extracted (its label file), found by discover()

    @property
    def labelled(self) -> bool:
        """Whether the segments carry class codes (a video is all labelled or all unlabelled)."""
        return any(s.code is not None for s in self.segments)

    def clip_id(self, segment: Segment) -> str:
        return clip_id(self.video_id, segment.number)


def clip_id(video_id: str, number: int) -> str:
    """The clip id of the challenge's submissions: ``<video id>_<segment number>``, e.g. ``0054_12``."""
    return f"{video_id}_{number}"


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _pose_files(folder: Path, stem: str, json_names: Sequence[str]) -> tuple[Path | None, PoseKind | None]:
    """The pose file of a video: a table (csv preferred, as the faster read) or an OpenPose JSON folder."""
    for suffix in (".csv", ".xlsx"):
        table = folder / f"{stem}_openpose{suffix}"
        if table.is_file():
            return table, "table"
    for name in json_names:
        json_dir = folder / name
        if json_dir.is_dir():
            if next(json_dir.glob("*_keypoints.json"), None) is None:
                raise ValueError(f"{json_dir}: no *_keypoints.json files; remove the empty folder or rerun OpenPose "
                                 "with --write_json into it")
            return json_dir, "openpose_json"
    return None, None


def source_classes(src: str | Path) -> list[ClassInfo]:
    """The classes of a source folder: ``SRC/classes.csv`` when present, else the 32 MiGA classes."""
    path = Path(src) / CLASSES_FILE
    return read_classes_csv(path) if path.is_file() else default_classes()


def _discover_folders(src: Path, classes: list[ClassInfo], keep_bad_labels: bool) -> list[VideoSource]:
    found = []
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")):
        video_id = folder.name
        videos = sorted(p for p in folder.iterdir() if p.stem == video_id and _is_video(p))
        label = folder / f"{video_id}_label.csv"
        if not videos:
            if label.is_file():
                raise FileNotFoundError(f"{folder}: {label.name} but no video {video_id}.mp4 "
                                        f"(or {', '.join(VIDEO_SUFFIXES[1:])}); add the video or remove the folder")
            continue
        if len(videos) > 1:
            raise ValueError(f"{folder}: several videos for {video_id} ({', '.join(p.name for p in videos)}); keep one")
        if not label.is_file():
            raise FileNotFoundError(f"{folder}: video {videos[0].name} has no label file; expected {label} "
                                    "(rows class,start_frame,end_frame; blank classes for a test video)")
        try:
            segments, problem = read_miga_labels(label, classes), None
        except ValueError as error:
            if not keep_bad_labels:
                raise
            segments, problem = [], f"{type(error).__name__}: {error}"
        pose_path, pose_kind = _pose_files(folder, video_id, (f"{video_id}_json", "json"))
        found.append(VideoSource(video_id, videos[0], video_id, segments, pose_path, pose_kind, problem))
    return found


def _discover_plain(src: Path, classes: list[ClassInfo]) -> list[VideoSource]:
    annotations = src / ANNOTATIONS_FILE
    by_name = {p.name: p for p in src.iterdir() if _is_video(p)}
    by_stem: dict[str, list[Path]] = {}
    for path in by_name.values():
        by_stem.setdefault(path.stem, []).append(path)
    found: dict[str, VideoSource] = {}
    named: dict[str, str] = {}  # video id -> the name annotations.csv used first
    for name, segments in read_annotation_csv(annotations, classes).items():
        candidates = [by_name[name]] if name in by_name else sorted(by_stem.get(name, []))
        if not candidates:
            listing = ", ".join(sorted(by_name)[:10]) or "none"
            raise FileNotFoundError(f"{annotations}: video {name!r} is not in {src} (videos there: {listing}); "
                                    "fix the name or add the file")
        if len(candidates) > 1:
            raise ValueError(f"{annotations}: video {name!r} matches {', '.join(p.name for p in candidates)}; "
                             "write the name with its extension")
        video = candidates[0]
        if video.stem in named:
            raise ValueError(f"{annotations}: {name!r} and {named[video.stem]!r} name the same video id {video.stem!r}; "
                             "use one name per video")
        named[video.stem] = name
        pose_path, pose_kind = _pose_files(src, video.stem, (f"{video.stem}_json",))
        found[video.stem] = VideoSource(video.stem, video, video.stem, segments, pose_path, pose_kind)
    return list(found.values())


def read_subjects(src: str | Path, video_ids: Sequence[str]) -> dict[str, str]:
    """Subject of each video from ``SRC/subjects.csv`` (video,subject; header optional), else the video id."""
    path = Path(src) / SUBJECTS_FILE
    if not path.is_file():
        return {v: v for v in video_ids}
    subjects: dict[str, tuple[str, int]] = {}
    for line, cells in csv_rows(path):
        where = f"{path}:{line}"
        if not subjects and [header_key(c) for c in cells] == ["video", "subject"]:
            continue
        if len(cells) != 2 or not all(cells):
            raise ValueError(f"{where}: expected video,subject, got {','.join(cells)!r}")
        video = Path(cells[0]).stem if Path(cells[0]).suffix.lower() in VIDEO_SUFFIXES else cells[0]
        if video in subjects and subjects[video][0] != cells[1]:
            raise ValueError(f"{where}: video {video!r} already has subject {subjects[video][0]!r} (line {subjects[video][1]})")
        subjects[video] = (cells[1], line)
    missing = [v for v in video_ids if v not in subjects]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ValueError(f"{path}: no subject for video {shown}; add a row video,subject for each")
    return {v: subjects[v][0] for v in video_ids}


def read_hidden_labels(src: str | Path) -> dict[str, int]:
    """True class codes of unlabelled clips from ``SRC/hidden_labels.csv`` (clip_id,code); {} when absent."""
    path = Path(src) / HIDDEN_LABELS_FILE
    if not path.is_file():
        return {}
    codes = {c.code for c in source_classes(src)}
    labels: dict[str, int] = {}
    lines: dict[str, int] = {}
    for line, cells in csv_rows(path):
        where = f"{path}:{line}"
        if not labels and [header_key(c) for c in cells] == ["clip_id", "code"]:
            continue
        if len(cells) != 2 or not all(cells):
            raise ValueError(f"{where}: expected clip_id,code, got {','.join(cells)!r}")
        code = parse_int(cells[1])
        if code not in codes:
            raise ValueError(f"{where}: {cells[1]!r} is not a class code of this source")
        if cells[0] in labels:
            raise ValueError(f"{where}: clip {cells[0]!r} already labelled on line {lines[cells[0]]}")
        labels[cells[0]], lines[cells[0]] = code, line
    return labels


def discover(src: str | Path, *, keep_bad_labels: bool = False) -> list[VideoSource]:
    """All videos of a source folder (see the module docstring), sorted by video id.

    A video whose label file cannot be read raises ValueError, or with ``keep_bad_labels`` is listed with no
    segments and the error in its ``problem`` (extraction fails that video alone, as a corrupt one).
    """
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"source folder {src} does not exist")
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is a file; pass the folder that holds the videos. {LAYOUTS_TEXT}")
    classes = source_classes(src)
    plain = (src / ANNOTATIONS_FILE).is_file()
    found = _discover_plain(src, classes) if plain else _discover_folders(src, classes, keep_bad_labels)
    if not found:
        loose = sorted(p.name for p in src.iterdir() if _is_video(p))
        shown = ", ".join(loose[:5]) + (", ..." if len(loose) > 5 else "")
        hint = f"{src} holds videos ({shown}) but no {ANNOTATIONS_FILE}. " if loose else ""
        raise ValueError(f"{src}: no videos found. {hint}{LAYOUTS_TEXT}")
    ids = [s.video_id for s in found]
    subjects = read_subjects(src, ids)
    return sorted((replace(s, subject=subjects[s.video_id]) for s in found), key=lambda s: s.video_id)
