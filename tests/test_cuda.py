"""CUDA kernels against the CPU kernels (themselves checked against the NumPy references) and against the
pure-PyTorch ops on the GPU.

Skipped where no GPU is visible or the build has no CUDA kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mgfast import ops
from test_heatmaps import random_pose

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not ops.cuda_available(), reason="needs a CUDA GPU and CUDA kernels")]

TOL = {torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def random_frames(rng, n, h, w):
    return torch.from_numpy(rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8))


def random_boxes(rng, n, h, w):
    x0, y0 = rng.uniform(-0.2 * w, 0.8 * w, n), rng.uniform(-0.2 * h, 0.8 * h, n)
    side = rng.uniform(2, 1.2 * max(h, w), n)
    return torch.from_numpy(np.stack([x0, y0, x0 + side, y0 + side * rng.uniform(0.5, 1.5, n)], 1).astype(np.float32))


@pytest.mark.parametrize("mode", ["joints", "limbs"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_heatmaps_gpu_equals_cpu(mode, dtype, flip, seed):
    rng = np.random.default_rng(seed)
    n, m, t, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 70)), int(rng.integers(1, 9)), 31, 56
    kp, sc = random_pose(rng, n, m, t, 68, h, w)
    kp, sc = torch.from_numpy(kp), torch.from_numpy(sc)
    kwargs = dict(size=(h, w), mode=mode, flip=flip, dtype=dtype, scaling=float(rng.choice([1.0, 0.75])))
    cpu = ops.render_heatmaps(kp, sc, **kwargs)
    gpu = ops.render_heatmaps(kp.cuda(), sc.cuda(), **kwargs)
    assert gpu.device.type == "cuda" and gpu.dtype == dtype
    torch.testing.assert_close(gpu.cpu().float(), cpu.float(), atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("seed", range(3))
def test_crop_resize_gpu_equals_cpu(dtype, seed):
    rng = np.random.default_rng(seed)
    n, h, w = int(rng.integers(1, 6)), int(rng.integers(8, 300)), int(rng.integers(8, 300))
    frames, boxes = random_frames(rng, n, h, w), random_boxes(rng, n, h, w)
    kwargs = dict(mean=[120.0, 115.0, 100.0], std=[58.0, 57.0, 57.0], dtype=dtype)
    cpu = ops.crop_resize(frames, boxes, (17, 23), **kwargs)
    gpu = ops.crop_resize(frames.cuda(), boxes.cuda(), (17, 23), **kwargs)
    torch.testing.assert_close(gpu.cpu().float(), cpu.float(), atol=TOL[dtype] * 4, rtol=1e-5)
    clip_cpu = ops.crop_resize_clip(frames, boxes[0], 12)
    clip_gpu = ops.crop_resize_clip(frames.cuda(), boxes[0].cuda(), 12)
    torch.testing.assert_close(clip_gpu.cpu(), clip_cpu, atol=1e-4, rtol=1e-5)


def test_runs_on_a_non_default_stream_and_a_second_device_index():
    rng = np.random.default_rng(7)
    kp, sc = random_pose(rng, 4, 2, 8, 68, 56, 56)
    kp, sc = torch.from_numpy(kp), torch.from_numpy(sc)
    expected = ops.render_heatmaps(kp, sc, size=56)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        kp_gpu, sc_gpu = kp.cuda(non_blocking=True), sc.cuda(non_blocking=True)
        out = ops.render_heatmaps(kp_gpu, sc_gpu, size=56)
    stream.synchronize()
    torch.testing.assert_close(out.cpu(), expected, atol=1e-5, rtol=0)
    device = torch.device("cuda", torch.cuda.device_count() - 1)
    out = ops.render_heatmaps(kp.to(device), sc.to(device), size=56)
    assert out.device == device
    torch.testing.assert_close(out.cpu(), expected, atol=1e-5, rtol=0)


def test_cuda_graph_capture_and_replay():
    rng = np.random.default_rng(8)
    kp, sc = (torch.from_numpy(a).cuda() for a in random_pose(rng, 2, 1, 6, 68, 48, 48))
    frames = random_frames(rng, 6, 90, 160).cuda()
    boxes = random_boxes(rng, 6, 90, 160).cuda()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the graph, as torch.cuda.graphs requires
        ops.render_heatmaps(kp, sc, size=48, mode="limbs", flip=True)
        ops.crop_resize(frames, boxes, 32)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        volume = ops.render_heatmaps(kp, sc, size=48, mode="limbs", flip=True)
        crops = ops.crop_resize(frames, boxes, 32)
    new_kp, new_sc = (torch.from_numpy(a).cuda() for a in random_pose(rng, 2, 1, 6, 68, 48, 48))
    kp.copy_(new_kp)
    sc.copy_(new_sc)
    frames.copy_(random_frames(rng, 6, 90, 160))
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(volume.cpu(), ops.render_heatmaps(kp.cpu(), sc.cpu(), size=48, mode="limbs", flip=True), atol=1e-5, rtol=0)
    torch.testing.assert_close(crops.cpu(), ops.crop_resize(frames.cpu(), boxes.cpu(), 32), atol=1e-4, rtol=1e-5)


def test_compiled_on_gpu_matches_eager():
    kp, sc = torch.rand(2, 8, 68, 2, device="cuda") * 56, torch.rand(2, 8, 68, device="cuda")
    fn = lambda k, s: ops.render_heatmaps(k, s, size=56, dtype=torch.float16)  # noqa: E731
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(fn, fullgraph=True)(kp, sc), fn(kp, sc))


@pytest.mark.parametrize("mode", ["joints", "limbs"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("flip", [False, True])
def test_heatmaps_pure_pytorch_on_gpu_equals_the_cuda_kernel(mode, dtype, flip):
    # The second GPU reference, and the path a GPU takes with a build that lacks the CUDA kernels.
    rng = np.random.default_rng(11)
    kp, sc = (torch.from_numpy(a).cuda() for a in random_pose(rng, 3, 4, 6, 68, 31, 56))
    kwargs = dict(size=(31, 56), mode=mode, flip=flip, dtype=dtype, sigma=1.3, scaling=0.75)
    native = ops.render_heatmaps(kp, sc, **kwargs)
    with ops.pure_pytorch():
        fallback = ops.render_heatmaps(kp, sc, **kwargs)
    assert fallback.device.type == "cuda" and fallback.dtype == dtype
    rtol = {torch.float32: 1e-5, torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}[dtype]
    torch.testing.assert_close(fallback.float(), native.float(), atol=1e-5, rtol=rtol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("seed", range(2))
def test_crop_resize_pure_pytorch_on_gpu_equals_the_cuda_kernel(dtype, seed):
    rng = np.random.default_rng(seed)
    n, h, w = int(rng.integers(1, 6)), int(rng.integers(8, 300)), int(rng.integers(8, 300))
    frames, boxes = random_frames(rng, n, h, w).cuda(), random_boxes(rng, n, h, w).cuda()
    kwargs = dict(mean=[120.0, 115.0, 100.0], std=[58.0, 57.0, 57.0], dtype=dtype)
    rtol = {torch.float32: 1e-5, torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}[dtype]
    for size in ((17, 23), (224, 224), (1, 3)):
        native = ops.crop_resize(frames, boxes, size, **kwargs)
        native_clip = ops.crop_resize_clip(frames, boxes[0], size, **kwargs)
        with ops.pure_pytorch():
            fallback = ops.crop_resize(frames, boxes, size, **kwargs)
            fallback_clip = ops.crop_resize_clip(frames, boxes[0], size, **kwargs)
        torch.testing.assert_close(fallback.float(), native.float(), atol=1e-5, rtol=rtol)
        torch.testing.assert_close(fallback_clip.float(), native_clip.float(), atol=1e-5, rtol=rtol)


# The separable CUDA kernel's paths: tiles cut by the output's edges, boxes outside the frame, upsampling
# (runs of 1-2 pixels), long runs over several column chunks, and the direct fallback beyond its tap tables.
CROP_CASES = {
    "hd to 224": ((2, 720, 1280), [[400.0, 120.0, 880.0, 600.0], [-50.0, -20.0, 1330.0, 700.0]], (224, 224)),
    "outside and partly outside": ((4, 40, 64), [[-40.0, 5.0, -2.5, 20.0], [70.0, 3.0, 90.0, 30.0], [-15.5, 2.0, 20.0, 30.0], [6.0, 20.0, 50.0, 66.0]], (33, 45)),
    "upsampling": ((3, 50, 60), [[10.0, 12.0, 13.0, 15.5], [0.0, 0.0, 1.0, 1.0], [20.25, 7.75, 30.5, 18.0]], (70, 41)),
    "tall and thin": ((2, 90, 160), [[30.0, -3.0, 31.5, 95.0], [-2.0, 10.0, 166.0, 11.0]], (9, 130)),
    "runs over several chunks": ((2, 300, 900), [[0.0, 0.0, 900.0, 300.0], [-20.5, 10.0, 850.0, 290.0]], (40, 70)),
    "direct fallback": ((2, 720, 1280), [[0.0, 0.0, 1280.0, 720.0], [-300.0, 100.5, 1100.0, 700.0]], (5, 7)),
}


@pytest.mark.parametrize("case", sorted(CROP_CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_crop_resize_edge_paths_gpu_equal_cpu(case, dtype):
    (n, h, w), boxes, size = CROP_CASES[case]
    frames, boxes = random_frames(np.random.default_rng(n * h), n, h, w), torch.tensor(boxes)
    kwargs = dict(mean=[120.0, 115.0, 100.0], std=[58.0, 57.0, 57.0], dtype=dtype)
    cpu = ops.crop_resize(frames, boxes, size, **kwargs)
    gpu = ops.crop_resize(frames.cuda(), boxes.cuda(), size, **kwargs)
    torch.testing.assert_close(gpu.cpu().float(), cpu.float(), atol=TOL[dtype] * 4, rtol=1e-5)


def test_crop_resize_many_frames_one_box_gpu_equals_cpu():
    rng = np.random.default_rng(11)
    frames = random_frames(rng, 40, 37, 53)
    box = torch.tensor([2.5, -3.0, 45.0, 30.0])
    cpu = ops.crop_resize_clip(frames, box, (19, 35))
    gpu = ops.crop_resize_clip(frames.cuda(), box.cuda(), (19, 35))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-5)
