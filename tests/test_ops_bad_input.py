"""The ops' bad-input matrix: every case raises a clear Python exception naming the argument, or returns
the documented result. None may abort the process or hang."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from mgfast import ops
from mgfast.layout import MG68

KP = torch.rand(1, 1, 2, 3, 2) * 10  # [N, M, T, V, 2]
SC = torch.rand(1, 1, 2, 3)
FRAMES = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
BOX = torch.tensor([0.0, 0.0, 8.0, 8.0])
CLIP_KP = torch.rand(4, 68, 3) * 50


def heat(**kw):
    args = {"keypoints": KP, "scores": SC, "size": 8, **kw}
    return ops.render_heatmaps(args.pop("keypoints"), args.pop("scores"), **args)


def crop(frames=FRAMES, boxes=BOX, size=4, **kw):
    return ops.crop_resize(frames, boxes, size, **kw)


def sal(keypoints=CLIP_KP, frame_size=(100, 100), **kw):
    return ops.saliency_boxes(keypoints, frame_size, layout=MG68, **kw)


RAISES = [
    # render_heatmaps
    ("heat: keypoints not a tensor", lambda: heat(keypoints=[[1.0, 2.0]]), TypeError, "keypoints must be a torch.Tensor"),
    ("heat: integer keypoints", lambda: heat(keypoints=KP.long()), TypeError, "keypoints must be a floating-point"),
    ("heat: wrong rank", lambda: heat(keypoints=torch.rand(3, 2)), ValueError, "keypoints must have shape"),
    ("heat: last axis 3", lambda: heat(keypoints=torch.rand(1, 1, 2, 3, 3)), ValueError, "keypoints must have shape"),
    ("heat: scores missing", lambda: heat(scores=None), ValueError, "scores are required"),
    ("heat: scores shape", lambda: heat(scores=torch.rand(1, 1, 2, 4)), ValueError, "scores must have shape"),
    ("heat: size 0", lambda: heat(size=0), ValueError, "size must be an int"),
    ("heat: size negative", lambda: heat(size=(-1, 8)), ValueError, "size must be an int"),
    ("heat: size float", lambda: heat(size=8.5), ValueError, "size must be an int"),
    ("heat: size bool", lambda: heat(size=True), ValueError, "size must be an int"),
    ("heat: size 3 values", lambda: heat(size=(8, 8, 8)), ValueError, "size must be an int"),
    ("heat: size over 2^31", lambda: heat(size=(8, 2**31 + 5)), ValueError, "each from 1 to 32768"),
    ("heat: sigma 0", lambda: heat(sigma=0.0), ValueError, "sigma must be a finite positive"),
    ("heat: sigma nan", lambda: heat(sigma=float("nan")), ValueError, "sigma"),
    ("heat: sigma inf", lambda: heat(sigma=float("inf")), ValueError, "sigma"),
    ("heat: eps negative", lambda: heat(eps=-1e-3), ValueError, "eps must be a finite non-negative"),
    ("heat: scaling 1e30", lambda: heat(scaling=1e30), ValueError, "at least one pixel and at most 32768 per side"),
    ("heat: scaling tiny", lambda: heat(scaling=1e-9), ValueError, "size \\* scaling"),
    ("heat: scaling 0", lambda: heat(scaling=0.0), ValueError, "scaling must be a finite positive"),
    ("heat: dtype int", lambda: heat(dtype=torch.int32), TypeError, "dtype must be one of"),
    ("heat: mode", lambda: heat(mode="bones"), ValueError, "mode must be 'joints' or 'limbs'"),
    ("heat: limbs out of range", lambda: heat(mode="limbs", limbs=[(0, 7)]), ValueError, "indexes outside the 3"),
    ("heat: limbs empty", lambda: heat(mode="limbs", limbs=[]), ValueError, "at least one"),
    ("heat: limbs float tensor", lambda: heat(mode="limbs", limbs=torch.rand(2, 2)), ValueError, "integer tensor"),
    ("heat: limbs not pairs", lambda: heat(mode="limbs", limbs=[1, 2]), ValueError, "joint index pairs"),
    ("heat: limbs no layout", lambda: heat(mode="limbs"), ValueError, "limbs"),
    ("heat: flip no layout", lambda: heat(flip=True), ValueError, "flip"),
    ("heat: flip pairs out of range", lambda: heat(flip=True, flip_pairs=[(0, 9)]), ValueError, "flip_pairs"),
    ("heat: scores on another device", lambda: heat(scores=SC.to("meta")), ValueError, "scores is on meta"),
    # crop_resize
    ("crop: frames float", lambda: crop(frames=FRAMES.float()), TypeError, "frames must be uint8"),
    ("crop: frames 3 dims", lambda: crop(frames=FRAMES[0]), ValueError, "frames must have shape"),
    ("crop: frames 4 channels", lambda: crop(frames=torch.zeros(1, 8, 8, 4, dtype=torch.uint8)), ValueError, "shape"),
    ("crop: empty image", lambda: crop(frames=torch.zeros(1, 0, 8, 3, dtype=torch.uint8)), ValueError, "non-empty"),
    ("crop: boxes int", lambda: crop(boxes=BOX.long()), TypeError, "boxes must be a floating-point"),
    ("crop: boxes 5 values", lambda: crop(boxes=torch.rand(5)), ValueError, "boxes must be"),
    ("crop: boxes count", lambda: crop(boxes=BOX.repeat(3, 1)), ValueError, "one per frame"),
    ("crop: box reversed", lambda: crop(boxes=torch.tensor([8.0, 0.0, 0.0, 8.0])), ValueError, "x1 > x0"),
    ("crop: box nan", lambda: crop(boxes=torch.tensor([0.0, float("nan"), 8.0, 8.0])), ValueError, "finite"),
    ("crop: box huge", lambda: crop(boxes=torch.tensor([0.0, 0.0, 1e10, 1e10])), ValueError, "within 16x"),
    ("crop: size 0", lambda: crop(size=0), ValueError, "size must be an int"),
    ("crop: size huge", lambda: crop(size=(4, 1 << 20)), ValueError, "each from 1 to 32768"),
    ("crop: std zero", lambda: crop(std=[1.0, 0.0, 1.0]), ValueError, "std must be non-zero, at least 1e-06"),
    ("crop: std denormal", lambda: crop(std=[1.0, 1e-40, 1.0]), ValueError, "std must be non-zero, at least 1e-06"),
    ("crop: mean 2 values", lambda: crop(mean=[1.0, 2.0]), ValueError, "mean must be three finite"),
    ("crop: mean nan", lambda: crop(mean=[1.0, float("nan"), 2.0]), ValueError, "mean must be three finite"),
    ("crop: dtype", lambda: crop(dtype=torch.float64), TypeError, "dtype must be one of"),
    ("crop: boxes on another device", lambda: crop(boxes=BOX.to("meta")), ValueError, "boxes is on meta"),
    # saliency_boxes
    ("sal: min_score nan", lambda: sal(min_score=float("nan")), ValueError, "min_score must be a finite"),
    ("sal: keep", lambda: sal(keep=1.5), ValueError, "keep must lie in"),
    ("sal: quantiles", lambda: sal(quantiles=(0.9, 0.1)), ValueError, "quantiles"),
    ("sal: margin", lambda: sal(margin=-1.0), ValueError, "margin must be"),
    ("sal: frame size", lambda: sal(frame_size=(0, 100)), ValueError, "frame_size must be"),
    ("sal: shape", lambda: sal(keypoints=torch.rand(4, 68, 2)), ValueError, "keypoints must have shape"),
]


@pytest.mark.parametrize("name,call,error,match", RAISES, ids=[r[0] for r in RAISES])
def test_bad_input_raises_a_clear_error(name, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_numpy_integer_sizes_are_accepted():
    assert heat(size=np.int64(8)).shape == (1, 3, 2, 8, 8)
    assert crop(size=(np.int32(4), np.int64(6))).shape == (2, 3, 4, 6)


def test_garbage_coordinates_count_as_missing_in_saliency_as_in_heatmaps():
    """1e30 pixels is no detection: the box is the one without that point, and its heatmap is empty."""
    kp = CLIP_KP.clone()
    kp[:, 5, 2] = 1.0
    garbage = kp.clone()
    garbage[:, 5, :2] = 1e30
    without = kp.clone()
    without[:, 5, 2] = 0.0
    assert torch.equal(sal(keypoints=garbage), sal(keypoints=without))
    far = torch.full((1, 1, 1, 1, 2), 1e30)
    assert ops.render_heatmaps(far, torch.ones(1, 1, 1, 1), size=8).abs().sum() == 0


def test_meta_tensors_give_shapes_without_running_a_kernel():
    out = ops.crop_resize(FRAMES.to("meta"), BOX.to("meta"), (4, 5))
    assert out.device.type == "meta" and out.shape == (2, 3, 4, 5)
    assert ops.render_heatmaps(KP.to("meta"), SC.to("meta"), size=8).shape == (1, 3, 2, 8, 8)


@pytest.mark.parametrize("call", [
    "ops.render_heatmaps(torch.rand(1, 2, 1, 2) * 50, torch.rand(1, 2, 1), size=32000, dtype=torch.float16)",
    "ops.crop_resize(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), torch.tensor([0., 0., 8., 8.]), 30000)",
])
def test_an_output_too_large_for_memory_is_an_error_not_an_abort(call, tmp_path):
    """Under an address-space limit the output or the kernels' working space cannot be allocated: the op
    raises OutOfMemoryError naming itself; the process neither aborts (std::bad_alloc inside an OpenMP
    region) nor dies."""
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        import torch
        from mgfast import ops
        try:
            {call}
        except torch.OutOfMemoryError as error:
            print("raised:", error)
            sys.exit(0)
        print("returned")
    """)
    # run outside the checkout, so that the installed package (with its extension) is imported
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "raised:" in done.stdout and ("render_heatmaps" in done.stdout or "crop_resize" in done.stdout)


def test_outputs_do_not_claim_a_gradient_the_ops_cannot_give():
    kp, sc = KP.clone().requires_grad_(), SC.clone().requires_grad_()
    out = ops.render_heatmaps(kp, sc, size=8)
    boxes = BOX.clone().requires_grad_()
    crops = ops.crop_resize(FRAMES, boxes, 4)
    for t in (out, crops):
        assert not t.requires_grad and t.grad_fn is None
    assert torch.equal(out, ops.render_heatmaps(KP, SC, size=8))
