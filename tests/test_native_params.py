"""The kernels' parameter structs as the extension binds them: fields read back what was written, and a
struct the kernels cannot run raises instead of reaching them."""

from __future__ import annotations

import pytest

from mgfast._native import _C


def test_heatmap_params_round_trip_every_field():
    p = _C.HeatmapParams()
    values = dict(keypoints=0x1000, scores=0, out=0x2000, N=2, M=3, T=4, V=5, H=6, W=7, C=5, sigma=1.5, eps=0.25,
                  scaling=0.75, mode=_C.HeatmapParams.LIMBS, flip=1, out_dtype=2, num_threads=3)
    for name, value in values.items():
        setattr(p, name, value)
    assert {name: getattr(p, name) for name in values} == values
    p.limbs, p.flip_perm = [(0, 1), (3, 4)], [2, 1, 0]
    assert p.limbs[:3] == [[0, 1], [3, 4], [0, 0]] and len(p.limbs) == _C.max_heatmap_channels
    assert p.flip_perm[:4] == [2, 1, 0, 0] and len(p.flip_perm) == _C.max_heatmap_channels


def test_crop_resize_params_round_trip_every_field():
    p = _C.CropResizeParams()
    values = dict(frames=0x1000, boxes=0x2000, out=0x3000, box_stride=0, N=2, H=3, W=4, out_h=5, out_w=6,
                  out_stride_n=7, out_stride_c=2**40, out_dtype=1, num_threads=2, mean=[1.0, 2.0, 3.5],
                  inv_std=[0.5, 0.25, 4.0])
    for name, value in values.items():
        setattr(p, name, value)
    assert {name: getattr(p, name) for name in values} == values


def test_tables_reject_what_they_cannot_hold():
    p = _C.HeatmapParams()
    with pytest.raises(ValueError, match="at most"):
        p.flip_perm = [0] * (_C.max_heatmap_channels + 1)
    with pytest.raises(ValueError, match="out of range"):
        p.limbs = [(0, -1)]
    with pytest.raises(ValueError, match="3 values"):
        _C.CropResizeParams().mean = [0.0, 0.0]


def test_inconsistent_structs_raise_before_the_kernel_runs():
    p = _C.HeatmapParams()
    p.V, p.C = 4, 3  # joint mode draws one channel per joint
    with pytest.raises(ValueError, match="C = V"):
        _C.render_heatmaps(p, -1, 0)
    q = _C.CropResizeParams()
    q.H = q.W = q.out_h = q.out_w = 1
    q.N, q.box_stride = 1, 4  # one frame, but no data set
    with pytest.raises(ValueError, match="must be set"):
        _C.crop_resize(q, -1, 0)


@pytest.mark.skipif(_C.cuda_compiled, reason="this build has CUDA kernels")
def test_cpu_only_build_refuses_cuda_launches():
    with pytest.raises(RuntimeError, match="without CUDA kernels"):
        _C.render_heatmaps(_C.HeatmapParams(), 0, 0)


def test_default_structs_describe_empty_launches():
    # Defaults match the C++ member initialisers; an empty launch runs and touches nothing.
    p = _C.HeatmapParams()
    assert (p.N, p.C, p.mode, p.flip, p.out_dtype) == (0, 0, _C.HeatmapParams.JOINTS, 0, 0)
    assert p.sigma == pytest.approx(0.6) and p.eps == pytest.approx(1e-3) and p.scaling == 1.0
    _C.render_heatmaps(p, -1, 0)
    q = _C.CropResizeParams()
    assert (q.box_stride, q.mean, q.inv_std) == (4, [0.0] * 3, [1.0] * 3)
