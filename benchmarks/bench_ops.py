"""Speed of mgfast's native ops against their baselines, measured in the same run on the same machine.

    python benchmarks/bench_ops.py [--repeat 20] [--rounds 3] [--cuda-clips 32] [--previous PATH/_C.so]

Heatmaps (68 joints / 67 limbs, T = 48, 56x56, sigma 0.6, one person, float32): mgfast on one thread and
on all threads, against the NumPy reference renderer written from the spec (tests/reference.py) and against
the memory floor, allocating and zero-filling an output of the same size. Crop-resize (16 frames 1280x720
to 224x224, boxes of 100 to 720 px): mgfast against cv2.resize of the sliced box (INTER_AREA),
torchvision's roi_align on the float frames, the memory floor (a zero-filled output), and optionally the
crop-resize of another build of the extension (``--previous``, e.g. main's ``mgfast/_C*.so``), with
mgfast and cv2 on all threads and then both on one. With a GPU:
a batch of clips rendered on the device, bytes written per second against the card's measured
device-to-device copy bandwidth. Results are ratios against the baselines of this run; on a shared
machine each ratio is the median over ``--rounds`` rounds that measure the op and its baseline back to back.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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


def median_ratio(fn: Callable[[], object], baseline: Callable[[], object], repeat: int, rounds: int) -> tuple:
    """(median seconds of fn, of baseline, of fn / baseline), each over ``rounds`` back-to-back rounds."""
    ours, base, ratios = [], [], []
    for _ in range(rounds):
        b = best_of(baseline, repeat)
        o = best_of(fn, repeat)
        ours.append(o)
        base.append(b)
        ratios.append(o / b)
    return statistics.median(ours), statistics.median(base), statistics.median(ratios)


def bench_heatmaps_cpu(repeat: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    kp, sc = clip_pose(rng)
    threads = torch.get_num_threads()
    print(f"\nHeatmaps on CPU: 1 clip, 68 joints / 67 limbs, T={T}, {SIZE}x{SIZE}, sigma {SIGMA}, float32")
    print(f"  {'':<40} {'median':>13} {'vs memset':>9}  (ratios: median of {rounds} rounds)")
    for mode, channels in (("joints", 68), ("limbs", len(MG68.limbs))):
        shape = (1, channels, T, SIZE, SIZE)
        render = lambda: ops.render_heatmaps(kp, sc, size=SIZE, sigma=SIGMA, mode=mode)  # noqa: E731
        torch.set_num_threads(1)
        one, memset, one_ratio = median_ratio(render, lambda: torch.zeros(shape), repeat, rounds)
        torch.set_num_threads(threads)
        many, _, many_ratio = median_ratio(render, lambda: torch.zeros(shape), repeat, rounds)
        limbs = list(MG68.limbs) if mode == "limbs" else None
        numpy_ref = best_of(
            lambda: reference.render_heatmaps(kp.numpy(), sc.numpy(), (SIZE, SIZE), sigma=SIGMA, limbs=limbs), 1
        )
        print(f" {mode} ({4 * np.prod(shape) / 2**20:.1f} MiB out)")
        row("memset floor (torch.zeros, 1 thread)", memset, memset)
        print(f"  {'mgfast, 1 thread':<40} {one * 1e3:10.3f} ms {one_ratio:8.2f}x")
        print(f"  {f'mgfast, {threads} threads':<40} {many * 1e3:10.3f} ms {many_ratio:8.2f}x  (vs its own round's 1-thread memset)")
        row("NumPy reference (from the spec)", numpy_ref, memset, f"mgfast 1 thread is {numpy_ref / one:.0f}x faster")


# Times another build's crop_resize in a child process: pybind11 refuses to register the parameter structs
# twice in one interpreter. The child imports only that build's module (not mgfast) and fills the struct as
# mgfast.ops.crop_resize does; its frames are the same (same generator and seed).
PREVIOUS_TIMER = """
import importlib.util, json, statistics, sys, time
import numpy as np, torch
spec = importlib.util.spec_from_file_location("_C", sys.argv[1])
C = importlib.util.module_from_spec(spec); spec.loader.exec_module(C)
repeat, n, size, sides = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), [int(v) for v in sys.argv[5:]]
torch.set_num_threads(%d)
warm = torch.empty(1 << 22); del warm  # the parent's allocator warm-up (see bench_crop_cpu)
frames = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (n, 720, 1280, 3), dtype=np.uint8))
result = {}
for side in sides:
    x0, y0 = 640 - side // 2, 360 - side // 2
    boxes = torch.tensor([[x0, y0, x0 + side, y0 + side]], dtype=torch.float32).repeat(n, 1)
    def run():
        out = torch.empty((n, 3, size, size))
        p = C.CropResizeParams()
        p.frames, p.boxes, p.out = frames.data_ptr(), boxes.data_ptr(), out.data_ptr()
        p.box_stride, p.N, p.H, p.W, p.out_h, p.out_w = 4, n, 720, 1280, size, size
        p.out_stride_n, p.out_stride_c = out.stride(0), out.stride(1)
        p.num_threads = torch.get_num_threads()
        C.crop_resize(p, -1, 0)
    run(); times = []
    for _ in range(repeat):
        start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
    result[side] = statistics.median(times)
print(json.dumps(result))
"""


def time_previous(path: str, repeat: int, n: int, size: int, side: int) -> float:
    import json
    import subprocess

    script = PREVIOUS_TIMER % torch.get_num_threads()
    args = [sys.executable, "-c", script, path, str(repeat), str(n), str(size), str(side)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)[str(side)]


def bench_crop_cpu(repeat: int, rounds: int, previous: str | None, threads: int, with_roi_align: bool) -> None:
    """The crop table with mgfast and cv2 both on ``threads`` threads (on a loaded machine the 1-thread table
    is the steadier comparison: a parallel region waits for every thread's time slice)."""
    import cv2
    from torchvision.ops import roi_align

    rng = np.random.default_rng(1)
    n, out = 16, 224
    frames = torch.from_numpy(rng.integers(0, 256, (n, 720, 1280, 3), dtype=np.uint8))
    array = frames.numpy()
    all_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    # glibc serves the first 9.6 MB outputs with fresh pages from mmap (a page fault per 4 KiB) until a
    # larger block has been freed, which raises its mmap threshold; a long-running data loader is past that
    # point. Freeing one 16 MiB block first puts every method in every row in that steady state (without
    # it, whichever rows run first pay the faults: 8 ms instead of 0.2 ms for the zero-filled output).
    del_me = torch.empty(1 << 22)
    del del_me
    print(f"\nCrop-resize on CPU: {n} frames 1280x720 -> {out}x{out}, square boxes centred in the frame, float32 out, mgfast and cv2 on {threads} thread(s)")
    print(f"  times in ms, medians of {rounds} rounds; 'x faster' = baseline time / mgfast time in the same round")
    header = f"  {'box':>5} {'mgfast':>8} {'cv2 AREA':>9} {'x faster':>9} {'floor':>7} {'x floor':>8}"
    if with_roi_align:
        header += f" {'roi_align':>10} {'x faster':>9}"
    if previous:
        header += f" {'previous':>9} {'x faster':>9}"
    print(header)
    for side in (100, 160, 224, 320, 480, 600, 720):
        x0, y0 = 640 - side // 2, 360 - side // 2
        boxes = torch.tensor([[x0, y0, x0 + side, y0 + side]], dtype=torch.float32).repeat(n, 1)
        rois = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], boxes], 1)

        def ours():
            return ops.crop_resize(frames, boxes, out)

        def opencv():
            crops = [array[i, y0 : y0 + side, x0 : x0 + side] for i in range(n)]
            return [cv2.resize(c, (out, out), interpolation=cv2.INTER_AREA).astype(np.float32) for c in crops]

        def torchvision_roi_align():
            return roi_align(frames.permute(0, 3, 1, 2).float(), rois, out, aligned=True, sampling_ratio=-1)

        def floor():
            return torch.zeros((n, 3, out, out))

        mg, cv, cv_ratio = median_ratio(ours, opencv, repeat, rounds)
        _, fl, fl_ratio = median_ratio(ours, floor, repeat, rounds)
        line = f"  {side:>5} {mg * 1e3:8.2f} {cv * 1e3:9.2f} {1 / cv_ratio:8.2f}x {fl * 1e3:7.2f} {fl_ratio:7.2f}x"
        if with_roi_align:
            _, rv, rv_ratio = median_ratio(ours, torchvision_roi_align, max(2, repeat // 8), rounds)
            line += f" {rv * 1e3:10.1f} {1 / rv_ratio:8.1f}x"
        if previous:
            pvs, ratios = [], []
            for _ in range(rounds):
                pvs.append(time_previous(previous, repeat, n, out, side))
                ratios.append(best_of(ours, repeat) / pvs[-1])
            line += f" {statistics.median(pvs) * 1e3:9.2f} {1 / statistics.median(ratios):8.2f}x"
        print(line)
    torch.set_num_threads(all_threads)
    cv2.setNumThreads(all_threads)


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
    parser.add_argument("--rounds", type=int, default=3, help="rounds per comparison; ratios are their median")
    parser.add_argument("--cuda-clips", type=int, default=32)
    parser.add_argument("--previous", help="another build's extension (a _C*.so) to time its crop_resize against")
    args = parser.parse_args()
    print(f"mgfast ops benchmark | {platform.processor() or platform.machine()} | {torch.get_num_threads()} threads | torch {torch.__version__}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    bench_heatmaps_cpu(args.repeat, args.rounds)
    bench_crop_cpu(args.repeat, args.rounds, args.previous, torch.get_num_threads(), with_roi_align=True)
    bench_crop_cpu(args.repeat, args.rounds, args.previous, 1, with_roi_align=False)
    bench_cuda(args.cuda_clips, args.repeat)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
