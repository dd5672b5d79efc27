"""Extraction throughput on the synthetic corpus: clips per second and where the time goes.

    python benchmarks/bench_extract.py [--videos 4] [--frames 500] [--size 1280x720] [--workers 2]

Synthesises a MiGA-layout corpus (1280x720 like iMiGUE by default, OpenPose CSV tables), then extracts it
with several configurations, each into a fresh dataset directory: keypoints only (``--no-crops``), crops
as exact ``.npy`` arrays, crops as H.264 (the default), the same with ``--workers`` processes, and with a
GPU the crop-resize on CUDA. For each: clips per second (wall clock) and the share of the summed stage
times spent decoding, in keypoints (pose-table reading and conversion), saliency boxes, crop-resize,
encoding and writing. The one-time cost of the first crop-resize call in a process (torch.library
dispatch setup) is measured separately and excluded by a warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from mgfast import ops
from mgfast.extract import extract
from mgfast.extract.worker import STAGES
from mgfast.synth import synthesize


def first_call_seconds() -> float:
    """Seconds of the first crop_resize call in this process (then the op is warm)."""
    frames = torch.zeros((1, 8, 8, 3), dtype=torch.uint8)
    start = time.perf_counter()
    ops.crop_resize(frames, torch.tensor([0.0, 0.0, 4.0, 4.0]), 4)
    return time.perf_counter() - start


def run(name: str, src: Path, work: Path, **options) -> dict:
    out = work / name.replace(" ", "_").replace(",", "")
    start = time.perf_counter()
    summary = extract(src, out, progress=False, **options)
    wall = time.perf_counter() - start
    if not summary.ok:
        raise RuntimeError(f"{name}: extraction failed:\n{summary}")
    return {"name": name, "clips": summary.clips_written, "wall": wall, "timings": summary.timings}


def print_table(rows: list[dict]) -> None:
    header = f"  {'configuration':<28} {'clips':>5} {'wall s':>7} {'clips/s':>8}  " + " ".join(f"{s:>8}" for s in STAGES)
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in rows:
        total = sum(r["timings"].values()) or 1.0
        shares = " ".join(f"{100 * r['timings'].get(s, 0.0) / total:7.1f}%" for s in STAGES)
        print(f"  {r['name']:<28} {r['clips']:>5} {r['wall']:>7.2f} {r['clips'] / r['wall']:>8.2f}  {shares}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=500, help="frames per video")
    parser.add_argument("--segments", type=int, default=10, help="annotated segments per video")
    parser.add_argument("--size", default="1280x720", help="video size WxH")
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel run (1: skip it)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        src = work / "corpus"
        began = time.perf_counter()
        synth = synthesize(src, videos=args.videos, subjects=min(args.videos, 3), frames_per_video=args.frames,
                           segments_per_video=args.segments, width=width, height=height, overwrite=True, progress=False)
        synth_seconds = time.perf_counter() - began

        cuda = ops.cuda_available()
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads" + (f", GPU {torch.cuda.get_device_name()}" if cuda else ", no GPU"))
        print(f"corpus:  {args.videos} videos x {args.frames} frames at {width}x{height}, {args.segments} segments each "
              f"(synthesised in {synth_seconds:.1f}s); crops {args.crop_size}x{args.crop_size}")
        print(f"first crop_resize call in a process: {first_call_seconds():.2f}s (excluded below; paid once per worker)")
        if cuda:
            ops.crop_resize(torch.zeros((1, 8, 8, 3), dtype=torch.uint8, device="cuda"),
                            torch.tensor([0.0, 0.0, 4.0, 4.0], device="cuda"), 4)
            torch.cuda.synchronize()

        common = {"crop_size": args.crop_size}
        rows = [
            run("keypoints only", src, work, crops=False),
            run("crops npy, cpu", src, work, crop_format="npy", device="cpu", **common),
            run("crops h264, cpu", src, work, crop_format="h264", device="cpu", **common),
        ]
        if cuda:
            rows.append(run("crops npy, cuda", src, work, crop_format="npy", device="cuda", **common))
            rows.append(run("crops h264, cuda", src, work, crop_format="h264", device="cuda", **common))
        if args.workers > 1:
            rows.append(run(f"crops h264, cpu, {args.workers} workers", src, work, crop_format="h264", device="cpu",
                            workers=args.workers, **common))
        print("\nstage shares are of the summed stage times (all workers); wall includes discovery and manifest writing")
        print_table(rows)


if __name__ == "__main__":
    main()
