"""mgfast's own 68-keypoint layout :data:`MG68`: OpenPose BODY_25 (0-24), both hands (25-45 left, 46-66
right, 21 points each in OpenPose's hand order) and the chin (67). DESIGN §6 is the reference.
"""

from __future__ import annotations

from mgfast.layout.base import Layout

# Joint names shared with the converters and the rest pose: BODY_25 in OpenPose order, then one hand's 21
# points in OpenPose's hand order (the mg68 names prefix them with L or R).
BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel",
    "RBigToe", "RSmallToe", "RHeel",
)
HAND_NAMES = ("Wrist",) + tuple(f"{finger}{k}" for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky") for k in range(1, 5))
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
    names = BODY25_NAMES + tuple(f"L{n}" if n != "Wrist" else "LHandWrist" for n in HAND_NAMES)
    names += tuple(f"R{n}" if n != "Wrist" else "RHandWrist" for n in HAND_NAMES) + ("Chin",)
    limbs = (
        _BODY25_BONES
        + tuple((left + a, left + b) for a, b in _HAND_BONES)
        + tuple((right + a, right + b) for a, b in _HAND_BONES)
        + ((7, left), (4, right), (0, MG68_CHIN))
    )
    flip_pairs = _BODY25_FLIP + tuple((left + i, right + i) for i in range(len(HAND_NAMES)))
    face = (0, 15, 16, 17, 18, MG68_CHIN)
    hands = (4, 7) + tuple(range(left, left + len(HAND_NAMES))) + tuple(range(right, right + len(HAND_NAMES)))
    return Layout("mg68", names, limbs, flip_pairs, salient=tuple(sorted(face + hands)))


MG68 = _mg68()
"""mgfast's 68-keypoint layout: BODY_25 (0-24), left hand (25-45), right hand (46-66), chin (67)."""
