"""The pose-estimator interface: RGB frames in, mg68 keypoints in frame pixels out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class PoseBackend(ABC):
    """A pose estimator for one person per frame.

    ``estimate(frames)`` takes uint8 RGB frames ``[T, H, W, 3]`` and returns float32 mg68 keypoints
    ``[T, 68, 3]`` = (x, y, score) in frame pixels; score 0 marks a point that was not found (x = y = 0).
    Backends that hold resources release them in :meth:`close`; they are also context managers.
    """

    name: str = ""

    @abstractmethod
    def estimate(self, frames: np.ndarray) -> np.ndarray:
        """mg68 keypoints ``[T, 68, 3]`` for RGB frames ``[T, H, W, 3]``."""

    def close(self) -> None:
        """Releases what the backend holds (sessions, graphs); the default holds nothing."""

    def __enter__(self) -> PoseBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_frames(frames: object) -> np.ndarray:
    """``frames`` as a C-contiguous uint8 array ``[T, H, W, 3]``; raises TypeError/ValueError otherwise."""
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array [T, H, W, 3] of uint8 RGB, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape [T, H, W, 3] (RGB), got {list(frames.shape)}")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"frames must have a positive height and width, got {list(frames.shape)}")
    return np.ascontiguousarray(frames)
