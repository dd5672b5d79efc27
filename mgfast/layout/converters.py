"""Converters from other keypoint formats (OpenPose-137, COCO-WholeBody-133, MediaPipe Holistic) into mg68.

Each source has a table with one entry per mg68 joint: the source indices it comes from (one index: copied;
two indices: their midpoint with the smaller score; none: the source lacks the point, score 0).
"""

from __future__ import annotations

import numpy as np

from mgfast.layout.mg68 import BODY25_NAMES

MG68_SOURCES = {"openpose137": 137, "coco_wholebody133": 133, "mediapipe_holistic": 543}
"""Formats :func:`to_mg68` converts from, with their point counts."""

_HAND_POINTS = 21


def _hands_and_chin(left: int, right: int, chin: int) -> tuple[tuple[int, ...], ...]:
    """Table entries for mg68 joints 25-67 from a source whose hands share OpenPose's 21-point order."""
    return (
        tuple((left + i,) for i in range(_HAND_POINTS))
        + tuple((right + i,) for i in range(_HAND_POINTS))
        + ((chin,),)
    )


def _body25_from(names: dict[str, tuple[str, ...]], index: dict[str, int]) -> tuple[tuple[int, ...], ...]:
    """Table entries for BODY_25 from a source described by name: BODY_25 name -> source names."""
    return tuple(tuple(index[n] for n in names.get(joint, ())) for joint in BODY25_NAMES)


_COCO_WHOLEBODY_BODY = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
_MEDIAPIPE_POSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
# BODY_25 joint -> the same joint in snake_case names shared by COCO-WholeBody and MediaPipe.
_BODY25_BY_NAME = {
    "Nose": ("nose",), "Neck": ("left_shoulder", "right_shoulder"), "RShoulder": ("right_shoulder",),
    "RElbow": ("right_elbow",), "RWrist": ("right_wrist",), "LShoulder": ("left_shoulder",),
    "LElbow": ("left_elbow",), "LWrist": ("left_wrist",), "MidHip": ("left_hip", "right_hip"),
    "RHip": ("right_hip",), "RKnee": ("right_knee",), "RAnkle": ("right_ankle",), "LHip": ("left_hip",),
    "LKnee": ("left_knee",), "LAnkle": ("left_ankle",), "REye": ("right_eye",), "LEye": ("left_eye",),
    "REar": ("right_ear",), "LEar": ("left_ear",), "LBigToe": ("left_big_toe",), "LSmallToe": ("left_small_toe",),
    "LHeel": ("left_heel",), "RBigToe": ("right_big_toe",), "RSmallToe": ("right_small_toe",),
    "RHeel": ("right_heel",),
}
# MediaPipe names its big toe "foot_index" and has no small toes.
_BODY25_MEDIAPIPE = {
    **{k: v for k, v in _BODY25_BY_NAME.items() if k not in ("LSmallToe", "RSmallToe")},
    "LBigToe": ("left_foot_index",), "RBigToe": ("right_foot_index",),
}

_MG68_TABLES: dict[str, tuple[tuple[int, ...], ...]] = {
    # OpenPose: BODY_25 0-24, face-70 25-94 (chin = face point 8), left hand 95-115, right hand 116-136.
    "openpose137": tuple((j,) for j in range(25)) + _hands_and_chin(95, 116, 25 + 8),
    # COCO-WholeBody: body 0-16, feet 17-22, face-68 23-90 (chin = face point 8), left hand 91-111, right 112-132.
    "coco_wholebody133": _body25_from(_BODY25_BY_NAME, {n: i for i, n in enumerate(_COCO_WHOLEBODY_BODY)})
    + _hands_and_chin(91, 112, 23 + 8),
    # MediaPipe Holistic: pose 0-32, left hand 33-53, right hand 54-74, face mesh 75-542 (chin = mesh point 152).
    "mediapipe_holistic": _body25_from(_BODY25_MEDIAPIPE, {n: i for i, n in enumerate(_MEDIAPIPE_POSE)})
    + _hands_and_chin(33, 54, 75 + 152),
}


def mg68_sources(source: str) -> tuple[tuple[int, ...], ...]:
    """For each mg68 joint, the ``source`` point indices it is made from (two: midpoint; none: absent)."""
    try:
        return _MG68_TABLES[source]
    except KeyError:
        raise ValueError(f"unknown keypoint source {source!r}; choose one of {', '.join(MG68_SOURCES)}") from None


def to_mg68(points: np.ndarray, source: str) -> np.ndarray:
    """Converts keypoints ``[..., V, 3]`` = (x, y, score) of format ``source`` into mg68 ``[..., 68, 3]`` float32.

    ``source`` is one of :data:`MG68_SOURCES` (``"openpose137"``, ``"coco_wholebody133"``,
    ``"mediapipe_holistic"``). Left and right are the subject's own in every format. Neck and MidHip, where the
    source lacks them, are the midpoints of the shoulders and hips with the smaller of the two scores. A point
    that is missing (absent from the source, score <= 0 or NaN, or a non-finite coordinate) comes out as
    (0, 0, 0).
    """
    table = mg68_sources(source)
    points = np.asarray(points)
    expected = MG68_SOURCES[source]
    if points.ndim < 2 or points.shape[-2:] != (expected, 3):
        raise ValueError(f"{source} keypoints must have shape [..., {expected}, 3] (x, y, score), "
                         f"got {list(points.shape)}")
    if not np.issubdtype(points.dtype, np.number):
        raise TypeError(f"keypoints must be numeric, got dtype {points.dtype}")
    points = points.astype(np.float64, copy=False)
    first = np.array([entry[0] if entry else 0 for entry in table])
    second = np.array([entry[-1] if entry else 0 for entry in table])
    present = np.array([bool(entry) for entry in table])
    a, b = points[..., first, :], points[..., second, :]
    out = np.empty(points.shape[:-2] + (len(table), 3), dtype=np.float64)
    out[..., :2] = 0.5 * a[..., :2] + 0.5 * b[..., :2]  # exact copy when a and b are the same point
    with np.errstate(invalid="ignore"):
        out[..., 2] = np.where(present, np.fmin(a[..., 2], b[..., 2]), 0.0)
        # fmin ignores one NaN; a NaN score on either side means the pair is not usable.
        out[..., 2] = np.where(np.isnan(a[..., 2]) | np.isnan(b[..., 2]), 0.0, out[..., 2])
        valid = (out[..., 2] > 0) & np.isfinite(out[..., :2]).all(axis=-1) & np.isfinite(out[..., 2])
    out[~valid] = 0.0
    return out.astype(np.float32)
