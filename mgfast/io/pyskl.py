"""Export of a dataset directory to the PYSKL / mmaction2 skeleton pickle, for training in those toolkits.

The pickle holds one dict::

    {"split": {"train": [frame_dir, ...], "val": [...], "test": [...]},
     "annotations": [{"frame_dir": clip id, "label": int, "img_shape": (H, W), "original_shape": (H, W),
                      "total_frames": T, "keypoint": float32 [1, T, V, 2], "keypoint_score": float32 [1, T, V]},
                     ...]}

with one person per clip (M = 1) in the dataset's layout (mg68: V = 68), coordinates in frame pixels.
Conventions where the two formats differ:

* unlabelled clips (the challenge's test split) get ``label = -1``; a hidden label is not exported;
* a point that was not detected (score <= 0 or not finite, or non-finite coordinates) is written as
  ``(0, 0)`` with score 0: OpenPose's convention, which PYSKL's ``PoseCompact`` relies on (it ignores zeros).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mgfast.io.atomic import atomic_path
from mgfast.io.dataset import SPLITS, Clip, Dataset

PICKLE_PROTOCOL = 4  # readable by every Python that PYSKL and mmaction2 support


def clip_annotation(dataset: Dataset, clip: Clip) -> dict:
    """The PYSKL annotation of one clip (see the module docstring)."""
    keypoints = dataset.keypoints(clip)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 3 or len(keypoints) != clip.frames:
        raise ValueError(
            f"{dataset.root / clip.keypoints}: expected keypoints [{clip.frames}, V, 3] for clip {clip.clip_id}, "
            f"got {list(keypoints.shape)}; rerun `mgfast extract` to rewrite the clip"
        )
    xy = keypoints[..., :2].astype(np.float32)
    score = keypoints[..., 2].astype(np.float32)
    with np.errstate(invalid="ignore"):
        detected = np.isfinite(score) & (score > 0) & np.isfinite(xy).all(-1)
    xy = np.where(detected[..., None], xy, np.float32(0))
    score = np.where(detected, score, np.float32(0))
    shape = (clip.height, clip.width)
    return {
        "frame_dir": clip.clip_id,
        "label": -1 if clip.label is None else int(clip.label),
        "img_shape": shape,
        "original_shape": shape,
        "total_frames": int(clip.frames),
        "keypoint": xy[None].astype(np.float32),
        "keypoint_score": score[None].astype(np.float32),
    }


def to_pyskl(dataset: Dataset, *, progress: bool = False) -> dict:
    """The PYSKL dict of a whole dataset: every split (empty ones included) and every clip in manifest order."""
    clips = tqdm(dataset.clips, desc="export", unit="clip", disable=not progress)
    return {
        "split": {name: [c.clip_id for c in dataset.split(name)] for name in SPLITS},
        "annotations": [clip_annotation(dataset, c) for c in clips],
    }


def write_pyskl(dataset: Dataset | str | Path, path: str | Path, *, progress: bool = False) -> Path:
    """Writes the PYSKL pickle of ``dataset`` (a :class:`Dataset` or its directory) to ``path``, atomically."""
    if not isinstance(dataset, Dataset):
        dataset = Dataset(dataset)
    path = Path(path)
    data = to_pyskl(dataset, progress=progress)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        pickle.dump(data, f, protocol=PICKLE_PROTOCOL)
    return path
