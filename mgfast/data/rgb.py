"""RGB-branch input: frames of the saliency crop clip, cropped, resized and normalised on the device.

Workers decode the dataset's crop clip (``mgfast.io.video.read_clip``: uint8 ``[T, h, w, 3]``; a
:class:`HeldCrops` dataset hands its frames over instead), pick
``clip_len`` frames uniformly and, in training, draw a random resized crop box (crop-pixel coordinates,
one per clip) and a flip. The device does the rest in one pass per batch with
:func:`mgfast.ops.crop_resize`: anti-aliased crop-resize to ``size`` with the mean/std normalisation fused,
giving ``[B, 3, T, size, size]``; flipped clips are mirrored after. At test time each of the
``num_clips`` samplings is resized whole (and flipped when ``test_flip``) and the logits averaged.

With ``residual=True`` the network sees each frame minus the clip's mean frame (per pixel and channel, over
the ``clip_len`` sampled frames) instead of the frames themselves. What stays still in a clip -- backdrop,
clothing, skin, lighting, the subject's build -- cancels, and what moves -- the gesture -- remains: a network
trained from scratch on a few subjects can then no longer tell the classes apart by who performs them.

Decoding a crop clip costs far more than training on it at small sizes (about 17 ms for 30 frames of
64 x 64 H.264 on one core), and every epoch decodes every clip again. ``cache_mb`` keeps up to that many
MiB of decoded clips per process (each loader worker holds its own), least recently used first out.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from mgfast.data import pose_aug
from mgfast.data.sampling import uniform_sample_indices
from mgfast.io.dataset import Clip, Dataset
from mgfast.io.video import read_clip
from mgfast.ops import crop_resize, crop_resize_clip

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@runtime_checkable
class HeldCrops(Protocol):
    """A dataset whose crops are in memory, not in files (`mgfast recognize`'s windows). They bypass the cache,
    which is keyed by file path: one video's windows are named like another's."""

    def held_crop(self, clip: Clip) -> np.ndarray:
        """uint8 ``[T, h, w, 3]``: the clip's crop frames."""
        ...


class RGBInput:
    """Saliency-crop frames, crop-resized on the training device."""

    modality = "rgb"

    def __init__(self, *, clip_len: int = 16, train_size: int = 224, test_size: int = 224,
                 area_range: tuple[float, float] = (0.08, 1.0), aspect_range: tuple[float, float] = (3 / 4, 4 / 3),
                 flip_prob: float = 0.5, test_flip: bool = True, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, residual: bool = False, cache_mb: float = 0.0):
        if residual and clip_len < 2:
            raise ValueError(f"residual input needs clip_len >= 2 (one frame minus its own mean is zero), got {clip_len}")
        if isinstance(cache_mb, bool) or not isinstance(cache_mb, (int, float)) or not (math.isfinite(cache_mb) and cache_mb >= 0):
            raise ValueError(f"cache_mb must be a non-negative number of MiB (0 turns the cache off), got {cache_mb!r}")
        self.clip_len, self.train_size, self.test_size = clip_len, train_size, test_size
        self.area_range, self.aspect_range = tuple(area_range), tuple(aspect_range)
        self.flip_prob, self.test_flip = flip_prob, test_flip
        self.mean, self.std = list(mean), list(std)
        self.residual = residual
        self.cache_bytes = int(cache_mb * 2**20)
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def __getstate__(self) -> dict:
        # Workers start with an empty cache instead of a copy of this process's.
        state = self.__dict__.copy()
        state["_cache"], state["_cached_bytes"] = OrderedDict(), 0
        return state

    # ---- worker side

    def read_frames(self, path: Path) -> np.ndarray:
        """The decoded clip at ``path`` (read-only when cached), from the cache when it is there."""
        frames = self._cache.get(path)
        if frames is not None:
            self._cache.move_to_end(path)
            return frames
        frames = read_clip(path)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise ValueError(f"{path}: expected uint8 frames [T, h, w, 3], got {frames.dtype} {list(frames.shape)}")
        if frames.nbytes <= self.cache_bytes:
            frames.flags.writeable = False
            self._cache[path] = frames
            self._cached_bytes += frames.nbytes
            while self._cached_bytes > self.cache_bytes:
                self._cached_bytes -= self._cache.popitem(last=False)[1].nbytes
        return frames

    def load(self, dataset: Dataset, clip: Clip, *, train: bool, num_clips: int,
             rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        frames = dataset.held_crop(clip) if isinstance(dataset, HeldCrops) else self.read_frames(dataset.crop_path(clip))
        h, w = frames.shape[1:3]
        indices = uniform_sample_indices(len(frames), self.clip_len, num_clips=1 if train else num_clips,
                                         train=train, rng=rng)
        if not train:
            return {"frames": frames[indices], "box": np.array([0, 0, w, h], np.float32)}
        assert rng is not None
        box = pose_aug.random_resized_crop_box((h, w), rng, area_range=self.area_range, aspect_range=self.aspect_range)
        return {"frames": frames[indices[0]], "box": np.array(box, np.float32), "flip": np.bool_(rng.random() < self.flip_prob)}

    # ---- device side

    def crop(self, frames: torch.Tensor | list[torch.Tensor], boxes: torch.Tensor, size: int,
             device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Frames ``[B, T, h, w, 3]`` uint8 (or a list of ``[T, h_i, w_i, 3]`` when sizes differ) and one box
        per clip ``[B, 4]`` -> normalised ``[B, 3, T, size, size]`` (minus the mean frame when ``residual``)."""
        boxes = boxes.to(device, torch.float32, non_blocking=True)
        if isinstance(frames, list):
            out = torch.stack([crop_resize_clip(f.to(device, non_blocking=True), b, size, mean=self.mean,
                                                std=self.std, dtype=dtype) for f, b in zip(frames, boxes)])
        else:
            b, t = frames.shape[:2]
            flat = frames.to(device, non_blocking=True).reshape(b * t, *frames.shape[2:])
            out = crop_resize(flat, boxes.repeat_interleave(t, 0), size, mean=self.mean, std=self.std, dtype=dtype)
            out = out.view(b, t, 3, size, size).transpose(1, 2).contiguous()
        if self.residual:
            # Averaged in float32: a half-precision sum over T frames loses the small differences kept here.
            out = (out.float() - out.float().mean(2, keepdim=True)).to(dtype)
        return out

    def train_batch(self, batch: dict, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        x = self.crop(batch["frames"], batch["box"], self.train_size, device, dtype)
        flip = batch["flip"].to(device).view(-1, 1, 1, 1, 1)
        return torch.where(flip, x.flip(-1), x)

    def eval_views(self, batch: dict, device: torch.device, dtype: torch.dtype) -> Iterator[torch.Tensor]:
        frames = batch["frames"]  # [B, num_clips, T, h, w, 3] or a list of [num_clips, T, h_i, w_i, 3]
        num_clips = frames[0].shape[0] if isinstance(frames, list) else frames.shape[1]
        for j in range(num_clips):
            view = [f[j] for f in frames] if isinstance(frames, list) else frames[:, j]
            x = self.crop(view, batch["box"], self.test_size, device, dtype)
            yield torch.cat([x, x.flip(-1)]) if self.test_flip else x

    def views_per_clip(self, num_clips: int) -> int:
        return num_clips * (2 if self.test_flip else 1)

    def network_options(self) -> dict[str, Any]:
        return {}
