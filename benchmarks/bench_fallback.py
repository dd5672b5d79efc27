"""Speed of the pure-PyTorch ops (what a device without a native kernel runs) against the native kernels,
measured in the same run on the same inputs as bench_ops.py.

    python benchmarks/bench_fallback.py [--repeat 5] [--cuda-clips 32]

On the CPU: one clip's heatmap volume (68 joints / 67 limbs, T = 48, 56x56, float32) and 16 frames
1280x720 cropped to 224x224, native kernel on all threads against ``mgfast.ops.pure_pytorch()``. With a GPU
and the CUDA kernels: the same ops on a batch of clips, CUDA kernel against pure PyTorch on the GPU, and
pure PyTorch on the GPU against the native CPU kernel (what ``--device auto`` trades on a GPU machine whose
build lacks the CUDA kernels). Results are ratios against the native kernel of this run.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

import numpy as np
import torch

from bench_ops import SIZE, T, best_of, clip_pose, row
from mgfast import ops

BOX = [400.0, 120.0, 880.0, 600.0]  # a 480x480 saliency box in a 1280x720 frame


def compare(name: str, fn: Callable[[], object], repeat: int, sync: Callable[[], None] = lambda: None) -> float:
    native = best_of(fn, repeat, sync)
    with ops.pure_pytorch():
        fallback = best_of(fn, repeat, sync)
    row(f"{name}: native", native, native)
    row(f"{name}: pure PyTorch", fallback, native)
    return fallback


def bench_cpu(repeat: int) -> None:
    kp, sc = clip_pose(np.random.default_rng(0))
    frames = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (16, 720, 1280, 3), dtype=np.uint8))
    boxes = torch.tensor([BOX]).repeat(16, 1)
    print(f"\nCPU, {torch.get_num_threads()} threads: 1 clip T={T} {SIZE}x{SIZE}; 16 frames 1280x720 -> 224")
    print(f"  {'':<40} {'median':>13} {'vs native':>9}")
    for mode in ("joints", "limbs"):
        compare(f"heatmaps {mode}", lambda: ops.render_heatmaps(kp, sc, size=SIZE, mode=mode), repeat)
    compare("crop_resize", lambda: ops.crop_resize(frames, boxes, 224), repeat)


def bench_cuda(clips: int, repeat: int) -> None:
    if not ops.cuda_available():
        print("\nCUDA: not available (no GPU visible or no CUDA kernels compiled); skipped")
        return
    sync = torch.cuda.synchronize
    kp, sc = clip_pose(np.random.default_rng(2), clips)
    frames = torch.randint(0, 256, (clips, 720, 1280, 3), dtype=torch.uint8)
    boxes = torch.tensor([BOX]).repeat(clips, 1)
    print(f"\nCUDA on {torch.cuda.get_device_name()}: {clips} clips T={T} {SIZE}x{SIZE}; {clips} frames 1280x720 -> 224")
    print(f"  {'':<40} {'median':>13} {'vs native':>9}")
    cases = [(f"heatmaps {mode}", lambda k, s, f, b, mode=mode: ops.render_heatmaps(k, s, size=SIZE, mode=mode))
             for mode in ("joints", "limbs")]
    cases.append(("crop_resize", lambda k, s, f, b: ops.crop_resize(f, b, 224)))
    gpu = [t.cuda() for t in (kp, sc, frames, boxes)]
    for name, fn in cases:
        fallback = compare(name, lambda: fn(*gpu), repeat, sync)
        cpu = best_of(lambda: fn(kp, sc, frames, boxes), max(1, repeat // 2))
        row(f"{name}: native CPU", cpu, None, f"pure PyTorch on the GPU is {cpu / fallback:.1f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cuda-clips", type=int, default=32)
    args = parser.parse_args()
    print(f"mgfast fallback benchmark | {platform.processor() or platform.machine()} | torch {torch.__version__}")
    bench_cpu(args.repeat)
    bench_cuda(args.cuda_clips, args.repeat)


if __name__ == "__main__":
    main()
