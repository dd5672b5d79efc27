"""Heatmap-branch input: PoseC3D's pipeline on keypoints in the workers, volumes rendered on the device.

Per clip, in a worker (numpy, keypoints only):

- training: ``UniformSampleFrames`` -> ``PoseCompact`` (padding 0.25, height/width ratio 1, may extend
  beyond the frame; or, with ``box="saliency"``, the clip's saliency box from extraction) -> resize to short side ``test_size`` -> ``RandomResizedCrop`` (area 0.56-1.0) ->
  resize to ``train_size`` square -> horizontal flip with probability 0.5 (left/right joints swapped by
  the layout);
- test: ``num_clips`` fixed samplings -> ``PoseCompact`` -> resize to ``test_size`` square.

On the device, :func:`mgfast.ops.render_heatmaps` draws the batch's volume ``[B, C, T, H, W]`` right before
the forward pass; at test time also the flipped copy (``flip=True``), and the logits of all clips and both
copies are averaged. Channels: ``joints`` (one per joint), ``limbs`` (one per limb) or ``both`` (the two
volumes concatenated on the channel axis, fed to one network). PoseC3D's two-stream recipe trains a joint
run and a limb run separately and fuses their logits; with mgfast train two runs (``--heatmap-mode
joints`` and ``limbs``) and give both to ``mgfast fuse``.

A training flip mirrors x about the pixel centres (``x -> W - 1 - x``), the same mirror as the test-time
flipped copy; PoseC3D's keypoint flip uses ``x -> W - x``, one pixel apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal, get_args

import numpy as np
import torch

from mgfast.data import pose_aug
from mgfast.data.inputs import BOXES, Box, check_padding, keypoints_of
from mgfast.data.sampling import uniform_sample_indices
from mgfast.io.dataset import Clip, Dataset
from mgfast.layout import Layout
from mgfast.ops import render_heatmaps

HeatmapMode = Literal["joints", "limbs", "both"]
HEATMAP_MODES: tuple[str, ...] = get_args(HeatmapMode)


class HeatmapInput:
    """Keypoints in the workers, PoseC3D heatmap volumes rendered on the training device."""

    modality = "heatmap"

    def __init__(self, layout: Layout, *, clip_len: int = 48, train_size: int = 56, test_size: int = 64,
                 mode: HeatmapMode = "joints", sigma: float = 0.6, box: Box = "compact", compact_padding: float = 0.25,
                 compact_threshold: float = 10.0, area_range: tuple[float, float] = (0.56, 1.0),
                 aspect_range: tuple[float, float] = (3 / 4, 4 / 3), flip_prob: float = 0.5, test_flip: bool = True):
        if mode not in HEATMAP_MODES:
            raise ValueError(f"heatmap mode must be one of {', '.join(HEATMAP_MODES)}, got {mode!r}")
        if box not in BOXES:
            raise ValueError(f"heatmap box must be one of {', '.join(BOXES)}, got {box!r}")
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        check_padding(compact_padding)
        if mode != "joints" and not layout.limbs:
            raise ValueError(f"heatmap mode {mode!r} needs limbs, but layout {layout.name!r} defines none")
        self.layout = layout
        self.clip_len, self.train_size, self.test_size = clip_len, train_size, test_size
        self.mode, self.sigma, self.box = mode, sigma, box
        self.compact_padding, self.compact_threshold = compact_padding, compact_threshold
        self.area_range, self.aspect_range = tuple(area_range), tuple(aspect_range)
        self.flip_prob, self.test_flip = flip_prob, test_flip
        self.flip_index = layout.joint_flip_index()

    @property
    def channels(self) -> int:
        """Channels of the rendered volume."""
        joints, limbs = self.layout.num_joints, len(self.layout.limbs)
        return {"joints": joints, "limbs": limbs, "both": joints + limbs}[self.mode]

    # ---- worker side

    def load(self, dataset: Dataset, clip: Clip, *, train: bool, num_clips: int,
             rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        kp = pose_aug.mark_missing(keypoints_of(dataset, clip))
        indices = uniform_sample_indices(len(kp), self.clip_len, num_clips=1 if train else num_clips,
                                         train=train, rng=rng)
        views = kp[indices]  # [num_clips, T, V, 3]
        size = (clip.height, clip.width)
        if self.box == "saliency":
            box = clip.box
        else:
            box = pose_aug.compact_box(views, padding=self.compact_padding, threshold=self.compact_threshold,
                                       hw_ratio=1.0)
        if box is not None:
            views, size = pose_aug.crop(views, box)
        if not train:
            return {"keypoints": pose_aug.resize(views, size, (self.test_size, self.test_size))}
        assert rng is not None
        mid = pose_aug.short_side_size(size, self.test_size)
        views = pose_aug.resize(views, size, mid)
        crop_box = pose_aug.random_resized_crop_box(mid, rng, area_range=self.area_range,
                                                    aspect_range=self.aspect_range)
        views, size = pose_aug.crop(views, crop_box)
        views = pose_aug.resize(views, size, (self.train_size, self.train_size))
        if rng.random() < self.flip_prob:
            views = pose_aug.hflip(views, self.train_size, self.flip_index)
        return {"keypoints": views[0]}

    # ---- device side

    def render(self, keypoints: torch.Tensor, size: int, *, flip: bool, dtype: torch.dtype) -> torch.Tensor:
        """``[N, T, V, 3]`` keypoints (pixels of a ``size`` square) -> ``[N or 2N, C, T, size, size]``."""
        xy, score = keypoints[..., :2], keypoints[..., 2]
        modes = ("joints", "limbs") if self.mode == "both" else (self.mode,)
        volumes = [render_heatmaps(xy, score, size=size, sigma=self.sigma, mode=m, layout=self.layout,
                                   flip=flip, dtype=dtype) for m in modes]
        return volumes[0] if len(volumes) == 1 else torch.cat(volumes, 1)

    def train_batch(self, batch: dict, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        keypoints = batch["keypoints"].to(device, non_blocking=True)
        return self.render(keypoints, self.train_size, flip=False, dtype=dtype)

    def eval_views(self, batch: dict, device: torch.device, dtype: torch.dtype) -> Iterator[torch.Tensor]:
        keypoints = batch["keypoints"].to(device, non_blocking=True)  # [B, num_clips, T, V, 3]
        for j in range(keypoints.shape[1]):
            yield self.render(keypoints[:, j], self.test_size, flip=self.test_flip, dtype=dtype)

    def views_per_clip(self, num_clips: int) -> int:
        return num_clips * (2 if self.test_flip else 1)

    def network_options(self) -> dict[str, Any]:
        return {"in_channels": self.channels}
