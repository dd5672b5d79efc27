"""Per-video records: what extraction has finished, so reruns skip it and the manifest can be rebuilt.

``DATASET/records/<video>.json`` lists the clips of one video whose keypoints and crop are on disk, as
manifest rows (:class:`mgfast.io.dataset.Clip`), with the parameters they were made with. It is rewritten
atomically after each clip, so an interrupted run loses at most the clip in progress; a clip counts as done
only when the record lists it with the same frames and parameters and its files exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mgfast.extract.plan import PlannedClip
from mgfast.io.atomic import atomic_write_text
from mgfast.io.dataset import Clip

RECORDS_DIR = "records"
RECORD_FORMAT = "mgfast-extract-record"


@dataclass
class VideoRecord:
    video: str
    params: dict
    keypoint_source: str | None = None
    clips: dict[str, Clip] = field(default_factory=dict)
    # Background windows that could not be cut (past the end of the pose table): clip id -> (start, end).
    dropped: dict[str, tuple[int, int]] = field(default_factory=dict)

    def done(self, root: Path, planned: PlannedClip) -> Clip | None:
        """The recorded clip when it matches ``planned``'s frames and its files exist, else ``None``."""
        clip = self.clips.get(planned.clip_id)
        if clip is None or (clip.start, clip.end) != (planned.start, planned.end):
            return None
        paths = [clip.keypoints] + ([clip.crop] if clip.crop is not None else [])
        if not all((root / p).is_file() for p in paths):
            return None
        return clip


def record_path(root: Path, video: str) -> Path:
    return root / RECORDS_DIR / f"{video}.json"


def load_record(root: Path, video: str, params: dict) -> VideoRecord | None:
    """The video's record if it exists and was made with ``params``; ``None`` otherwise (start afresh)."""
    path = record_path(root, video)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("format") != RECORD_FORMAT or data.get("params") != _canonical(params):
            return None
        clips = {}
        for row in data["clips"]:
            row = dict(row, box=tuple(row["box"]))
            clips[row["clip_id"]] = Clip(**row)
        dropped = {cid: (int(start), int(end)) for cid, (start, end) in data.get("dropped", {}).items()}
        return VideoRecord(video, params, data.get("keypoint_source"), clips, dropped)
    except (ValueError, KeyError, TypeError):
        return None  # unreadable (e.g. edited by hand): the video is redone and the record rewritten


def save_record(root: Path, record: VideoRecord) -> None:
    data = {
        "format": RECORD_FORMAT, "video": record.video, "params": _canonical(record.params),
        "keypoint_source": record.keypoint_source,
        "clips": [dict(asdict(c), box=list(c.box)) for c in sorted(record.clips.values(), key=lambda c: c.clip_id)],
        "dropped": {cid: list(span) for cid, span in sorted(record.dropped.items())},
    }
    atomic_write_text(record_path(root, record.video), json.dumps(data, indent=1) + "\n")


def _canonical(params: dict) -> dict:
    """``params`` as it reads back from JSON (tuples become lists), so stored and current values compare equal."""
    return json.loads(json.dumps(params))
