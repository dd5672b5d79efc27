"""What an extraction run is asked to do, checked up front so that bad options fail before any video is read."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

POSE_CHOICES = ("auto", "openpose", "mediapipe", "onnx")
"""``auto``: the video's pose file (OpenPose table or JSON), else a pose backend (``onnx`` when a model is
given, else ``mediapipe``). ``openpose``: pose files only (a video without one fails). ``mediapipe`` /
``onnx``: that backend on the decoded frames of every clip, ignoring pose files."""

CROP_FORMATS = ("h264", "mp4v", "npy")
DEVICE_CHOICES = ("auto", "cpu", "cuda")

SALIENCY = {"min_score": 0.1, "motion_gain": 2.0, "emphasis_gain": 1.0, "keep": 0.25,
            "quantiles": (0.02, 0.98), "margin": 0.15, "min_size": 32.0}
"""Saliency-box parameters used by extraction (:func:`mgfast.ops.saliency_boxes`), recorded in meta.json."""

CROP_DTYPE_NOTE = (
    "uint8 RGB: mgfast.ops.crop_resize computes float32 (roi_align, aligned=True, sampling_ratio=-1) from the "
    "original-resolution frames, then rounds half to even and clamps to [0, 255]"
)


BACKGROUND_GAP = 8
"""Default distance, in frames, between a background window and any annotated segment: annotators mark a
gesture's onset and end by eye, and a window touching a segment would hold the gesture's first or last frames."""


@dataclass(frozen=True)
class BackgroundOptions:
    """Background ("no gesture") windows cut from the unannotated spans of labelled videos
    (:func:`mgfast.extract.plan.background_windows`): about ``ratio`` per annotated segment, at least ``gap``
    frames from every segment, ``length`` frames long or, when None, as long as the video's segments."""

    ratio: float
    gap: int = BACKGROUND_GAP
    length: int | None = None

    def __post_init__(self) -> None:
        ratio = self.ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio <= 0:
            raise ValueError(f"--background must be a positive number of windows per segment (e.g. 1), got {ratio!r}")
        if isinstance(self.gap, bool) or not isinstance(self.gap, int) or self.gap < 0:
            raise ValueError(f"--background-gap must be a whole number of frames >= 0, got {self.gap!r}")
        length = self.length
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise ValueError(f"--background-length must be a whole number of frames >= 1, got {self.length!r}")


@dataclass(frozen=True)
class ExtractOptions:
    """Options of :func:`mgfast.extract.extract` (see there)."""

    crop_size: int = 224
    crops: bool = True
    crop_format: str = "h264"
    pose: str = "auto"
    pose_model: Path | None = None
    device: str = "auto"
    workers: int = 1
    shard: tuple[int, int] | None = None
    chunk_frames: int = 128
    overwrite: bool = False
    background: BackgroundOptions | None = None  # not in params(): it adds clips, it does not change any clip's files

    def __post_init__(self) -> None:
        if isinstance(self.crop_size, bool) or not isinstance(self.crop_size, int) or self.crop_size < 2:
            raise ValueError(f"crop size must be an integer >= 2, got {self.crop_size!r}")
        if self.crop_format not in CROP_FORMATS:
            raise ValueError(f"crop format must be one of {', '.join(CROP_FORMATS)}, got {self.crop_format!r}")
        if self.crops and self.crop_format != "npy" and self.crop_size % 2:
            raise ValueError(f"video crops need an even crop size (yuv420p), got {self.crop_size}; use an even size or crop format npy")
        if self.pose not in POSE_CHOICES:
            raise ValueError(f"pose must be one of {', '.join(POSE_CHOICES)}, got {self.pose!r}")
        if self.pose == "onnx" and self.pose_model is None:
            raise ValueError("pose backend onnx needs a model: pass --pose-model PATH.onnx")
        if self.pose_model is not None and not Path(self.pose_model).is_file():
            raise FileNotFoundError(f"pose model not found: {self.pose_model}")
        if self.device not in DEVICE_CHOICES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {self.workers!r}")
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {self.chunk_frames!r}")
        if self.shard is not None:
            index, count = self.shard
            if not 1 <= index <= count:
                raise ValueError(f"shard must be i/n with 1 <= i <= n, got {index}/{count}")

    def params(self) -> dict:
        """The parameters that decide what the files hold: a rerun with other values cannot reuse them."""
        return {
            "crop_size": self.crop_size if self.crops else None,
            "crops": self.crops,
            "crop_format": self.crop_format if self.crops else None,
            "crop_dtype": CROP_DTYPE_NOTE if self.crops else None,
            "pose": self.pose,
            "pose_model": str(Path(self.pose_model).resolve()) if self.pose_model is not None else None,
            "keypoints": "mg68 float32 [T, 68, 3] (x, y, score) in original frame pixels",
            "saliency": {k: list(v) if isinstance(v, tuple) else v for k, v in SALIENCY.items()},
        }


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1-based: shards 1/4 .. 4/4) -> ``(i, n)``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"shard must look like i/n (e.g. 2/4), got {text!r}")
    index, count = int(match[1]), int(match[2])
    if not 1 <= index <= count:
        raise ValueError(f"shard must be i/n with 1 <= i <= n, got {text!r}")
    return index, count
