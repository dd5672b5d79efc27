"""Speed of mgfast's native ops against their baselines, measured in the same run on the same machine.

    python benchmarks/bench_ops.py [--repeat 20] [--cuda-clips 32]

Heatmaps (68 joints / 67 limbs, T = 48, 56x56, sigma 0.6, one person, float32): mgfast on one thread and
on all threads, against the NumPy reference renderer written from the spec (tests/reference.py) and against
the memory floor, allocating and zero-filling an output of the same size. Crop-resize (1280x720 frames to
224x224): mgfast against cv2.resize of the sliced box (INTER_AREA) and torchvision's roi_align on the
float frames. With a GPU: a batch of clips rendered on the device, bytes written per second against the
card's measured device-to-device copy bandwidth. Results are ratios against the baselines of this run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference  # noqa: E402  (the NumPy renderer written from the spec)

from mgfast import ops  # noqa: E402
from mgfast.layout import MG68  # noqa: E402

T, SIZE, SIGMA = 48, 56, 0.6


def best_of(fn: Callable[[], object], repeat: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median seconds of ``repeat`` calls after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def clip_pose(rng: np.random.Generator, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A plausible pose track: a body inside the frame with small motion, all joints confident."""
    centre = rng.uniform(0.3 * SIZE, 0.7 * SIZE, (n, 1, 1, 68, 2))
    spread = rng.normal(0, 0.18 * SIZE, (n, 1, 1, 68, 2))
    drift = np.cumsum(rng.normal(0, 0.3, (n, 1, T, 68, 2)), axis=2)
    kp = np.clip(centre + spread + drift, 0, SIZE - 1).astype(np.float32)
    scores = rng.uniform(0.5, 1.0, (n, 1, T, 68)).astype(np.float32)
    return torch.from_numpy(kp), torch.from_numpy(scores)


def row(name: str, seconds: float, baseline: float | None = None, note: str = "") -> None:
    ratio = f"{seconds / baseline:8.2f}x" if baseline else " " * 9
    print(f"  {name:<40} {seconds * 1e3:10.3f} ms {ratio}  {note}")


def bench_heatmaps_cpu(repeat: int) -> None:
    rng = np.random.default_rng(0)
    kp, sc = clip_pose(rng)
    threads = torch.get_num_threads()
    print(f"\nHeatmaps on CPU: 1 clip, 68 joints / 67 limbs, T={T}, {SIZE}x{SIZE}, sigma {SIGMA}, float32")
    print(f"  {'':<40} {'median':>13} {'vs memset':>9}")
    for mode, channels in (("joints", 68), ("limbs", len(MG68.limbs))):
        shape = (1, channels, T, SIZE, SIZE)
        torch.set_num_threads(1)
        memset = best_of(lambda: torch.zeros(shape), repeat)
        one = best_of(lambda: ops.render_heatmaps(kp, sc, size=SIZE, sigma=SIGMA, mode=mode), repeat)
        torch.set_num_threads(threads)
        many = best_of(lambda: ops.render_heatmaps(kp, sc, size=SIZE, sigma=SIGMA, mode=mode), repeat)
        limbs = list(MG68.limbs) if mode == "limbs" else None
        numpy_ref = best_of(
            lambda: reference.render_heatmaps(kp.numpy(), sc.numpy(), (SIZE, SIZE), sigma=SIGMA, limbs=limbs), 1
        )
        print(f" {mode} ({4 * np.prod(shape) / 2**20:.1f} MiB out)")
        row("memset floor (torch.zeros, 1 thread)", memset, memset)
        row("mgfast, 1 thread", one, memset)
        row(f"mgfast, {threads} threads", many, memset)
        row("NumPy reference (from the spec)", numpy_ref, memset, f"mgfast 1 thread is {numpy_ref / one:.0f}x faster")


def bench_crop_cpu(repeat: int) -> None:
    import cv2
    from torchvision.ops import roi_align

    rng = np.random.default_rng(1)
    n = 16
    frames = torch.from_numpy(rng.integers(0, 256, (n, 720, 1280, 3), dtype=np.uint8))
    box = [400.0, 120.0, 880.0, 600.0]  # a 480x480 saliency box
    boxes = torch.tensor([box]).repeat(n, 1)
    x0, y0, x1, y1 = (int(v) for v in box)
    print(f"\nCrop-resize on CPU: {n} frames 1280x720 -> 224x224, box 480x480, float32 out, {torch.get_num_threads()} threads")
    print(f"  {'':<40} {'median':>13} {'vs mgfast':>9}")
    ours = best_of(lambda: ops.crop_resize(frames, boxes, 224), repeat)

    def opencv():
        array = frames.numpy()
        return [cv2.resize(f[y0:y1, x0:x1], (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) for f in array]

    def torchvision_roi_align():
        as_float = frames.permute(0, 3, 1, 2).float()
        rois = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], boxes], 1)
        return roi_align(as_float, rois, 224, aligned=True, sampling_ratio=-1)

    row("mgfast crop_resize", ours, ours)
    row("cv2.resize of the slice (INTER_AREA)", best_of(opencv, repeat), ours)
    row("torchvision roi_align on float frames", best_of(torchvision_roi_align, max(3, repeat // 4)), ours)


def bench_cuda(clips: int, repeat: int) -> None:
    if not ops.cuda_available():
        print("\nCUDA: not available (no GPU visible or no CUDA kernels compiled); skipped")
        return
    sync = torch.cuda.synchronize
    name = torch.cuda.get_device_name()
    src = torch.empty(1 << 28, dtype=torch.uint8, device="cuda")  # 256 MiB
    dst = torch.empty_like(src)
    copy = best_of(lambda: dst.copy_(src), repeat, sync)
    bandwidth = 2 * src.numel() / copy  # read + write
    print(f"\nCUDA on {name}: {clips} clips, T={T}, {SIZE}x{SIZE}; device copy bandwidth {bandwidth / 1e9:.0f} GB/s (read+write)")
    print(f"  {'':<40} {'median':>13} {'':>9}  written GB/s, share of copy bandwidth")
    kp, sc = clip_pose(np.random.default_rng(2), clips)
    kp, sc = kp.cuda(), sc.cuda()
    for mode in ("joints", "limbs"):
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            out = ops.render_heatmaps(kp, sc, size=SIZE, mode=mode, dtype=dtype)
            seconds = best_of(lambda: ops.render_heatmaps(kp, sc, size=SIZE, mode=mode, dtype=dtype), repeat, sync)
            rate = out.numel() * out.element_size() / seconds
            row(f"{mode} {str(dtype).removeprefix('torch.')}", seconds, None, f"{rate / 1e9:7.0f} GB/s  {rate / bandwidth:6.1%}")
    frames = torch.randint(0, 256, (clips, 720, 1280, 3), dtype=torch.uint8, device="cuda")
    boxes = torch.tensor([[400.0, 120.0, 880.0, 600.0]], device="cuda").repeat(clips, 1)
    seconds = best_of(lambda: ops.crop_resize(frames, boxes, 224), repeat, sync)
    row(f"crop_resize {clips} frames 1280x720 -> 224", seconds, None, f"{clips / seconds:,.0f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cuda-clips", type=int, default=32)
    args = parser.parse_args()
    print(f"mgfast ops benchmark | {platform.processor() or platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__}")
    bench_heatmaps_cpu(args.repeat)
    bench_crop_cpu(args.repeat)
    bench_cuda(args.cuda_clips, args.repeat)


if __name__ == "__main__":
    main()
