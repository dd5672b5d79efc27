"""Extraction throughput on the synthetic corpus: clips per second and where the time goes.

    python benchmarks/bench_extract.py [--videos 4] [--frames 500] [--size 1280x720] [--workers 2]
                                       [--baseline CHECKOUT ... --repeats 3]

Synthesises a MiGA-layout corpus (1280x720 like iMiGUE by default, OpenPose CSV tables), then extracts it
with several configurations, each into a fresh dataset directory: keypoints only (``--no-crops``), crops
as exact ``.npy`` arrays, crops as H.264 (the default), the same with ``--workers`` processes, and with a
GPU the crop-resize on CUDA. For each: clips per second (wall clock) and the share of the summed stage
times spent decoding, in keypoints (pose-table reading and conversion), saliency boxes, crop-resize,
encoding and writing. The one-time cost of the first crop-resize call in a process (torch.library
dispatch setup) is measured separately and excluded by a warm-up.

``--baseline CHECKOUT`` (another checkout of mgfast, e.g. a ``git worktree`` of main; repeat the option to
compare several, such as one per commit of a change) then compares them on the same corpus: the H.264
configuration (and the exact ``.npy`` one) run in fresh processes, alternating between the baselines' code
and this checkout's, ``--repeats`` times each; reported are the median wall
time and clips/s, the median CPU seconds (user + system, which another user's load changes less), the
ratio, and whether the outputs agree: the ``.npy`` datasets must be byte-identical (manifest, keypoints,
crops); of the H.264 datasets the manifest and keypoints must be, and each crop video is decoded and
compared with the exact ``.npy`` crops (PSNR), since x264's output itself varies from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


ONE_RUN = """
import json, resource, sys, time
from mgfast.extract import extract
start = time.perf_counter()
summary = extract(sys.argv[1], sys.argv[2], progress=False, **json.loads(sys.argv[3]))
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
assert summary.ok, str(summary)
import mgfast
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "clips": summary.clips_written, "code": mgfast.__file__}))
"""


def run_tree(tree: Path, src: Path, out: Path, options: dict) -> dict:
    """One extraction in a fresh process importing mgfast from ``tree`` (run outside any checkout: ``python -c``
    puts the working directory first on the import path)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", ONE_RUN, str(src), str(out), json.dumps(options)], env=env,
                          cwd=out.parent, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"extraction with {tree} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["code"]).resolve().is_relative_to(tree):
        raise RuntimeError(f"the run meant for {tree} imported mgfast from {result['code']}")
    return result


def same_files(a: Path, b: Path, pattern: str) -> bool:
    names = sorted(p.relative_to(a) for p in a.glob(pattern))
    return bool(names) and names == sorted(p.relative_to(b) for p in b.glob(pattern)) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def psnr_against(exact: Path, videos: Path) -> float:
    """Worst PSNR (dB) of the decoded crop videos in ``videos`` against the exact ``.npy`` crops in ``exact``."""
    from mgfast.io.video import read_clip

    worst = float("inf")
    for npy in sorted((exact / "crops").glob("*.npy")):
        reference = np.load(npy).astype(np.float64)
        decoded = read_clip(videos / "crops" / f"{npy.stem}.mp4").astype(np.float64)
        mse = float(np.mean((reference - decoded) ** 2))
        worst = min(worst, 10 * np.log10(255.0 ** 2 / mse) if mse else float("inf"))
    return worst


def compare_with_baselines(baselines: list[Path], src: Path, work: Path, crop_size: int, repeats: int) -> None:
    here = Path(__file__).resolve().parents[1]
    trees = {f"base{i + 1}" if len(baselines) > 1 else "baseline": b.resolve() for i, b in enumerate(baselines)}
    trees["this"] = here
    first = next(iter(trees))
    configs = {"h264": {"crop_format": "h264", "device": "cpu", "crop_size": crop_size},
               "npy": {"crop_format": "npy", "device": "cpu", "crop_size": crop_size}}
    results: dict[tuple[str, str], list[dict]] = {}
    loads = []
    for repeat in range(repeats):
        for config, options in configs.items():
            for name, tree in (list(trees.items()) if repeat % 2 == 0 else list(reversed(trees.items()))):
                loads.append(os.getloadavg()[0])
                out = work / f"cmp_{name}_{config}_{repeat}"
                results.setdefault((name, config), []).append(run_tree(tree, src, out, options))
    print(f"\n{', '.join(f'{n} = {t}' for n, t in trees.items())}: {repeats} alternating repeats, fresh processes; "
          f"1-minute load average during the runs {min(loads):.1f}-{max(loads):.1f}; speed-up against {first}")
    print(f"  {'configuration':<14} {'code':<9} {'wall s (each)':<28} {'median':>7} {'clips/s':>8} {'cpu s':>6} {'speed-up':>9}")
    for config in configs:
        base = statistics.median(r["wall"] for r in results[(first, config)])
        for name in trees:
            runs = results[(name, config)]
            wall = statistics.median(r["wall"] for r in runs)
            each = ", ".join(f"{r['wall']:.1f}" for r in runs)
            print(f"  {config:<14} {name:<9} {each:<28} {wall:>7.2f} {runs[0]['clips'] / wall:>8.2f} "
                  f"{statistics.median(r['cpu'] for r in runs):>6.1f} {base / wall:>8.2f}x")
    last = repeats - 1
    exact = work / f"cmp_this_npy_{last}"
    for name in trees:
        if name == "this":
            continue
        npy_same = same_files(work / f"cmp_{name}_npy_{last}", exact, "**/*.*")
        h264_same = all(same_files(work / f"cmp_{name}_h264_{last}", work / f"cmp_this_h264_{last}", pattern)
                        for pattern in ("manifest.csv", "keypoints/*.npy"))
        print(f"  {name} against this: npy datasets byte-identical (manifest, meta, records, keypoints, crops): "
              f"{npy_same}; h264 manifest and keypoints byte-identical: {h264_same}")
    print("  worst h264 crop PSNR against the exact npy crops: " + ", ".join(
        f"{name} {psnr_against(exact, work / f'cmp_{name}_h264_{last}'):.2f} dB" for name in trees))


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
    parser.add_argument("--baseline", type=Path, action="append", help="another mgfast checkout to compare with (see above; repeatable)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of the baseline comparison")
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
        if args.baseline is not None:
            compare_with_baselines(args.baseline, src, work, args.crop_size, args.repeats)


if __name__ == "__main__":
    main()
