"""The videos `mgfast recognize` reads: one video file, a folder of videos, or a folder in the MiGA layout.

Beside each video it looks for the files :mod:`mgfast.io.sources` knows: a pose file (``<id>_openpose.csv``
/ ``.xlsx`` or an OpenPose JSON folder) and a label file ``<id>_label.csv`` (optional here: recognition needs
no labels; ``--eval`` scores the videos that have one).
"""

from __future__ import annotations

from pathlib import Path

from mgfast.io.sources import VIDEO_SUFFIXES, VideoSource, _is_video, _pose_files


def label_file(source: VideoSource) -> Path:
    return source.video_path.parent / f"{source.video_id}_label.csv"


def _source(video: Path, json_names: tuple[str, ...]) -> VideoSource:
    pose_path, pose_kind = _pose_files(video.parent, video.stem, json_names)
    return VideoSource(video.stem, video, video.stem, [], pose_path, pose_kind)


def find_videos(path: str | Path) -> list[VideoSource]:
    """The videos at ``path``, sorted by id; ``FileNotFoundError`` naming the path when there are none."""
    path = Path(path)
    if path.is_file():
        if not _is_video(path):
            raise ValueError(f"{path} is not a video ({', '.join(VIDEO_SUFFIXES)}); pass a video or a folder of them")
        return [_source(path, (f"{path.stem}_json", "json"))]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist; pass a video file or a folder of videos")
    found = [_source(p, (f"{p.stem}_json",)) for p in sorted(path.iterdir()) if _is_video(p)]
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += [_source(p, (f"{folder.name}_json", "json")) for p in sorted(folder.iterdir())
                  if p.stem == folder.name and _is_video(p)]
    if not found:
        raise FileNotFoundError(f"{path} holds no videos ({', '.join(VIDEO_SUFFIXES)}), neither directly nor in "
                                "<id>/<id>.mp4 folders")
    ids = [s.video_id for s in found]
    doubles = sorted({i for i in ids if ids.count(i) > 1})
    if doubles:
        raise ValueError(f"{path}: several videos share the id {doubles[0]}; keep one per id")
    return sorted(found, key=lambda s: s.video_id)
