"""Keypoint layouts: joint names, limbs, left/right flip pairs and the joints that saliency emphasises.

Every op and model takes its joint count, limbs and flip pairs from a :class:`Layout`. mgfast's own layout
is :data:`MG68` (68 points: OpenPose BODY_25, both hands, the chin); users can define their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
