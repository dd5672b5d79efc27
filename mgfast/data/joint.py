"""Joint-branch input: ``(x, y, score)`` per joint, normalised to the clip's box, as ``[B, T, V, 3]``.

Coordinates are mapped so the box's centre is 0 and its longer half-side 1: the clip's saliency box from
the manifest (``box="saliency"``, where the hands and face are, so their small movements span most of the
range) or PoseC3D's compact box of all detected points (``box="compact"``, every point within [-1, 1]).
Undetected points are ``(0, 0, 0)``. Training flips horizontally with probability ``flip_prob``
(``x -> -x`` and left/right joints swapped by the layout); at test time each of the ``num_clips`` fixed
samplings is also seen flipped when ``test_flip``, and the logits are averaged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from mgfast.data import pose_aug
from mgfast.data.inputs import BOXES, Box, check_padding, keypoints_of
from mgfast.data.sampling import uniform_sample_indices
from mgfast.io.dataset import Clip, Dataset
from mgfast.layout import Layout



def flip_normalised(x: np.ndarray | torch.Tensor, flip_index: list[int]):
    """Horizontal flip of box-normalised keypoints ``[..., V, 3]``: x negated, left and right joints swapped."""
    out = x[..., flip_index, :]
    out = out.copy() if isinstance(out, np.ndarray) else out.clone()
    out[..., 0] = -out[..., 0]
    return out


class JointInput:
    """Box-normalised keypoint sequences."""

    modality = "joint"

    def __init__(self, layout: Layout, *, clip_len: int = 64, box: Box = "saliency", compact_padding: float = 0.25,
                 flip_prob: float = 0.5, test_flip: bool = True):
        if box not in BOXES:
            raise ValueError(f"joint box must be one of {', '.join(BOXES)}, got {box!r}")
        check_padding(compact_padding)
        self.layout = layout
        self.clip_len, self.box, self.compact_padding = clip_len, box, compact_padding
        self.flip_prob, self.test_flip = flip_prob, test_flip
        self.flip_index = list(layout.joint_flip_index())

    def _box(self, clip: Clip, kp: np.ndarray) -> tuple[float, float, float, float]:
        if self.box == "compact":
            compact = pose_aug.compact_box(kp, padding=self.compact_padding, hw_ratio=1.0)
            if compact is not None:
                return tuple(float(v) for v in compact)
        return clip.box

    def load(self, dataset: Dataset, clip: Clip, *, train: bool, num_clips: int,
             rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        kp = pose_aug.mark_missing(keypoints_of(dataset, clip))
        indices = uniform_sample_indices(len(kp), self.clip_len, num_clips=1 if train else num_clips,
                                         train=train, rng=rng)
        views = pose_aug.normalise_to_box(kp[indices], self._box(clip, kp))  # [num_clips, T, V, 3]
        if not train:
            return {"keypoints": views}
        assert rng is not None
        if rng.random() < self.flip_prob:
            views = flip_normalised(views, self.flip_index)
        return {"keypoints": views[0]}

    def train_batch(self, batch: dict, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        return batch["keypoints"].to(device, dtype, non_blocking=True)

    def eval_views(self, batch: dict, device: torch.device, dtype: torch.dtype) -> Iterator[torch.Tensor]:
        keypoints = batch["keypoints"].to(device, dtype, non_blocking=True)  # [B, num_clips, T, V, 3]
        for j in range(keypoints.shape[1]):
            view = keypoints[:, j]
            yield torch.cat([view, flip_normalised(view, self.flip_index)]) if self.test_flip else view

    def views_per_clip(self, num_clips: int) -> int:
        return num_clips * (2 if self.test_flip else 1)

    def network_options(self) -> dict[str, Any]:
        return {}
