"""Keypoint layouts: joint names, limbs, left/right flip pairs and the joints that saliency emphasises.

Every op and model takes its joint count, limbs and flip pairs from a :class:`Layout`. mgfast's own layout
is :data:`MG68` (68 points: OpenPose BODY_25, both hands, the chin); users can define their own.
:func:`to_mg68` converts OpenPose-137, COCO-WholeBody-133 and MediaPipe Holistic keypoints into mg68;
:data:`MG68_REST_POSE` is a canonical pose and :func:`draw_layout` draws a layout as a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Pair = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """A keypoint layout.

    Attributes:
        name: short identifier, recorded in datasets and checkpoints.
        names: one name per joint; the joint count is ``len(names)``.
        limbs: joint index pairs ``(a, b)``, one heatmap channel each in limb mode.
        flip_pairs: joints that swap under a horizontal flip (the subject's left and right); joints in no
            pair map to themselves.
        salient: joints that saliency boxes emphasise (for micro-gestures: hands and face).
    """

    name: str
    names: tuple[str, ...]
    limbs: tuple[Pair, ...]
    flip_pairs: tuple[Pair, ...]
    salient: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        v = self.num_joints
        if len(set(self.names)) != v:
            raise ValueError(f"layout {self.name!r}: joint names must be unique")
        for what, pairs in (("limb", self.limbs), ("flip pair", self.flip_pairs)):
            for a, b in pairs:
                if not (0 <= a < v and 0 <= b < v) or a == b:
                    raise ValueError(f"layout {self.name!r}: {what} ({a}, {b}) needs two distinct joints in [0, {v})")
        flipped = [j for pair in self.flip_pairs for j in pair]
        if len(set(flipped)) != len(flipped):
            raise ValueError(f"layout {self.name!r}: a joint appears in more than one flip pair")
        if any(not 0 <= j < v for j in self.salient):
            raise ValueError(f"layout {self.name!r}: salient joints must lie in [0, {v})")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {name!r}") from None

    def joint_flip_index(self) -> tuple[int, ...]:
        """``perm[j]``: the joint that joint ``j`` becomes under a horizontal flip (an involution)."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    def limb_flip_index(self) -> tuple[int, ...]:
        """``perm[k]``: the limb that limb ``k`` becomes under a horizontal flip."""
        return limb_flip_index(self.limbs, self.joint_flip_index())


def limb_flip_index(limbs: tuple[Pair, ...] | list[Pair], joint_flip: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """Maps each limb to its mirror image, the limb joining the flipped joints (in either direction).

    Raises ``ValueError`` when a limb's mirror image is not among the limbs: such a limb set cannot be flipped.
    """
    position = {frozenset(limb): k for k, limb in enumerate(limbs)}
    perm = []
    for a, b in limbs:
        mirror = frozenset((joint_flip[a], joint_flip[b]))
        if mirror not in position:
            raise ValueError(f"limb ({a}, {b}) has no mirror limb ({joint_flip[a]}, {joint_flip[b]}): the limbs are not left/right symmetric")
        perm.append(position[mirror])
    return tuple(perm)


_BODY25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel",
    "RBigToe", "RSmallToe", "RHeel",
)
_HAND = ("Wrist",) + tuple(f"{finger}{k}" for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky") for k in range(1, 5))
_BODY25_BONES = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13),
    (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22), (22, 23),
    (11, 24),
)
_BODY25_FLIP = ((2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18), (19, 22), (20, 23), (21, 24))
# Wrist to each finger's base and along each finger, in hand-local indices.
_HAND_BONES = tuple((0 if k == 0 else base + k - 1, base + k) for base in (1, 5, 9, 13, 17) for k in range(4))
MG68_LEFT_HAND = 25
MG68_RIGHT_HAND = 46
MG68_CHIN = 67


def _mg68() -> Layout:
    left, right = MG68_LEFT_HAND, MG68_RIGHT_HAND
    names = _BODY25 + tuple(f"L{n}" if n != "Wrist" else "LHandWrist" for n in _HAND)
    names += tuple(f"R{n}" if n != "Wrist" else "RHandWrist" for n in _HAND) + ("Chin",)
    limbs = (
        _BODY25_BONES
        + tuple((left + a, left + b) for a, b in _HAND_BONES)
        + tuple((right + a, right + b) for a, b in _HAND_BONES)
        + ((7, left), (4, right), (0, MG68_CHIN))
    )
    flip_pairs = _BODY25_FLIP + tuple((left + i, right + i) for i in range(len(_HAND)))
    face = (0, 15, 16, 17, 18, MG68_CHIN)
    hands = (4, 7) + tuple(range(left, left + len(_HAND))) + tuple(range(right, right + len(_HAND)))
    return Layout("mg68", names, limbs, flip_pairs, salient=tuple(sorted(face + hands)))


MG68 = _mg68()
"""mgfast's 68-keypoint layout: BODY_25 (0-24), left hand (25-45), right hand (46-66), chin (67)."""

LAYOUTS = {MG68.name: MG68}
"""Layouts known by name (datasets record the name of theirs)."""


def resolve_layout(layout: Layout | None, num_joints: int, needed_for: str) -> Layout:
    """The given layout, or :data:`MG68` for 68-joint data; checked against the joint count.

    ``needed_for`` names what asked for the layout, for the error message.
    """
    if layout is None:
        if num_joints != MG68.num_joints:
            raise ValueError(f"{needed_for} needs a layout: pass layout= (a mgfast.layout.Layout) for {num_joints}-joint keypoints")
        return MG68
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a mgfast.layout.Layout, got {type(layout).__name__}")
    if layout.num_joints != num_joints:
        raise ValueError(f"layout {layout.name!r} has {layout.num_joints} joints but the data has {num_joints}")
    return layout


# ---------------------------------------------------------------------------------------------------------
# Converters from other keypoint formats into mg68.
#
# Each source has a table with one entry per mg68 joint: the source indices it comes from (one index: copied;
# two indices: their midpoint with the smaller score; none: the source lacks the point, score 0).

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
    return tuple(tuple(index[n] for n in names.get(joint, ())) for joint in _BODY25)


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


# ---------------------------------------------------------------------------------------------------------
# A canonical mg68 pose: seated, upper body in view, facing the camera, hands resting in front of the belly.
# Unit box, y downwards; the subject's left side appears on the image's right. Left/right symmetric about
# x = 0.5, so flipping it (x -> 1 - x and swapping the flip pairs) gives it back.

_REST_BODY25 = {
    "Nose": (0.5, 0.16), "Neck": (0.5, 0.3), "RShoulder": (0.36, 0.31), "RElbow": (0.31, 0.47),
    "RWrist": (0.37, 0.59), "MidHip": (0.5, 0.67), "RHip": (0.43, 0.67), "RKnee": (0.39, 0.8),
    "RAnkle": (0.39, 0.95), "REye": (0.47, 0.14), "REar": (0.43, 0.155), "RBigToe": (0.37, 0.985),
    "RSmallToe": (0.34, 0.975), "RHeel": (0.4, 0.97),
}
# A relaxed right hand in its own frame: u along the fingers, v across (thumb side negative), wrist at 0.
_REST_HAND_UV = (
    (0.0, 0.0),
    (0.12, -0.12), (0.25, -0.2), (0.36, -0.25), (0.46, -0.28),  # thumb
    (0.45, -0.1), (0.62, -0.11), (0.74, -0.12), (0.84, -0.12),  # index
    (0.47, -0.02), (0.66, -0.02), (0.79, -0.02), (0.9, -0.02),  # middle
    (0.45, 0.06), (0.62, 0.07), (0.74, 0.08), (0.83, 0.08),  # ring
    (0.41, 0.13), (0.54, 0.15), (0.63, 0.16), (0.71, 0.17),  # pinky
)


def _rest_pose() -> np.ndarray:
    pose = np.zeros((MG68.num_joints, 2), dtype=np.float64)
    for name, (x, y) in _REST_BODY25.items():
        pose[MG68.index(name)] = (x, y)
        if name[0] == "R":  # the subject's left is the mirror image
            pose[MG68.index("L" + name[1:])] = (1.0 - x, y)
    # The right hand lies on the belly, fingers pointing to the body's midline and a little down, thumb up.
    wrist = pose[MG68.index("RWrist")]
    along = np.array([np.cos(np.radians(20)), np.sin(np.radians(20))])
    across = np.array([-along[1], along[0]])
    uv = np.array(_REST_HAND_UV)
    right_hand = wrist + 0.13 * (uv[:, :1] * along + uv[:, 1:] * across)
    pose[MG68_RIGHT_HAND:MG68_RIGHT_HAND + len(_HAND)] = right_hand
    pose[MG68_LEFT_HAND:MG68_LEFT_HAND + len(_HAND)] = np.column_stack([1.0 - right_hand[:, 0], right_hand[:, 1]])
    pose[MG68_CHIN] = (0.5, 0.225)
    pose = pose.astype(np.float32)
    pose.flags.writeable = False
    return pose


MG68_REST_POSE = _rest_pose()
"""A canonical mg68 pose ``[68, 2]`` (x, y) in the unit box, y downwards (read-only; copy to modify)."""


# ---------------------------------------------------------------------------------------------------------
# Drawing a layout.

def _side(name: str) -> str:
    """The side of a joint from its name's ``L``/``R`` prefix (``LWrist``: left); other names are "centre"."""
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():
        return "left" if name[0] == "L" else "right"
    return "centre"


_SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", "centre": "tab:gray"}


def draw_layout(
    layout: Layout,
    positions: np.ndarray,
    path: str | Path,
    *,
    insets: Mapping[str, tuple[float, float, float, float]] | None = None,
    title: str | None = None,
) -> Path:
    """Draws ``layout`` at ``positions`` ``[V, 2]`` (x, y; y downwards) as a PNG with limbs and joint indices.

    Joints and limbs are coloured by side (names starting ``L``/``R``: the subject's left in blue, right in red).
    Each entry ``title: (x0, y0, x1, y1)`` of ``insets`` gets a magnified panel of its own, for crowded regions
    such as the hands. The PNG is written atomically; returns its path.
    """
    from matplotlib.figure import Figure  # a bare Figure renders with Agg, whatever pyplot's backend is
    from matplotlib.patches import Rectangle

    from mgfast.io.atomic import atomic_path

    titles, boxes = list((insets or {}).keys()), list((insets or {}).values())
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (layout.num_joints, 2):
        raise ValueError(f"positions must have shape [{layout.num_joints}, 2] for layout {layout.name!r}, "
                         f"got {list(positions.shape)}")
    if not np.isfinite(positions).all():
        raise ValueError("positions must be finite")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: draw_layout writes PNG; give a path ending in .png")

    # Joints at one spot (a body wrist and its hand's wrist) share one label, "4,46".
    labels: dict[tuple[float, float], list[int]] = {}
    for j, (x, y) in enumerate(positions):
        labels.setdefault((round(x, 9), round(y, 9)), []).append(j)

    def inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    lo, hi = positions.min(axis=0), positions.max(axis=0)
    margin = 0.05 * max(float((hi - lo).max()), 1e-6)
    whole = (lo[0] - margin, lo[1] - margin, hi[0] + margin, hi[1] + margin)
    fig = Figure(figsize=(7 + 4 * len(boxes), 8), dpi=110)
    axes = fig.subplots(1, 1 + len(boxes), squeeze=False, width_ratios=[7] + [4] * len(boxes))[0]
    for k, (ax, box) in enumerate(zip(axes, [whole, *boxes])):
        for a, b in layout.limbs:
            side = _side(layout.names[a]) if _side(layout.names[a]) == _side(layout.names[b]) else "centre"
            ax.plot(positions[[a, b], 0], positions[[a, b], 1], color=_SIDE_COLOURS[side], linewidth=1.5, alpha=0.7,
                    zorder=1)
        ax.scatter(positions[:, 0], positions[:, 1], s=14, zorder=2,
                   c=[_SIDE_COLOURS[_side(name)] for name in layout.names])
        for (x, y), joints in labels.items():
            # The main panel leaves the joints of magnified regions to their own panels.
            if inside(x, y, box) and not (k == 0 and any(inside(x, y, inset) for inset in boxes)):
                ax.annotate(",".join(map(str, joints)), (x, y), xytext=(3, 3), textcoords="offset points",
                            fontsize=7 if k == 0 else 9, zorder=3)
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[3], box[1])  # y downwards, as in images
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if k > 0:
            axes[0].add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, linestyle="--",
                                        color="black", linewidth=0.8))
            ax.set_title(titles[k - 1], fontsize=9)
    if title is None:
        title = (f"{layout.name}: {layout.num_joints} joints, {len(layout.limbs)} limbs "
                 "(blue: subject's left, red: right)")
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
