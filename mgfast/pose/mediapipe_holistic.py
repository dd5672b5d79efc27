"""Whole-body pose with MediaPipe Holistic (legacy ``mediapipe.solutions`` API), an optional extra.

MediaPipe 0.10.21 ships the Holistic models inside its wheel, so it runs offline; install it with
``pip install "mgfast[pose]"`` (it needs Python <= 3.12 and numpy < 2). Holistic tracks one person across
consecutive frames; each :meth:`MediaPipeBackend.estimate` call starts a fresh tracker, so a call should hold
one continuous stretch of video and results do not depend on what was estimated before.

Holistic's ``left_hand_landmarks`` is the subject's own left hand (it is cropped around the pose's left
wrist), which is what mg68 wants; no swap is needed.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from mgfast.layout import to_mg68
from mgfast.pose.base import PoseBackend, check_frames

POSE_POINTS, HAND_POINTS, FACE_POINTS = 33, 21, 468
HOLISTIC_POINTS = POSE_POINTS + 2 * HAND_POINTS + FACE_POINTS  # 543
INSTALL_HINT = 'pip install "mgfast[pose]" (MediaPipe 0.10.21; needs Python <= 3.12 and numpy < 2)'


def import_holistic() -> ModuleType:
    """MediaPipe's legacy Holistic solution module; ImportError with the install command when missing."""
    try:
        import mediapipe
    except ImportError as error:
        raise ImportError(f'the "mediapipe" pose backend needs MediaPipe: {INSTALL_HINT}') from error
    try:
        return mediapipe.solutions.holistic
    except AttributeError:
        raise ImportError(f"MediaPipe {getattr(mediapipe, '__version__', '?')} lacks the legacy solutions API that the "
                          f'"mediapipe" pose backend uses: {INSTALL_HINT}') from None


def _landmarks(landmark_list: object, expected: int, what: str) -> list:
    points = list(landmark_list.landmark)
    if len(points) < expected:
        raise ValueError(f"MediaPipe returned {len(points)} {what} landmarks, expected {expected}")
    return points[:expected]  # the refined face mesh adds 10 iris points after the 468


def holistic_to_array(results: object, width: int, height: int) -> np.ndarray:
    """One frame's Holistic results as ``[543, 3]`` float32 (x, y, score) in pixels.

    Order: pose 33, left hand 21, right hand 21, face mesh 468 (the ``mediapipe_holistic`` source of
    :func:`mgfast.layout.to_mg68`). MediaPipe's coordinates are fractions of the frame size; pose scores are
    the landmarks' visibility, present hand and face points score 1 and absent parts 0.
    """
    out = np.zeros((HOLISTIC_POINTS, 3), dtype=np.float32)
    parts = (
        ("pose_landmarks", 0, POSE_POINTS, "pose"),
        ("left_hand_landmarks", POSE_POINTS, HAND_POINTS, "hand"),
        ("right_hand_landmarks", POSE_POINTS + HAND_POINTS, HAND_POINTS, "hand"),
        ("face_landmarks", POSE_POINTS + 2 * HAND_POINTS, FACE_POINTS, "face"),
    )
    for attribute, start, count, what in parts:
        found = getattr(results, attribute, None)
        if found is None:
            continue
        points = _landmarks(found, count, what)
        block = out[start:start + count]
        block[:, 0] = [p.x * width for p in points]
        block[:, 1] = [p.y * height for p in points]
        block[:, 2] = [p.visibility for p in points] if what == "pose" else 1.0
    return out


class MediaPipeBackend(PoseBackend):
    """MediaPipe Holistic as a :class:`PoseBackend`; options go to ``mediapipe.solutions.holistic.Holistic``."""

    name = "mediapipe"

    def __init__(
        self,
        *,
        model_complexity: int = 1,
        smooth_landmarks: bool = True,
        refine_face_landmarks: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self._holistic = import_holistic()
        self.options = dict(
            static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=smooth_landmarks,
            refine_face_landmarks=refine_face_landmarks, min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def estimate_holistic(self, frames: np.ndarray) -> np.ndarray:
        """Holistic keypoints ``[T, 543, 3]`` in frame pixels for RGB frames ``[T, H, W, 3]``."""
        frames = check_frames(frames)
        height, width = frames.shape[1:3]
        out = np.zeros((len(frames), HOLISTIC_POINTS, 3), dtype=np.float32)
        tracker = self._holistic.Holistic(**self.options)
        try:
            for t, frame in enumerate(frames):
                out[t] = holistic_to_array(tracker.process(frame), width, height)
        finally:
            tracker.close()
        return out

    def estimate(self, frames: np.ndarray) -> np.ndarray:
        """mg68 keypoints ``[T, 68, 3]`` in frame pixels for RGB frames ``[T, H, W, 3]``."""
        return to_mg68(self.estimate_holistic(frames), "mediapipe_holistic")
