"""saliency_boxes against the NumPy reference of its documented steps, plus the properties users rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reference
from mgfast import ops
from mgfast.layout import MG68

FRAME = (720, 1280)


def seated_subject(rng, t=32, *, moving_joint=MG68.index("RWrist") , amplitude=60.0):
    """A still upper body with one hand moving towards the face; legs detected far below."""
    base = rng.uniform([500, 150], [780, 650], (68, 2))
    kp = np.repeat(base[None], t, 0) + rng.normal(0, 0.5, (t, 68, 2))
    phase = np.sin(np.linspace(0, np.pi, t))[:, None]
    kp[:, moving_joint] += phase * [amplitude, -amplitude]
    score = rng.uniform(0.6, 1.0, (t, 68))
    return np.concatenate([kp, score[..., None]], -1).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference(seed):
    rng = np.random.default_rng(seed)
    kp = seated_subject(rng, t=int(rng.integers(1, 40)), moving_joint=int(rng.integers(0, 68)))
    kp[rng.random(kp.shape[:2]) < 0.1, 2] = 0.0  # dropped detections
    kp[rng.random(kp.shape[:2]) < 0.02, 0] = np.nan
    box = ops.saliency_boxes(torch.from_numpy(kp), FRAME)
    expected = reference.saliency_box(kp, FRAME, MG68.salient)
    np.testing.assert_allclose(box.numpy(), expected, atol=1e-3)


def test_box_is_square_inside_frame_and_covers_the_moving_hand():
    rng = np.random.default_rng(10)
    kp = seated_subject(rng)
    box = ops.saliency_boxes(torch.from_numpy(kp), FRAME).tolist()
    x0, y0, x1, y1 = box
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert 0 <= x0 < x1 <= FRAME[1] and 0 <= y0 < y1 <= FRAME[0]
    hand = kp[:, MG68.index("RWrist"), :2]
    inside = (hand[:, 0] >= x0) & (hand[:, 0] <= x1) & (hand[:, 1] >= y0) & (hand[:, 1] <= y1)
    assert inside.mean() >= 0.9


def test_motion_pulls_the_box_towards_the_moving_joint():
    rng = np.random.default_rng(11)
    kp = seated_subject(rng, amplitude=0.0)
    # A leg joint far from the upper body; when it moves a lot, the box must move towards it.
    knee = MG68.index("LKnee")
    kp[:, knee, :2] = [1100, 650]
    still = ops.saliency_boxes(torch.from_numpy(kp), FRAME)
    kp[:, knee, 0] += np.linspace(0, 150, len(kp))
    moving = ops.saliency_boxes(torch.from_numpy(kp), FRAME)
    centre = lambda b: (b[0] + b[2]) / 2  # noqa: E731
    assert centre(moving) > centre(still) + 50


def test_batch_equals_single_clips_and_keeps_device():
    rng = np.random.default_rng(12)
    clips = np.stack([seated_subject(rng) for _ in range(3)])
    batch = ops.saliency_boxes(torch.from_numpy(clips), FRAME)
    assert batch.shape == (3, 4) and batch.dtype == torch.float32
    for i in range(3):
        assert torch.equal(batch[i], ops.saliency_boxes(torch.from_numpy(clips[i]), FRAME))


def test_clip_without_detections_gets_the_centred_square():
    kp = torch.zeros(5, 68, 3)
    assert ops.saliency_boxes(kp, FRAME).tolist() == [280.0, 0.0, 1000.0, 720.0]


def test_box_never_exceeds_a_small_frame():
    rng = np.random.default_rng(13)
    kp = seated_subject(rng)
    kp[..., 0] *= 0.05
    kp[..., 1] *= 0.05
    x0, y0, x1, y1 = ops.saliency_boxes(torch.from_numpy(kp), (30, 40), min_size=64).tolist()
    assert (x1 - x0, y1 - y0) == (30, 30) and x0 >= 0 and x1 <= 40
