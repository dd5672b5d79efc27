"""Decoding an hour of per-frame probabilities into segments, against the cheapest frame labelling there is.

    python benchmarks/bench_decode.py [--frames 90000] [--classes 33] [--repeats 7]

The input is ``[frames, classes]`` probabilities (default: an hour at 25 fps, 32 gesture classes and a "no
gesture" class) with a gesture of 16-45 frames every few seconds among background and noise, as a trained
model's fused output would look. Timed in the same run, median of ``--repeats``:

- **baseline**: ``np.argmax(probs, axis=1)``, one pass over the array (what any decoder must at least do);
- **decode**: :func:`mgfast.recognize.decode.decode` with the default options (smoothing over 9 frames,
  threshold, background, merge, minimum length, NMS);
- **timeline**: :func:`mgfast.recognize.timeline.draw_timeline` of the same video with its segments and truth.
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

from mgfast.recognize.decode import DecodeOptions, Segment, decode
from mgfast.recognize.timeline import draw_timeline


def synthetic_probs(frames: int, classes: int, seed: int = 0) -> tuple[np.ndarray, list[Segment]]:
    """Softmax of noisy logits with background strongest, and gestures written into them (their truth)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 0.6, size=(frames, classes))
    logits[:, -1] += 2.5
    truth, t = [], int(rng.integers(25, 200))
    while t + 45 < frames:
        length, label = int(rng.integers(16, 46)), int(rng.integers(classes - 1))
        logits[t : t + length, label] += 4.0 + rng.normal(0.0, 1.0)
        truth.append(Segment(t, t + length, label, 1.0))
        t += length + int(rng.integers(25, 200))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True), truth


def median_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90_000)
    parser.add_argument("--classes", type=int, default=33)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    probs, truth = synthetic_probs(args.frames, args.classes)
    options = DecodeOptions()
    background = args.classes - 1
    segments = decode(probs, options, background=background)
    baseline = median_time(lambda: np.argmax(probs, axis=1), args.repeats)
    decoding = median_time(lambda: decode(probs, options, background=background), args.repeats)
    names = [f"class {c}" for c in range(args.classes - 1)] + ["no gesture"]
    with tempfile.TemporaryDirectory() as tmp:
        drawing = median_time(lambda: draw_timeline(probs, segments, names, 25.0, Path(tmp) / "t.png", truth),
                              max(1, args.repeats // 3))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"{args.frames} frames x {args.classes} classes, {len(truth)} true and {len(segments)} decoded segments")
    print(f"baseline argmax  {baseline * 1e3:8.1f} ms")
    print(f"decode           {decoding * 1e3:8.1f} ms  ({decoding / baseline:.1f} x the baseline)")
    print(f"timeline PNG     {drawing * 1e3:8.1f} ms  ({drawing / baseline:.1f} x the baseline)")


if __name__ == "__main__":
    main()
