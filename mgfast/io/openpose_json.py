"""OpenPose JSON output: a folder with one ``*_keypoints.json`` file per frame.

Each file holds ``people``, a list of detected people with flat ``x, y, confidence`` lists
``pose_keypoints_2d`` (BODY_25, 75 values), ``face_keypoints_2d`` (70 points, 210 values) and
``hand_left_keypoints_2d`` / ``hand_right_keypoints_2d`` (21 points, 63 values each); OpenPose 1.0 wrote
the same lists without the ``_2d`` suffix, which is read too. They are stacked in the order of the 137-point
tables: body 0-24, face 25-94, left hand 95-115, right hand 116-136. A part that was not run (empty list)
is undetected (zeros).

Frames are ordered by the number in the file name (``video_000000000012_keypoints.json`` is frame 12) and
counted from the smallest number, so 0-based and 1-based numbering both start at the video's frame 0; a
missing number leaves an all-zero frame. An interview shows one subject: when a frame has several people,
the one with the highest mean body confidence is taken (the first of equals); a frame with nobody is zeros.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

NUM_POINTS = 137
PARTS = (("pose_keypoints_2d", 25), ("face_keypoints_2d", 70), ("hand_left_keypoints_2d", 21),
         ("hand_right_keypoints_2d", 21))
"""The keypoint lists of one person, in table order, with their point counts."""

_FRAME_NUMBER = re.compile(r"(\d+)\D*_keypoints\.json$")


def _part(person: dict, key: str, count: int, where: str) -> np.ndarray:
    values = person.get(key, person.get(key.removesuffix("_2d"), []))
    if not values:
        return np.zeros((count, 3))
    try:
        points = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} holds non-numbers") from None
    if points.shape != (3 * count,):
        raise ValueError(f"{where}: {key} has {points.size} values; expected {3 * count} ({count} points x, y, confidence)")
    return points.reshape(count, 3)


def read_openpose_frame(path: str | Path) -> np.ndarray:
    """One OpenPose JSON file as float64 ``[137, 3]``: the most confident person, or zeros when nobody."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not an OpenPose JSON file ({error})") from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise ValueError(f"{path}: no 'people' list; expected OpenPose's *_keypoints.json output")
    best, best_score = np.zeros((NUM_POINTS, 3)), -1.0
    for k, person in enumerate(people):
        where = f"{path}: person {k}"
        if not isinstance(person, dict):
            raise ValueError(f"{where} is not an object")
        points = np.concatenate([_part(person, key, count, where) for key, count in PARTS])
        score = float(points[:25, 2].mean())
        if score > best_score:
            best, best_score = points, score
    best[~np.isfinite(best).all(axis=1)] = 0.0
    return best


def read_openpose_json_dir(directory: str | Path) -> np.ndarray:
    """All ``*_keypoints.json`` files of a folder as float32 ``[F, 137, 3]`` (see the module docstring)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"OpenPose JSON folder {directory} does not exist")
    numbered: dict[int, Path] = {}
    for path in directory.glob("*_keypoints.json"):
        match = _FRAME_NUMBER.search(path.name)
        if match is None:
            raise ValueError(f"{path}: no frame number in the file name; OpenPose names files <name>_<frame>_keypoints.json")
        number = int(match.group(1))
        if number in numbered:
            raise ValueError(f"{path} and {numbered[number]} both claim frame {number}; keep one OpenPose run per folder")
        numbered[number] = path
    if not numbered:
        raise ValueError(f"{directory}: no *_keypoints.json files; point to the folder OpenPose wrote with --write_json")
    first = min(numbered)
    frames = np.zeros((max(numbered) - first + 1, NUM_POINTS, 3), dtype=np.float32)
    for number, path in numbered.items():
        frames[number - first] = read_openpose_frame(path)
    return frames
