"""A canonical mg68 pose: seated, upper body in view, facing the camera, hands resting in front of the belly.

Unit box, y downwards; the subject's left side appears on the image's right. Left/right symmetric about
x = 0.5, so flipping it (x -> 1 - x and swapping the flip pairs) gives it back.
"""

from __future__ import annotations

import numpy as np

from mgfast.layout.mg68 import HAND_NAMES, MG68, MG68_CHIN, MG68_LEFT_HAND, MG68_RIGHT_HAND

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
    pose[MG68_RIGHT_HAND:MG68_RIGHT_HAND + len(HAND_NAMES)] = right_hand
    pose[MG68_LEFT_HAND:MG68_LEFT_HAND + len(HAND_NAMES)] = np.column_stack([1.0 - right_hand[:, 0], right_hand[:, 1]])
    pose[MG68_CHIN] = (0.5, 0.225)
    pose = pose.astype(np.float32)
    pose.flags.writeable = False
    return pose


MG68_REST_POSE = _rest_pose()
"""A canonical mg68 pose ``[68, 2]`` (x, y) in the unit box, y downwards (read-only; copy to modify)."""

