"""What every branch's input pipeline provides, split between data-loader workers and the training device.

Workers call :meth:`ClipInput.load` (numpy, cheap: keypoints or undecoded-sized uint8 frames); the training
loop calls :meth:`ClipInput.train_batch` / :meth:`ClipInput.eval_views` on the collated batch, which do the
expensive part (rendering heatmap volumes, crop-resizing frames) on the training device with mgfast's ops.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal, Protocol, get_args

import numpy as np
import torch

from mgfast.io.dataset import Clip, Dataset

Box = Literal["saliency", "compact"]
BOXES: tuple[str, ...] = get_args(Box)
"""Boxes a clip's keypoints can be normalised to: the saliency box from extraction (hands and face), or
PoseC3D's compact box around every detected point."""


class ClipInput(Protocol):
    """A branch's input pipeline."""

    modality: str

    def load(self, dataset: Dataset, clip: Clip, *, train: bool, num_clips: int,
             rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        """One clip's worker-side sample: training (one augmented view, random from ``rng``) or test
        (``num_clips`` fixed views stacked on a leading axis)."""
        ...

    def train_batch(self, batch: dict, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The model input ``[B, ...]`` of a collated training batch."""
        ...

    def eval_views(self, batch: dict, device: torch.device, dtype: torch.dtype) -> Iterator[torch.Tensor]:
        """Model inputs for a collated test batch: each ``[k * B, ...]`` holds k views of the B clips (view
        major); the logits of all views are averaged per clip."""
        ...

    def views_per_clip(self, num_clips: int) -> int:
        """How many views :meth:`eval_views` yields per clip in total."""
        ...

    def network_options(self) -> dict[str, Any]:
        """Network options that this pipeline's output fixes (e.g. the heatmap volume's channels)."""
        ...


def check_padding(compact_padding: float) -> None:
    """The compact box's padding is a non-negative fraction of the box."""
    if not (math.isfinite(compact_padding) and compact_padding >= 0):
        raise ValueError(f"compact_padding must be a non-negative number, got {compact_padding!r}")


def keypoints_of(dataset: Dataset, clip: Clip) -> np.ndarray:
    """The clip's keypoints, checked against the dataset's layout: float32 ``[T, V, 3]``."""
    kp = dataset.keypoints(clip)
    v = dataset.layout.num_joints
    if kp.ndim != 3 or kp.shape[1:] != (v, 3) or kp.shape[0] == 0:
        raise ValueError(f"{dataset.root / clip.keypoints}: expected keypoints [T, {v}, 3] for layout "
                         f"{dataset.layout.name!r}, got {list(kp.shape)}; rerun `mgfast extract`")
    return kp
