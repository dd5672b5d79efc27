"""Bad input to the ops raises TypeError/ValueError naming the argument, never crashes or answers wrongly."""

from __future__ import annotations

import pytest
import torch

from mgfast import ops

KP = torch.rand(2, 4, 68, 2) * 50
SC = torch.rand(2, 4, 68)
FRAMES = torch.randint(0, 256, (3, 40, 60, 3), dtype=torch.uint8)
BOXES = torch.tensor([[2.0, 3.0, 30.0, 35.0]]).repeat(3, 1)


def heatmaps(**overrides):
    args = {"keypoints": KP, "scores": SC, "size": 56}
    args.update(overrides)
    return ops.render_heatmaps(args.pop("keypoints"), args.pop("scores"), **args)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        ({"keypoints": KP.numpy()}, TypeError, "keypoints must be a torch.Tensor"),
        ({"keypoints": KP.to(torch.int32)}, TypeError, "keypoints must be a floating-point"),
        ({"keypoints": KP[..., :1]}, ValueError, r"keypoints must have shape \[N, M, T, V, 2\]"),
        ({"keypoints": KP[0]}, ValueError, "keypoints must have shape"),
        ({"scores": SC[:, :3]}, ValueError, "scores must have shape"),
        ({"scores": SC.to(torch.int64)}, TypeError, "scores must be a floating-point"),
        ({"scores": None}, ValueError, "scores are required"),
        ({"size": 0}, ValueError, "size"),
        ({"size": (56, -1)}, ValueError, "size"),
        ({"size": (56, 56, 3)}, ValueError, "size"),
        ({"sigma": 0.0}, ValueError, "sigma must be a finite positive number"),
        ({"sigma": -1.0}, ValueError, "sigma"),
        ({"sigma": float("nan")}, ValueError, "sigma"),
        ({"eps": -1e-3}, ValueError, "eps"),
        ({"scaling": 0.0}, ValueError, "scaling"),
        ({"size": 1, "scaling": 0.1}, ValueError, "at least one pixel"),
        ({"mode": "bones"}, ValueError, "mode must be 'joints' or 'limbs'"),
        ({"mode": "limbs", "limbs": [(0, 68)]}, ValueError, "limbs"),
        ({"mode": "limbs", "limbs": []}, ValueError, "limbs"),
        ({"dtype": torch.float64}, (TypeError, ValueError), "dtype"),
        ({"flip": True, "flip_pairs": [(0, 99)]}, ValueError, "flip_pairs"),
    ],
)
def test_render_heatmaps_rejects(overrides, error, match):
    with pytest.raises(error, match=match):
        heatmaps(**overrides)


def test_render_heatmaps_needs_a_layout_for_unknown_joint_counts():
    with pytest.raises(ValueError, match="needs a layout"):
        ops.render_heatmaps(KP[..., :10, :], SC[..., :10], size=56, mode="limbs")


def test_render_heatmaps_on_a_meta_device_input_names_the_devices():
    with pytest.raises(ValueError, match="scores is on meta"):
        heatmaps(scores=SC.to("meta"))


def test_non_contiguous_keypoints_are_copied_not_rejected():
    strided = torch.rand(2, 4, 68, 4)[..., ::2] * 50
    expected = ops.render_heatmaps(strided.contiguous(), SC, size=32)
    assert torch.equal(ops.render_heatmaps(strided, SC, size=32), expected)


def crop(**overrides):
    args = {"frames": FRAMES, "boxes": BOXES, "size": 16}
    args.update(overrides)
    return ops.crop_resize(args.pop("frames"), args.pop("boxes"), args.pop("size"), **args)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        ({"frames": FRAMES.float()}, TypeError, "frames must be uint8"),
        ({"frames": FRAMES[..., :2]}, ValueError, r"frames must have shape \[N, H, W, 3\]"),
        ({"frames": FRAMES[0]}, ValueError, "frames must have shape"),
        ({"frames": FRAMES[:, :0]}, ValueError, "non-empty image"),
        ({"boxes": BOXES.long()}, TypeError, "boxes must be a floating-point"),
        ({"boxes": BOXES[:2]}, ValueError, r"one per frame"),
        ({"boxes": BOXES[:, :3]}, ValueError, "boxes must be"),
        ({"boxes": torch.tensor([5.0, 3.0, 5.0, 30.0])}, ValueError, "x1 > x0"),
        ({"boxes": torch.tensor([5.0, 30.0, 9.0, 3.0])}, ValueError, "y1 > y0"),
        ({"boxes": torch.tensor([float("nan"), 3.0, 9.0, 30.0])}, ValueError, "finite"),
        ({"size": 0}, ValueError, "size"),
        ({"mean": [1.0, 2.0]}, ValueError, "mean"),
        ({"std": [1.0, 0.0, 1.0]}, ValueError, "std must be non-zero"),
        ({"dtype": torch.uint8}, (TypeError, ValueError), "dtype"),
    ],
)
def test_crop_resize_rejects(overrides, error, match):
    with pytest.raises(error, match=match):
        crop(**overrides)


def test_crop_resize_clip_names_its_own_arguments():
    with pytest.raises(TypeError, match="clip must be uint8"):
        ops.crop_resize_clip(FRAMES.float(), BOXES[0], 16)
    with pytest.raises(ValueError, match="box must be"):
        ops.crop_resize_clip(FRAMES, BOXES[:2], 16)


def test_crop_resize_mixed_devices():
    with pytest.raises(ValueError, match="boxes is on meta"):
        crop(boxes=BOXES.to("meta"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"keypoints": torch.rand(5, 68, 2)}, r"\[T, V, 3\]"),
        ({"frame_size": (0, 10)}, "frame_size"),
        ({"keep": 1.5}, "keep"),
        ({"quantiles": (0.9, 0.1)}, "quantiles"),
        ({"margin": -0.1}, "margin"),
    ],
)
def test_saliency_boxes_rejects(kwargs, match):
    args = {"keypoints": torch.rand(5, 68, 3), "frame_size": (720, 1280)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ops.saliency_boxes(args.pop("keypoints"), args.pop("frame_size"), **args)
