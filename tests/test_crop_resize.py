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


# Edge paths of the separable kernel: its per-axis tap tables, their padding at the frame's edges, and work
# split into bands of output rows.
EDGE_BOXES = {
    "entirely outside, every side": [[-40.0, 5.0, -2.5, 20.0], [70.0, 3.0, 90.0, 30.0], [4.0, -30.0, 30.0, -1.5], [5.0, 41.5, 40.0, 70.0]],
    "partly outside, every side": [[-15.5, 2.0, 20.0, 30.0], [40.0, 4.0, 80.0, 33.0], [3.0, -20.0, 30.0, 25.0], [6.0, 20.0, 50.0, 66.0]],
    "upsampling, grid 1": [[10.0, 12.0, 13.0, 15.5], [0.0, 0.0, 1.0, 1.0], [62.5, 38.5, 64.0, 40.0], [20.25, 7.75, 30.5, 18.0]],
    "tall and thin": [[30.0, -3.0, 31.5, 45.0], [0.0, 0.0, 0.7, 40.0], [-2.0, 10.0, 66.0, 11.0], [5.0, 39.0, 60.0, 40.0]],
    "frame-sized and larger": [[0.0, 0.0, 64.0, 40.0], [-64.0, -40.0, 128.0, 80.0], [0.5, 0.5, 63.5, 39.5], [-1.0, -1.0, 65.0, 41.0]],
}


@pytest.mark.parametrize("case", sorted(EDGE_BOXES))
@pytest.mark.parametrize("size", [(9, 13), (37, 21), (1, 1)])
def test_edge_boxes_match_roi_align(case, size):
    rng = np.random.default_rng(len(case) * 31 + size[0])
    frames, boxes = random_frames(rng, 4, 40, 64), torch.tensor(EDGE_BOXES[case])
    out = ops.crop_resize(frames, boxes, size)
    torch.testing.assert_close(out, roi_align_reference(frames, boxes, size), atol=TOL, rtol=0)


@pytest.mark.parametrize("h,w", [(1, 1), (1, 37), (29, 1), (3, 2)])
def test_one_pixel_wide_or_tall_frames_match_roi_align(h, w):
    rng = np.random.default_rng(h * 100 + w)
    frames, boxes = random_frames(rng, 5, h, w), random_boxes(rng, 5, h, w)
    out = ops.crop_resize(frames, boxes, (6, 5))
    torch.testing.assert_close(out, roi_align_reference(frames, boxes, (6, 5)), atol=TOL, rtol=0)


def test_large_downscale_of_hd_frames_matches_reference():
    # Bins of 100+ pixels per axis: long tap runs (and on CUDA the direct fallback beyond its tables).
    # Against the float64 reference: roi_align's own float32 sum over 26,000 samples a bin is off by ~1e-3.
    rng = np.random.default_rng(8)
    frames = random_frames(rng, 2, 720, 1280)
    boxes = torch.tensor([[0.0, 0.0, 1280.0, 720.0], [-300.0, 100.5, 1100.0, 700.0]])
    out = ops.crop_resize(frames, boxes, (5, 7))
    np.testing.assert_allclose(out.numpy(), reference.crop_resize(frames.numpy(), boxes.numpy(), (5, 7)), atol=TOL, rtol=0)


def test_channels_stay_apart():
    # Each channel constant with its own value: any mixing of interleaved RGB shows as a wrong value.
    frames = torch.empty(3, 31, 47, 3, dtype=torch.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 10, 200, 77
    boxes = torch.tensor([[3.0, 2.0, 40.0, 30.0], [10.5, 4.5, 13.0, 9.0], [0.0, 0.0, 47.0, 31.0]])
    out = ops.crop_resize(frames, boxes, (11, 17))
    for c, value in enumerate((10.0, 200.0, 77.0)):
        np.testing.assert_allclose(out[:, c].numpy(), value, atol=TOL)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_every_dtype_with_fused_normalisation_matches_roi_align(dtype):
    rng = np.random.default_rng(9)
    frames, boxes = random_frames(rng, 6, 50, 70), random_boxes(rng, 6, 50, 70)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    out = ops.crop_resize(frames, boxes, (23, 19), mean=mean, std=std, dtype=dtype)
    expected = (roi_align_reference(frames, boxes, (23, 19)) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert out.dtype == dtype
    ulp = {torch.float32: 0.0, torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}[dtype]
    torch.testing.assert_close(out.float(), expected, atol=TOL, rtol=ulp)


def test_rows_split_into_bands_do_not_change_the_result():
    # Tall outputs are split into bands of rows across threads; the result must not depend on the split.
    rng = np.random.default_rng(10)
    frames, boxes = random_frames(rng, 3, 90, 60), random_boxes(rng, 3, 90, 60, outside=False)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.crop_resize(frames, boxes, (70, 33))
        torch.set_num_threads(max(2, previous))
        many = ops.crop_resize(frames, boxes, (70, 33))
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(one, many)
    torch.testing.assert_close(one, roi_align_reference(frames, boxes, (70, 33)), atol=TOL, rtol=0)
