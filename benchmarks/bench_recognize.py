"""`mgfast recognize` throughput: video frames per second per branch and fused, and online latency.

    python benchmarks/bench_recognize.py [--frames 1500] [--threads 2] [--device cpu] [--repeats 3]

Synthesises untrimmed videos (320x180, OpenPose tables), extracts their labelled segments (keypoints only),
trains one epoch each (the weights do not matter for speed): a joint and a heatmap run with their ``tiny``
presets, and a joint run with the branch's ``default`` network and clip length scored on one view per
window (trained with ``num_clips=1``, no test flip: its 10 default views cost about 0.6 s per window on 2
loaded cores, far from real time). Then it recognises one video of ``--frames`` frames with each run, the
tiny joint run also with ``--single-view``, and the two tiny runs fused: frames per second of the whole command
(pose table read, windows, scoring, fusion, decoding, outputs; default window and stride from the training
segments), the median of ``--repeats`` runs, and its ratio to real time (25 fps). The online mode is timed
on the same video read as fast as it decodes: the latency of each decision (newest frame read to decision),
mean and p95. With ``--pose mediapipe`` (when installed) the offline runs estimate poses instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mgfast.extract import extract
from mgfast.extract.options import ExtractOptions
from mgfast.recognize.online import file_frames, keypoints_source, run_online
from mgfast.recognize.pipeline import Recognizer, RecognizeOptions, recognize
from mgfast.recognize.sources import find_videos
from mgfast.synth.untrimmed import write_untrimmed
from mgfast.train import make_config, train

REAL_TIME = 25.0


def prepare(work: Path, frames: int, device: str) -> tuple[Path, dict[str, Path]]:
    videos = work / "videos"
    write_untrimmed(videos, 4, 0, frames=frames, width=320, height=180, subjects=4, classes=5, progress=False)
    data = work / "data"
    summary = extract(videos, data, crops=False, device="cpu", progress=False)
    assert summary.ok, summary
    runs = {}
    for name, modality, preset, extra in (("joint", "joint", "tiny", {}), ("heatmap", "heatmap", "tiny", {}),
                                          ("joint-default", "joint", "default", {"num_clips": 1, "test_flip": False})):
        config = make_config(data, modality, work / "runs" / name, preset=preset, epochs=1, workers=0,
                             progress=False, warmup_epochs=0.0, device=device, **extra)
        runs[name] = train(config)
    return videos / "U0001", runs


def offline_fps(video: Path, runs: list[Path], out: Path, frames: int, repeats: int, pose: str, device,
                single_view: bool) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        options = RecognizeOptions(force=True, pose=pose, progress=False, single_view=single_view)
        results = recognize(video / f"{video.name}.mp4", runs, out, options=options,
                            device=device, log=print)
        times.append(time.perf_counter() - start)
        assert results[0].error is None, results[0].error
    return frames / statistics.median(times)


def online_latency(video: Path, runs: list[Path], device) -> tuple[int, float, float]:
    recognizer = Recognizer(runs, device=device)
    path = video / f"{video.name}.mp4"
    keypoints_of = keypoints_source(find_videos(path)[0], ExtractOptions(crops=False))
    fps, size, frames = file_frames(str(path), realtime=False)
    decisions = run_online(recognizer, fps, size, frames, keypoints_of)
    ms = np.array([d.latency for d in decisions]) * 1e3
    return len(decisions), float(ms.mean()), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pose", default="auto", help="auto (the pose tables) or mediapipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, device {device}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video, runs = prepare(work, args.frames, args.device)
        recognizer = Recognizer([runs["joint"]])
        print(f"window {recognizer.window} frames, stride {recognizer.stride} (defaults from the training segments)")
        print(f"| runs | views per window | keypoints | frames/s | x real time ({REAL_TIME:g} fps) |\n|---|---|---|---|---|")
        rows = (("joint (tiny)", [runs["joint"]], False, "run's: 2 x flip"),
                ("joint (tiny)", [runs["joint"]], True, "1 (--single-view)"),
                ("joint (default network, clip_len 64)", [runs["joint-default"]], False, "1"),
                ("heatmap (tiny)", [runs["heatmap"]], False, "run's: 2 x flip"),
                ("joint + heatmap fused (tiny)", [runs["joint"], runs["heatmap"]], False, "run's"))
        for name, run_dirs, single, views in rows:
            fps = offline_fps(video, run_dirs, work / "out", args.frames, args.repeats, args.pose, device, single)
            source = "pose table" if args.pose == "auto" else args.pose
            print(f"| {name} | {views} | {source} | {fps:.1f} | {fps / REAL_TIME:.2f} |", flush=True)
        for name, run_dirs in (("joint (tiny)", [runs["joint"]]), ("joint + heatmap (tiny)", [runs["joint"], runs["heatmap"]])):
            count, mean, p95 = online_latency(video, run_dirs, device)
            print(f"online {name}: {count} decisions, latency mean {mean:.1f} ms, p95 {p95:.1f} ms")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
