"""The pure-PyTorch ops (what runs on a device without a native kernel) against the native CPU kernels, on
random inputs with edge cases, and against the NumPy references; the one-time warning; the torch.library
registration with the fallback in place."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from mgfast import ops
from mgfast.layout import MG68
from mgfast.ops import _device
from test_crop_resize import random_boxes, random_frames, roi_align_reference
from test_heatmaps import random_pose
from test_torch_library import crop_samples, heatmap_samples

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
ULP = {torch.float32: 0.0, torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}
"""Relative size of one unit in the last place: where two float32 results within 1e-5 round to different
half-precision neighbours, they differ by this much."""


def assert_matches_native(fallback: torch.Tensor, native: torch.Tensor) -> None:
    assert fallback.dtype == native.dtype and fallback.shape == native.shape
    rtol = max(1e-5, ULP[native.dtype])
    torch.testing.assert_close(fallback.float(), native.float(), atol=1e-5, rtol=rtol, equal_nan=False)


def both(fn, *args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """(pure PyTorch, native) results of one op call."""
    native = fn(*args, **kwargs)
    with ops.pure_pytorch():
        fallback = fn(*args, **kwargs)
    return fallback, native


@pytest.mark.parametrize("mode", ["joints", "limbs"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("seed", range(2))
def test_heatmaps_match_the_native_kernel(mode, dtype, flip, seed):
    rng = np.random.default_rng(seed)
    n, m, t, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 5)), 27, 34
    kp, sc = random_pose(rng, n, m, t, 68, h, w)  # NaN/inf/huge coordinates, zero and sub-eps scores
    kwargs = dict(size=(h, w), mode=mode, flip=flip, dtype=dtype, sigma=float(rng.choice([0.6, 1.7, 3.1])),
                  scaling=float(rng.choice([1.0, 0.75, 1.3])))
    assert_matches_native(*both(ops.render_heatmaps, torch.from_numpy(kp), torch.from_numpy(sc), **kwargs))


@pytest.mark.parametrize("sigma", [1e-30, 1e-20, 1e-3, 0.3, 40.0, 1e20, 3e38])
@pytest.mark.parametrize("mode", ["joints", "limbs"])
def test_heatmaps_match_at_tiny_and_huge_sigma(sigma, mode):
    # 1e-30 rounds to a float32 whose 2 sigma^2 is 0 (1 / 0 = inf); 1e-20's inverse overflows; 1e20 and 3e38
    # give 1 / (2 sigma^2) = 0 and an infinite window radius.
    rng = np.random.default_rng(3)
    kp, sc = random_pose(rng, 2, 2, 2, 68, 20, 22)
    kp[0, 0, 0, :10] = np.round(kp[0, 0, 0, :10])  # keypoints exactly on pixel centres
    out = both(ops.render_heatmaps, torch.from_numpy(kp), torch.from_numpy(sc), size=(20, 22), sigma=sigma, mode=mode)
    assert_matches_native(*out)
    assert not torch.isnan(out[0]).any()


def test_heatmaps_keypoints_outside_the_frame_zero_scores_and_unit_peaks():
    rng = np.random.default_rng(4)
    kp, sc = random_pose(rng, 2, 3, 3, 68, 24, 24, nan_rate=0.2, sub_eps_rate=0.5)
    kp[0, 0] += 30  # a whole person beyond the right and bottom edges, partly touching them
    kp[1, 1] -= 40  # beyond the top and left
    sc[0, 2] = 0
    sc[1, 0, :, 5] = np.nan  # NaN scores: a limb keeps its other score, as fminf does
    kp_t, sc_t = torch.from_numpy(kp), torch.from_numpy(sc)
    for mode in ("joints", "limbs"):
        assert_matches_native(*both(ops.render_heatmaps, kp_t, sc_t, size=24, mode=mode, eps=0.0))
        assert_matches_native(*both(ops.render_heatmaps, kp_t, sc_t, size=24, mode=mode, use_score=False))
        assert_matches_native(*both(ops.render_heatmaps, kp_t[:, 0], sc_t[:, 0], size=24, mode=mode, eps=0.2))


def test_heatmaps_match_the_numpy_reference():
    rng = np.random.default_rng(5)
    kp, sc = random_pose(rng, 2, 2, 2, 68, 30, 26)
    limbs = [tuple(pair) for pair in MG68.limbs]
    with ops.pure_pytorch():
        joints = ops.render_heatmaps(torch.from_numpy(kp), torch.from_numpy(sc), size=(30, 26), sigma=1.1)
        limb_maps = ops.render_heatmaps(torch.from_numpy(kp), torch.from_numpy(sc), size=(30, 26), sigma=1.1,
                                        mode="limbs", scaling=0.8)
    np.testing.assert_allclose(joints.numpy(), reference.render_heatmaps(kp, sc, (30, 26), sigma=1.1), atol=1e-5)
    expected = reference.render_heatmaps(kp, sc, (30, 26), sigma=1.1, limbs=limbs, scaling=0.8)
    np.testing.assert_allclose(limb_maps.numpy(), expected, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 2), m=st.integers(1, 3), t=st.integers(1, 3), v=st.integers(2, 6),
    h=st.integers(1, 24), w=st.integers(1, 24), sigma=st.floats(0.05, 8.0), scaling=st.sampled_from([0.5, 1.0, 1.3]),
    limbs_mode=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16),
)
def test_property_heatmaps_match_the_native_kernel(n, m, t, v, h, w, sigma, scaling, limbs_mode, dtype, seed):
    kp, sc = random_pose(np.random.default_rng(seed), n, m, t, v, h, w)
    limbs = [(j, (j + 1) % v) for j in range(v)] + [(0, 0)] if limbs_mode else None  # (0, 0): a degenerate limb
    out = both(ops.render_heatmaps, torch.from_numpy(kp), torch.from_numpy(sc), size=(h, w), sigma=sigma,
               scaling=scaling, mode="limbs" if limbs else "joints", limbs=limbs, dtype=dtype)
    assert_matches_native(*out)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3), h=st.integers(1, 64), w=st.integers(1, 64), out_h=st.integers(1, 48),
    out_w=st.integers(1, 48), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16),
)
def test_property_crop_resize_matches_the_native_kernel(n, h, w, out_h, out_w, dtype, seed):
    rng = np.random.default_rng(seed)
    frames, boxes = random_frames(rng, n, h, w), random_boxes(rng, n, h, w)
    out = both(ops.crop_resize, frames, boxes, (out_h, out_w), mean=[10.0, 20.0, 30.0], std=[3.0, 2.0, 1.0], dtype=dtype)
    assert_matches_native(*out)


def test_heatmaps_empty_inputs():
    for shape in ((0, 2, 3, 68, 2), (2, 2, 0, 68, 2), (2, 0, 3, 68, 2)):
        kp = torch.rand(shape) * 20
        sc = torch.rand(shape[:-1])
        for mode in ("joints", "limbs"):
            assert_matches_native(*both(ops.render_heatmaps, kp, sc, size=20, mode=mode, flip=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(3))
def test_crop_resize_matches_the_native_kernel(dtype, seed):
    rng = np.random.default_rng(seed)
    n, h, w = int(rng.integers(1, 6)), int(rng.integers(1, 120)), int(rng.integers(1, 120))
    frames, boxes = random_frames(rng, n, h, w), random_boxes(rng, n, h, w)  # partly or wholly outside
    size = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))  # up- and downscaling
    for stats in ({}, dict(mean=[120.0, 115.0, 100.0], std=[58.0, -57.0, 0.5])):
        assert_matches_native(*both(ops.crop_resize, frames, boxes, size, dtype=dtype, **stats))
        assert_matches_native(*both(ops.crop_resize, frames, boxes[0], size, dtype=dtype, **stats))
        assert_matches_native(*both(ops.crop_resize_clip, frames, boxes, size, dtype=dtype, **stats))


def test_crop_resize_edge_boxes_match_the_native_kernel():
    rng = np.random.default_rng(9)
    frames = random_frames(rng, 6, 40, 60)
    boxes = torch.tensor([
        [-50.0, -50.0, -10.0, -20.0],  # wholly outside: reads zeros
        [59.5, 39.5, 70.0, 45.0],  # straddles the bottom-right corner
        [-1.0, -1.0, 0.5, 0.25],  # tiny, at the edge
        [-900.0, -600.0, 960.0, 640.0],  # the largest allowed box: a huge sampling grid
        [10.0, 10.0, 10.001, 30.0],  # a sliver
        [0.0, 0.0, 60.0, 40.0],  # the whole frame
    ])
    for size in ((1, 1), (5, 9), (64, 48)):
        assert_matches_native(*both(ops.crop_resize, frames, boxes, size, mean=[1.0, 2.0, 3.0], std=[2.0, 3.0, 4.0]))


def test_crop_resize_matches_roi_align_and_the_numpy_reference():
    rng = np.random.default_rng(11)
    frames, boxes = random_frames(rng, 4, 50, 70), random_boxes(rng, 4, 50, 70)
    with ops.pure_pytorch():
        got = ops.crop_resize(frames, boxes, (13, 17))
        normalised = ops.crop_resize(frames, boxes, (13, 17), mean=[100, 90, 80], std=[50, 40, 30])
    torch.testing.assert_close(got, roi_align_reference(frames, boxes, (13, 17)), atol=1e-4, rtol=1e-5)
    expected = reference.crop_resize(frames.numpy(), boxes.numpy(), (13, 17), [100, 90, 80], [50, 40, 30])
    np.testing.assert_allclose(normalised.numpy(), expected, atol=1e-4)


def test_crop_resize_empty_batch():
    frames = torch.zeros((0, 10, 10, 3), dtype=torch.uint8)
    assert_matches_native(*both(ops.crop_resize, frames, torch.zeros(0, 4), 5))
    assert_matches_native(*both(ops.crop_resize_clip, frames, torch.tensor([0.0, 0.0, 5.0, 5.0]), 5))


def test_pure_pytorch_ends_with_its_block_even_on_error():
    with pytest.raises(RuntimeError), ops.pure_pytorch():
        raise RuntimeError
    assert _device.runs_native(torch.zeros(1))


@pytest.fixture
def cpu_without_kernels(monkeypatch):
    """The CPU playing a device this build has no kernel for, with no warning given yet."""
    monkeypatch.setattr(_device, "native_kernels", lambda device: False)
    monkeypatch.setattr(_device, "_warned", set())


def test_a_device_without_kernels_warns_once_and_still_computes(cpu_without_kernels):
    kp, sc = torch.rand(2, 3, 68, 2) * 20, torch.rand(2, 3, 68)
    frames = torch.randint(0, 256, (3, 20, 30, 3), dtype=torch.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        volume = ops.render_heatmaps(kp, sc, size=20, mode="limbs")
        ops.render_heatmaps(kp, sc, size=20)
        crops = ops.crop_resize(frames, torch.tensor([1.0, 2.0, 25.0, 18.0]), 8)
    missing = [w for w in caught if issubclass(w.category, ops.MissingKernelWarning)]
    assert len(missing) == 1, [str(w.message) for w in missing]
    assert "pure PyTorch" in str(missing[0].message) and missing[0].filename.endswith("heatmap.py")
    torch.testing.assert_close(volume, torch.from_numpy(reference.render_heatmaps(
        kp.unsqueeze(1).numpy(), sc.unsqueeze(1).numpy(), (20, 20), limbs=[tuple(p) for p in MG68.limbs])), atol=1e-5, rtol=0)
    torch.testing.assert_close(crops, roi_align_reference(frames, torch.tensor([[1.0, 2.0, 25.0, 18.0]] * 3), 8),
                               atol=1e-4, rtol=1e-5)


def test_the_warning_for_cuda_says_how_to_build_the_kernels():
    message = _device._missing_message(torch.device("cuda", 0))
    assert "no CUDA kernels" in message and "pip install nvidia-cuda-nvcc" in message
    assert "Building for a GPU" in message
    assert "CPU and CUDA only" in _device._missing_message(torch.device("mps"))


def test_native_kernels_are_known_per_device_type():
    from mgfast._native import _C

    assert ops.native_kernels(torch.device("cpu"))
    assert ops.native_kernels(torch.device("cuda", 1)) == bool(_C.cuda_compiled)
    assert not ops.native_kernels(torch.device("mps"))


@pytest.mark.parametrize("args", list(heatmap_samples()))
def test_opcheck_render_heatmaps_in_pure_pytorch(args):
    with ops.pure_pytorch():
        torch.library.opcheck(torch.ops.mgfast.render_heatmaps.default, args)


@pytest.mark.parametrize("args", list(crop_samples()))
def test_opcheck_crop_resize_in_pure_pytorch(args):
    with ops.pure_pytorch():
        torch.library.opcheck(torch.ops.mgfast.crop_resize.default, args)


def test_compiled_pure_pytorch_matches_eager_native():
    kp, sc = torch.rand(2, 4, 68, 2) * 24, torch.rand(2, 4, 68)
    frames = torch.randint(0, 256, (4, 24, 30, 3), dtype=torch.uint8)

    def pipeline(kp, sc, frames):
        volume = ops.render_heatmaps(kp, sc, size=24, mode="limbs", flip=True, dtype=torch.float16)
        return volume, ops.crop_resize(frames, torch.tensor([1.0, 1.0, 20.0, 20.0]), 16, mean=[120.0] * 3, std=[60.0] * 3)

    torch._dynamo.reset()
    compiled = torch.compile(pipeline, fullgraph=True, backend="aot_eager")
    with ops.pure_pytorch():
        got = compiled(kp, sc, frames)
    for fallback, native in zip(got, pipeline(kp, sc, frames)):
        assert_matches_native(fallback, native)
