"""crop_resize against torchvision's roi_align and the NumPy reference, on random frames and boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reference
from mgfast import ops

roi_align = pytest.importorskip("torchvision.ops").roi_align

TOL = 1e-4


def random_frames(rng, n, h, w):
    return torch.from_numpy(rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8))


def random_boxes(rng, n, h, w, *, outside=True):
    """Boxes of many scales: tiny (upscaling), large (downscaling), and partly or wholly outside the frame."""
    margin = 0.3 if outside else 0.0
    x0 = rng.uniform(-margin * w, w * (1 - 0.05), n)
    y0 = rng.uniform(-margin * h, h * (1 - 0.05), n)
    bw = np.exp(rng.uniform(np.log(0.5), np.log(w * (1 + margin)), n))
    bh = np.exp(rng.uniform(np.log(0.5), np.log(h * (1 + margin)), n))
    return torch.from_numpy(np.stack([x0, y0, x0 + bw, y0 + bh], 1).astype(np.float32))


def roi_align_reference(frames: torch.Tensor, boxes: torch.Tensor, size) -> torch.Tensor:
    """torchvision on the same frames as float, one box per frame."""
    images = frames.permute(0, 3, 1, 2).float()
    rois = torch.cat([torch.arange(len(boxes), dtype=torch.float32)[:, None], boxes], 1)
    return roi_align(images, rois, size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)


@pytest.mark.parametrize(
    "n,h,w,size",
    [(6, 48, 64, (16, 16)), (5, 37, 23, (7, 11)), (3, 90, 160, (32, 24)), (4, 1, 1, (3, 3)), (2, 5, 7, (40, 40))],
)
def test_matches_torchvision_roi_align(n, h, w, size):
    rng = np.random.default_rng(h * w)
    frames, boxes = random_frames(rng, n, h, w), random_boxes(rng, n, h, w)
    out = ops.crop_resize(frames, boxes, size)
    torch.testing.assert_close(out, roi_align_reference(frames, boxes, size), atol=TOL, rtol=0)


def test_matches_numpy_reference_with_normalisation():
    rng = np.random.default_rng(1)
    frames, boxes = random_frames(rng, 4, 40, 52), random_boxes(rng, 4, 40, 52)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    out = ops.crop_resize(frames, boxes, (13, 17), mean=mean, std=std)
    expected = reference.crop_resize(frames.numpy(), boxes.numpy(), (13, 17), mean, std)
    np.testing.assert_allclose(out.numpy(), expected, atol=TOL, rtol=0)


def test_large_downscale_averages_instead_of_aliasing():
    # A one-pixel checkerboard shrunk 16x: bilinear point sampling would alias; the adaptive grid averages.
    yy, xx = np.mgrid[:256, :256]
    board = np.where((yy + xx) % 2 == 0, 255, 0).astype(np.uint8)
    frames = torch.from_numpy(np.repeat(board[None, :, :, None], 3, axis=3))
    out = ops.crop_resize(frames, torch.tensor([0.0, 0.0, 256.0, 256.0]), 16)
    np.testing.assert_allclose(out.numpy(), 127.5, atol=1e-3)


def test_one_box_for_all_frames_equals_repeated_boxes():
    rng = np.random.default_rng(2)
    frames = random_frames(rng, 5, 30, 40)
    box = torch.tensor([3.5, 2.0, 31.0, 25.5])
    shared = ops.crop_resize(frames, box, 12)
    assert torch.equal(shared, ops.crop_resize(frames, box[None].expand(5, 4), 12))
    assert torch.equal(shared, ops.crop_resize(frames, box[None], 12))


def test_clip_form_is_channel_first_transpose():
    rng = np.random.default_rng(3)
    clip, boxes = random_frames(rng, 6, 33, 45), random_boxes(rng, 6, 33, 45)
    per_frame = ops.crop_resize(clip, boxes, (9, 14), mean=[1, 2, 3], std=[4, 5, 6])
    as_clip = ops.crop_resize_clip(clip, boxes, (9, 14), mean=[1, 2, 3], std=[4, 5, 6])
    assert as_clip.shape == (3, 6, 9, 14)
    assert torch.equal(as_clip, per_frame.transpose(0, 1))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_output_is_rounded_float32(dtype):
    rng = np.random.default_rng(4)
    frames, boxes = random_frames(rng, 3, 40, 40), random_boxes(rng, 3, 40, 40)
    full = ops.crop_resize(frames, boxes, 10, mean=[120, 110, 100], std=[50, 60, 0.01])
    low = ops.crop_resize(frames, boxes, 10, mean=[120, 110, 100], std=[50, 60, 0.01], dtype=dtype)
    assert torch.equal(low.view(torch.int16), full.to(dtype).view(torch.int16))


def test_non_contiguous_frames_are_accepted():
    rng = np.random.default_rng(5)
    frames = random_frames(rng, 4, 30, 30)
    strided = frames[::2]
    box = torch.tensor([2.0, 3.0, 20.0, 28.0])
    assert torch.equal(ops.crop_resize(strided, box, 8), ops.crop_resize(strided.contiguous(), box, 8))


def test_thread_count_does_not_change_the_result():
    rng = np.random.default_rng(6)
    frames, boxes = random_frames(rng, 7, 50, 60), random_boxes(rng, 7, 50, 60)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.crop_resize(frames, boxes, 16)
        torch.set_num_threads(max(2, previous))
        many = ops.crop_resize(frames, boxes, 16)
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(one, many)


def test_hd_frame_to_224_matches_roi_align():
    rng = np.random.default_rng(7)
    frames = random_frames(rng, 2, 720, 1280)
    boxes = torch.tensor([[200.0, 40.0, 900.0, 740.0], [-50.0, -20.0, 1330.0, 700.0]])
    out = ops.crop_resize(frames, boxes, 224)
    torch.testing.assert_close(out, roi_align_reference(frames, boxes, (224, 224)), atol=TOL, rtol=0)


def test_empty_batch():
    assert ops.crop_resize(torch.zeros(0, 8, 8, 3, dtype=torch.uint8), torch.zeros(0, 4), 4).shape == (0, 3, 4, 4)
