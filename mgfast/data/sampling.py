"""Uniform temporal sampling of a fixed number of frames from a clip (PoseC3D's ``UniformSampleFrames``).

The clip is split into ``clip_len`` equal segments and one frame is taken from each: at a random position
in training, at a fixed pseudo-random position at test time (the generator is seeded with the same
constant for every clip, as PoseC3D does, so predictions do not depend on the order clips are read in).
Clips shorter than ``clip_len`` loop; clips shorter than twice ``clip_len`` keep their frames in order and
skip a random subset of them.
"""

from __future__ import annotations

import numpy as np

TEST_SEED = 255
"""Seed of the test-time sampler (PoseC3D's value)."""


def _one_clip(num_frames: int, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    if clip_len <= num_frames < 2 * clip_len:
        # Keep clip_len of the frames in order: skip num_frames - clip_len of them, chosen at random.
        skips = np.zeros(clip_len + 1, dtype=np.int64)
        skips[rng.choice(clip_len + 1, num_frames - clip_len, replace=False)] = 1
        return np.arange(clip_len) + np.cumsum(skips)[:-1]
    bounds = np.arange(clip_len + 1, dtype=np.int64) * num_frames // clip_len
    return bounds[:-1] + rng.integers(np.diff(bounds))


def uniform_sample_indices(
    num_frames: int, clip_len: int, *, num_clips: int = 1, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Frame indices ``int64 [num_clips, clip_len]``, each in ``[0, num_frames)``.

    Args:
        num_frames: frames in the clip (>= 1).
        clip_len: frames to sample per clip (>= 1).
        num_clips: how many clips to sample (test time averages over several).
        train: random positions from ``rng`` (required); else fixed positions from a generator seeded with
            :data:`TEST_SEED`, identical on every call.
        rng: the training generator.
    """
    if num_frames < 1 or clip_len < 1 or num_clips < 1:
        raise ValueError(f"need num_frames, clip_len and num_clips >= 1, got {num_frames}, {clip_len}, {num_clips}")
    if train and rng is None:
        raise ValueError("training sampling needs a random generator (rng=)")
    if not train:
        rng = np.random.default_rng(TEST_SEED)
    assert rng is not None
    clips = []
    for i in range(num_clips):
        if num_frames < clip_len:
            # Loop the clip; at test time successive clips start at evenly spread frames.
            if train:
                start = int(rng.integers(num_frames))
            else:
                start = i if num_frames < num_clips else i * num_frames // num_clips
            clips.append(np.arange(start, start + clip_len))
        else:
            clips.append(_one_clip(num_frames, clip_len, rng))
    return np.stack(clips).astype(np.int64) % num_frames
