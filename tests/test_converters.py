"""Converters into mg68, the rest pose and the layout drawing.

The source formats are described here by name, from their public definitions (OpenPose BODY_25 / face-70 /
hands, COCO-WholeBody, MediaPipe Holistic), independently of the tables in mgfast.layout.
"""

from __future__ import annotations

import numpy as np
import pytest

from mgfast.io.figures import draw_layout
from mgfast.layout import MG68, MG68_REST_POSE, MG68_SOURCES, to_mg68

BODY25 = [
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel",
    "RBigToe", "RSmallToe", "RHeel",
]
HAND = ["wrist"] + [f"{f}{k}" for f in ("thumb", "index", "middle", "ring", "pinky") for k in range(1, 5)]
COCO_BODY = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
]
COCO_FEET = ["left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel"]
MP_POSE = [
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
]

SOURCE_NAMES = {
    "openpose137": BODY25 + [f"face{i}" for i in range(70)] + [f"lhand_{n}" for n in HAND]
    + [f"rhand_{n}" for n in HAND],
    "coco_wholebody133": COCO_BODY + COCO_FEET + [f"face{i}" for i in range(68)] + [f"lhand_{n}" for n in HAND]
    + [f"rhand_{n}" for n in HAND],
    "mediapipe_holistic": MP_POSE + [f"lhand_{n}" for n in HAND] + [f"rhand_{n}" for n in HAND]
    + [f"face{i}" for i in range(468)],
}

# mg68 joint -> source point name (one: copied) or names (two: midpoint); missing: absent.
_SNAKE = {
    "Nose": "nose", "RShoulder": "right_shoulder", "RElbow": "right_elbow", "RWrist": "right_wrist",
    "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist", "RHip": "right_hip",
    "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip", "LKnee": "left_knee", "LAnkle": "left_ankle",
    "REye": "right_eye", "LEye": "left_eye", "REar": "right_ear", "LEar": "left_ear", "LHeel": "left_heel",
    "RHeel": "right_heel",
}
_HANDS = {("L" if side == "l" else "R") + ("HandWrist" if n == "wrist" else n[0].upper() + n[1:]): f"{side}hand_{n}"
          for side in "lr" for n in HAND}
_MIDPOINTS = {"Neck": ("left_shoulder", "right_shoulder"), "MidHip": ("left_hip", "right_hip")}
MAPPING = {
    "openpose137": {**{n: n for n in BODY25}, **_HANDS, "Chin": "face8"},
    "coco_wholebody133": {**_SNAKE, **_MIDPOINTS, **_HANDS, "Chin": "face8", "LBigToe": "left_big_toe",
                          "LSmallToe": "left_small_toe", "RBigToe": "right_big_toe", "RSmallToe": "right_small_toe"},
    "mediapipe_holistic": {**_SNAKE, **_MIDPOINTS, **_HANDS, "Chin": "face152", "LBigToe": "left_foot_index",
                           "RBigToe": "right_foot_index"},
}
SOURCES = list(SOURCE_NAMES)


def test_source_descriptions_match_the_point_counts():
    for source, names in SOURCE_NAMES.items():
        assert len(names) == len(set(names)) == MG68_SOURCES[source]


def reference_to_mg68(points: np.ndarray, source: str) -> np.ndarray:
    """Plain loops over frames and joints, from MAPPING and the stated rules."""
    index = {n: i for i, n in enumerate(SOURCE_NAMES[source])}
    flat = points.reshape(-1, points.shape[-2], 3).astype(np.float64)
    out = np.zeros((len(flat), 68, 3))
    for f, frame in enumerate(flat):
        for j, joint in enumerate(MG68.names):
            spec = MAPPING[source].get(joint)
            if spec is None:
                continue
            first, second = (spec, spec) if isinstance(spec, str) else spec
            a, b = frame[index[first]], frame[index[second]]
            score = min(a[2], b[2])
            x, y = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            if np.isnan(a[2]) or np.isnan(b[2]) or not score > 0 or not np.isfinite([x, y, score]).all():
                continue
            out[f, j] = (x, y, score)
    return out.reshape(points.shape[:-2] + (68, 3))


def random_points(rng: np.random.Generator, shape: tuple[int, ...], count: int, width: float = 1280.0) -> np.ndarray:
    points = np.empty(shape + (count, 3))
    points[..., 0] = rng.uniform(0, width, shape + (count,))
    points[..., 1] = rng.uniform(0, 720, shape + (count,))
    points[..., 2] = rng.uniform(0.01, 1, shape + (count,))
    missing = rng.random(shape + (count,)) < 0.2
    points[missing] = 0.0
    return points


@pytest.mark.parametrize("source", SOURCES)
def test_each_named_point_lands_at_its_mg68_index(source):
    index = {n: i for i, n in enumerate(SOURCE_NAMES[source])}
    direct = {joint: spec for joint, spec in MAPPING[source].items() if isinstance(spec, str)}
    assert len(direct) >= 60
    for joint, name in direct.items():
        points = np.zeros((MG68_SOURCES[source], 3))
        points[index[name]] = (101.5, 37.25, 0.75)
        out = to_mg68(points, source)
        assert out.dtype == np.float32 and out.shape == (68, 3)
        expected = np.zeros((68, 3), np.float32)
        expected[MG68.index(joint)] = (101.5, 37.25, 0.75)
        np.testing.assert_array_equal(out, expected, err_msg=f"{source}: {name} -> {joint}")


@pytest.mark.parametrize("source", SOURCES)
def test_points_a_source_lacks_get_score_zero(source):
    points = np.ones((MG68_SOURCES[source], 3)) * (500.0, 300.0, 0.9)
    out = to_mg68(points, source)
    lacking = [j for j, name in enumerate(MG68.names) if name not in MAPPING[source]]
    assert lacking == ([] if source != "mediapipe_holistic" else [MG68.index("LSmallToe"), MG68.index("RSmallToe")])
    present = np.setdiff1d(np.arange(68), lacking)
    assert (out[lacking] == 0).all()
    np.testing.assert_allclose(out[present], np.broadcast_to([500.0, 300.0, 0.9], (len(present), 3)), rtol=1e-6)


@pytest.mark.parametrize("source", ["coco_wholebody133", "mediapipe_holistic"])
def test_neck_and_midhip_are_midpoints_with_the_smaller_score(source):
    index = {n: i for i, n in enumerate(SOURCE_NAMES[source])}
    points = np.zeros((MG68_SOURCES[source], 3))
    points[index["left_shoulder"]] = (700, 200, 0.9)
    points[index["right_shoulder"]] = (500, 220, 0.6)
    points[index["left_hip"]] = (660, 500, 0.4)
    points[index["right_hip"]] = (540, 510, 0.8)
    out = to_mg68(points, source)
    np.testing.assert_allclose(out[MG68.index("Neck")], (600, 210, 0.6), rtol=1e-6)
    np.testing.assert_allclose(out[MG68.index("MidHip")], (600, 505, 0.4), rtol=1e-6)
    # One side missing: the midpoint would be meaningless, so the joint is missing too.
    for bad in ((0.0, 0.0, 0.0), (500, 220, np.nan), (np.nan, 220, 0.6), (500, 220, -0.3)):
        points[index["right_shoulder"]] = bad
        out = to_mg68(points, source)
        np.testing.assert_array_equal(out[MG68.index("Neck")], 0.0, err_msg=str(bad))
        assert out[MG68.index("LShoulder"), 2] == np.float32(0.9)


@pytest.mark.parametrize("source", SOURCES)
def test_random_batches_match_the_reference(source):
    rng = np.random.default_rng(len(source))
    points = random_points(rng, (3, 4), MG68_SOURCES[source])
    # Corrupt a few points in the ways real files do: NaN score, NaN coordinate, negative score.
    points[0, 0, :40, 2] = np.nan
    points[0, 1, :40, 0] = np.nan
    points[1, 2, :40, 2] = -0.5
    out = to_mg68(points, source)
    assert out.shape == (3, 4, 68, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_to_mg68(points, source), rtol=1e-6, atol=1e-4)
    assert np.isfinite(out).all()
    # Single frames and float32 input give the same answer.
    np.testing.assert_allclose(to_mg68(points[2, 3].astype(np.float32), source), out[2, 3], rtol=1e-6, atol=1e-3)


# Left/right swaps of the sources, by name.
IBUG68_FLIP = (
    [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
)


def swap_name(name: str) -> str:
    for a, b in (("left", "right"), ("lhand", "rhand")):
        if a in name:
            return name.replace(a, b)
        if b in name:
            return name.replace(b, a)
    if name[0] in "LR" and name[1:2].isupper():  # BODY_25 and mg68 names: LWrist, RHandWrist
        return ("R" if name[0] == "L" else "L") + name[1:]
    return name


def source_flip_index(source: str) -> np.ndarray:
    names = SOURCE_NAMES[source]
    index = {n: i for i, n in enumerate(names)}
    perm = np.array([index[swap_name(n)] for n in names])
    face = {"openpose137": 25, "coco_wholebody133": 23}.get(source)
    if face is not None:
        pairs = IBUG68_FLIP + ([(68, 69)] if source == "openpose137" else [])
        for a, b in pairs:
            perm[face + a], perm[face + b] = face + b, face + a
    # MediaPipe's face mesh keeps its order: the converter reads only point 152, on the face's midline.
    return perm


def mirror(points: np.ndarray, perm, width: float) -> np.ndarray:
    out = points[..., perm, :].copy()
    out[..., 0] = width - out[..., 0]
    return out


@pytest.mark.parametrize("source", SOURCES)
def test_converting_commutes_with_mirroring(source):
    rng = np.random.default_rng(7 + len(source))
    width = 1280.0
    points = random_points(rng, (5,), MG68_SOURCES[source], width)
    perm = source_flip_index(source)
    assert sorted(perm) == list(range(len(perm))) and (perm[perm] == np.arange(len(perm))).all()
    mirrored_first = to_mg68(mirror(points, perm, width), source)
    converted_first = mirror(to_mg68(points, source), list(MG68.joint_flip_index()), width)
    converted_first[converted_first[..., 2] == 0] = 0.0  # missing points stay (0, 0, 0)
    np.testing.assert_allclose(mirrored_first, converted_first, rtol=1e-6, atol=1e-3)


def test_mg68_flip_is_an_involution_that_swaps_named_sides():
    perm = np.array(MG68.joint_flip_index())
    assert (perm[perm] == np.arange(68)).all()
    for j, name in enumerate(MG68.names):
        assert MG68.names[perm[j]] == swap_name(name)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="unknown keypoint source"):
        to_mg68(np.zeros((133, 3)), "coco17")
    with pytest.raises(ValueError, match=r"\[\.\.\., 137, 3\]"):
        to_mg68(np.zeros((133, 3)), "openpose137")
    with pytest.raises(ValueError, match="shape"):
        to_mg68(np.zeros((543, 2)), "mediapipe_holistic")
    with pytest.raises(TypeError, match="numeric"):
        to_mg68(np.full((133, 3), "a"), "coco_wholebody133")


def test_rest_pose_is_a_seated_facing_pose():
    pose = MG68_REST_POSE
    assert pose.shape == (68, 2) and pose.dtype == np.float32
    assert (pose >= 0).all() and (pose <= 1).all()
    at = {name: pose[MG68.index(name)] for name in MG68.names}
    # Facing the camera: the subject's left appears on the image's right.
    for joint in ("Shoulder", "Elbow", "Wrist", "Hip", "Eye", "Ear", "HandWrist", "Thumb4", "Pinky4"):
        assert at["L" + joint][0] > at["R" + joint][0], joint
    # Top to bottom (y downwards).
    order = ["REye", "Nose", "Chin", "Neck", "RElbow", "RHip", "RKnee", "RAnkle"]
    assert all(at[a][1] < at[b][1] for a, b in zip(order, order[1:]))
    # Hands rest in front of the belly: between the shoulders, below the elbows, above the hips.
    hands = pose[25:67]
    assert (hands[:, 0] > at["RShoulder"][0]).all() and (hands[:, 0] < at["LShoulder"][0]).all()
    assert (hands[:, 1] > at["RElbow"][1]).all() and (hands[:, 1] < at["MidHip"][1]).all()
    np.testing.assert_array_equal(at["LHandWrist"], at["LWrist"])
    # Symmetric: flipping it gives it back.
    flipped = pose[list(MG68.joint_flip_index())].copy()
    flipped[:, 0] = 1 - flipped[:, 0]
    np.testing.assert_allclose(flipped, pose, atol=1e-6)
    with pytest.raises(ValueError):
        pose[0, 0] = 0.3  # shared constant: read-only


def test_draw_layout_writes_a_png(tmp_path):
    path = draw_layout(MG68, MG68_REST_POSE, tmp_path / "mg68.png", insets={"right hand": (0.3, 0.5, 0.5, 0.7)})
    data = path.read_bytes()
    assert path == tmp_path / "mg68.png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["mg68.png"]
    with pytest.raises(ValueError, match=r"\[68, 2\]"):
        draw_layout(MG68, MG68_REST_POSE[:10], tmp_path / "x.png")
    with pytest.raises(ValueError, match="PNG"):
        draw_layout(MG68, MG68_REST_POSE, tmp_path / "x.jpg")
