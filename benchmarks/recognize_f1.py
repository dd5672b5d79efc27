"""Segment and frame F1 of `mgfast recognize --eval` outputs, with 95 % intervals over videos.

    python benchmarks/recognize_f1.py NAME=OUT [NAME=OUT ...] [--draws 2000] [--seed 0]

Each ``OUT`` is a `mgfast recognize ... --eval --out OUT` folder: ``OUT/<video>/recognize.json`` holds the
video's true-positive, false-positive and false-negative counts at each IoU of the sweep and at frame level
(:func:`mgfast.recognize.pipeline.video_scores`). Only the videos that every ``OUT`` scored count (the others
are named). Printed as markdown:

- per ``NAME``: pooled segment precision / recall / F1 at IoU 0.5 (counts summed over videos first, as
  ``--eval`` does), the F1 sweep over IoU 0.1-0.7 and frame F1, each F1 at IoU 0.5 and frame F1 with a 95 %
  percentile interval from a bootstrap over videos (resample videos, pool their counts, recompute F1);
- per pair of ``NAME``s (the first against each other one): the difference of pooled F1 at IoU 0.5 and of
  frame F1 with a paired bootstrap interval (the same resampled videos for both), and the per-video
  segment F1 differences.

The first ``NAME`` is the one compared (e.g. the fusion); resamples use ``--seed``, so reruns print the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mgfast.recognize.evaluate import IOU_SWEEP, DetectionScores
from mgfast.recognize.pipeline import RECORD
from mgfast.stats import Interval, bootstrap_interval

IOU = "0.5"


def read_counts(out: Path) -> dict[str, dict]:
    """``{video: scores}`` of every scored video in a recognize output folder (``scores`` of recognize.json)."""
    counts = {}
    for record_path in sorted(out.glob(f"*/{RECORD}")):
        record = json.loads(record_path.read_text())
        if record.get("scores") is None:
            raise ValueError(f"{record_path}: no scores; rerun `mgfast recognize` on videos with label files")
        counts[record_path.parent.name] = record["scores"]
    if not counts:
        raise ValueError(f"{out}: no <video>/{RECORD}; pass the --out folder of a `mgfast recognize --eval` run")
    return counts


def count_array(counts: dict[str, dict], videos: list[str], key: str) -> np.ndarray:
    """int64 ``[videos, 3]`` (tp, fp, fn) at IoU ``key``, or at frame level for ``key == "frame"``."""
    return np.array([counts[v]["frame"] if key == "frame" else counts[v]["iou"][key] for v in videos], np.int64)


def pooled(rows: np.ndarray) -> DetectionScores:
    return DetectionScores.from_counts(*rows.sum(axis=0).tolist())


def f1_interval(rows: np.ndarray, draws: int, seed: int) -> Interval:
    return bootstrap_interval(lambda i: pooled(rows[i]).f1, len(rows), draws=draws, seed=seed)


def paired_interval(a: np.ndarray, b: np.ndarray, draws: int, seed: int) -> Interval:
    return bootstrap_interval(lambda i: pooled(a[i]).f1 - pooled(b[i]).f1, len(a), draws=draws, seed=seed)


def cell(x: Interval) -> str:
    return f"{x.mean:.3f} [{x.low:.3f}, {x.high:.3f}]"


def report(outs: dict[str, Path], draws: int, seed: int) -> str:
    counts = {name: read_counts(out) for name, out in outs.items()}
    videos = sorted(set.intersection(*(set(c) for c in counts.values())))
    if not videos:
        raise ValueError(f"{', '.join(map(str, outs.values()))} share no scored video: pass outputs of the same videos")
    missing = sorted(set.union(*(set(c) for c in counts.values())) - set(videos))
    truth = int(count_array(next(iter(counts.values())), videos, IOU)[:, [0, 2]].sum())
    lines = [f"{len(videos)} videos ({', '.join(videos)}), {truth} true gestures; 95 % intervals: bootstrap over "
             f"videos, {draws} resamples, seed {seed}."
             + (f" Left out, not scored by every run: {', '.join(missing)}." if missing else ""), "",
             "| runs | P @0.5 | R @0.5 | segment F1 @0.5 [95 %] | frame F1 [95 %] | "
             + " | ".join(f"F1 @{iou:g}" for iou in IOU_SWEEP) + " |",
             "|---|---|---|---|---|" + "---|" * len(IOU_SWEEP)]
    for name, c in counts.items():
        at = count_array(c, videos, IOU)
        s = pooled(at)
        sweep = " | ".join(f"{pooled(count_array(c, videos, str(iou))).f1:.3f}" for iou in IOU_SWEEP)
        lines.append(f"| {name} | {s.precision:.3f} | {s.recall:.3f} | {cell(f1_interval(at, draws, seed))} "
                     f"| {cell(f1_interval(count_array(c, videos, 'frame'), draws, seed))} | {sweep} |")
    names = list(counts)
    if len(names) > 1:
        first = names[0]
        lines += ["", f"Paired over the same videos ({first} minus each other; bootstrap of the difference of pooled "
                  "F1, the same resampled videos for both; per video: segment F1 @0.5 differences):", "",
                  "| comparison | Δ segment F1 @0.5 [95 %] | Δ frame F1 [95 %] | videos better / equal / worse | "
                  "per-video Δ F1 @0.5 |", "|---|---|---|---|---|"]
        for other in names[1:]:
            seg = paired_interval(count_array(counts[first], videos, IOU), count_array(counts[other], videos, IOU),
                                  draws, seed)
            frame = paired_interval(count_array(counts[first], videos, "frame"),
                                    count_array(counts[other], videos, "frame"), draws, seed)
            per_video = [DetectionScores.from_counts(*counts[first][v]["iou"][IOU]).f1
                         - DetectionScores.from_counts(*counts[other][v]["iou"][IOU]).f1 for v in videos]
            tally = (sum(d > 0 for d in per_video), sum(d == 0 for d in per_video), sum(d < 0 for d in per_video))
            lines.append(f"| {first} − {other} | {cell(seg)} | {cell(frame)} | {' / '.join(map(str, tally))} "
                         f"| {', '.join(f'{d:+.2f}' for d in per_video)} |")
    return "\n".join(lines)


def parse_out(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=OUT_DIR, got {text!r}")
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outs", nargs="+", type=parse_out, help="NAME=OUT: a `mgfast recognize --eval` --out folder")
    parser.add_argument("--draws", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default 0)")
    args = parser.parse_args(argv)
    print(report(dict(args.outs), args.draws, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
