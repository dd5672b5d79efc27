"""MediaPipe Holistic for real, on a photo of a person that an installed package ships: matplotlib's sample
``grace_hopper.jpg`` (512x600 RGB, a portrait facing the camera: head and shoulders, hands and hips out of
frame). Skipped where MediaPipe is not installed, as in CI (the README gives the pose extra's install steps).

The regions the keypoints must fall in were read off the photo by eye, in pixels, independently of any pose
estimator; the subject's right side is on the image's left.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest

pytest.importorskip("mediapipe")

from mgfast.layout import MG68, MG68_LEFT_HAND, MG68_RIGHT_HAND  # noqa: E402
from mgfast.pose import get_backend  # noqa: E402
from mgfast.pose.mediapipe_holistic import POSE_MODELS, SHIPPED_COMPLEXITY  # noqa: E402

HEAD = (150, 25, 385, 360)  # x0, y0, x1, y1: cap, hair and chin
REGIONS = {  # point: (x0, y0, x1, y1)
    "Nose": (240, 200, 300, 265),
    "REye": (205, 175, 255, 215),  # the subject's right eye, behind the left lens as seen
    "LEye": (280, 170, 330, 210),
    "Chin": (240, 315, 300, 350),
    "RShoulder": (40, 370, 150, 470),
    "LShoulder": (390, 370, 500, 470),
}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (600, 512, 3), path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def test_holistic_finds_the_subjects_face_and_shoulders_on_a_real_photo(photo):
    frames = np.stack([photo, photo])  # the second frame goes through Holistic's tracking path
    with get_backend("mediapipe") as backend:
        holistic = backend.estimate_holistic(frames)
        mg68 = backend.estimate(frames)
    assert mg68.shape == (2, 68, 3) and mg68.dtype == np.float32
    assert ((mg68[..., 2] >= 0) & (mg68[..., 2] <= 1)).all()
    for t in range(2):
        face = holistic[t, 75:]
        assert (face[:, 2] == 1).all(), "the face mesh was not found"
        assert all(inside(p, HEAD) for p in face), "face mesh points outside the head"
        span = face[:, :2].max(axis=0) - face[:, :2].min(axis=0)
        assert span[0] > 120 and span[1] > 150, f"face mesh spans only {span} pixels"  # the face is ~190x210
        points = {name: mg68[t, MG68.index(name)] for name in REGIONS}
        for name, box in REGIONS.items():
            assert points[name][2] > 0.5 and inside(points[name], box), (name, points[name])
        # The subject's own left is on the image's right, for eyes, ears and shoulders alike.
        for side in ("Eye", "Ear", "Shoulder"):
            assert mg68[t, MG68.index("R" + side), 0] < points["Nose"][0] < mg68[t, MG68.index("L" + side), 0]
        assert (mg68[t, MG68_LEFT_HAND:MG68_RIGHT_HAND + 21, 2] == 0).all(), "hands found though none is in view"
        assert mg68[t, MG68.index("MidHip"), 1] > photo.shape[0] or mg68[t, MG68.index("MidHip"), 2] == 0


def test_real_mediapipe_on_blank_frames():
    with get_backend("mediapipe") as backend:
        out = backend.estimate(np.zeros((2, 120, 160, 3), np.uint8))
    assert out.shape == (2, 68, 3) and out.dtype == np.float32
    assert (out[..., 2] >= 0).all() and (out[..., 2] <= 1).all()


def test_the_installed_wheel_ships_only_the_model_that_is_allowed_offline():
    distribution = importlib.metadata.packages_distributions()["mediapipe"][0]
    shipped = {Path(f).name for f in importlib.metadata.files(distribution) or ()
               if Path(f).parent.as_posix() == "mediapipe/modules/pose_landmark"}
    assert {m for m in POSE_MODELS.values() if m in shipped} == {POSE_MODELS[SHIPPED_COMPLEXITY]}
    backend = get_backend("mediapipe", model_complexity=SHIPPED_COMPLEXITY)
    assert backend.model_path.is_file() and backend.model_path.name in shipped
    for complexity in set(POSE_MODELS) - {SHIPPED_COMPLEXITY}:
        model = backend.model_path.with_name(POSE_MODELS[complexity])
        if model.exists():  # fetched by hand into the package: then it is used
            assert get_backend("mediapipe", model_complexity=complexity).model_path == model
        else:
            with pytest.raises(FileNotFoundError, match=f"model_complexity={complexity}"):
                get_backend("mediapipe", model_complexity=complexity)
