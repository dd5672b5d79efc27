"""Untrimmed test videos with dense ground truth, for `mgfast recognize` (``mgfast synth OUT --untrimmed N``).

Each video is a long interview in the MiGA layout (:mod:`mgfast.synth.corpus` writes it, with the same
subjects, motion, renderer and detector): gestures at random times, among idle stretches of breathing,
talking and the subject's personal fidget, and **every** gesture labelled in ``<id>_label.csv``
(``class,start_frame,end_frame``, MiGA codes, both ends inclusive, as :mod:`mgfast.io.annotations` reads)::

    OUT/U0001/U0001.mp4  U0001_openpose.csv|xlsx  U0001_label.csv
    OUT/subjects.csv  OUT/classes.csv  OUT/synth.json

The subjects are those of the demo corpus written with the same seed and number of subjects (so branches
trained on it meet the same people; another seed gives new people); the classes are the demo corpus's
first ``classes`` classes, drawn with the same long tail. The number of gestures in a video follows a
Poisson law of ``gestures_per_minute``; their places and durations are random. Deterministic in the seed:
video ``U000k`` does not depend on how many videos are written.

Sizes: the default is realistic (3-minute videos at 320x180); ``tiny`` makes 300-frame videos at 128x96 with
a higher gesture rate, written in about a second each, for CI.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_write_text
from mgfast.synth.body import sample_subject
from mgfast.synth.corpus import (_MIN_GAP, MANIFEST, PARTIAL, SynthConfig, VideoJob, _rng, _run,
                                 class_counts, prepare_output)
from mgfast.synth.motion import CATALOGUE

FORMAT = "mgfast-synth-untrimmed"
VIDEO_PREFIX = "U"
STREAM = 3  # the seed's stream for untrimmed scripts (the corpus uses 0: subjects, 1: videos, 2: splits)
INDEX_BASE = 1_000_000  # untrimmed video k simulates as corpus video INDEX_BASE + k: streams apart from the corpus's


@dataclass(frozen=True)
class UntrimmedSize:
    """Length, picture size and gesture rate of the videos."""

    frames: int
    width: int
    height: int
    gestures_per_minute: float


REALISTIC = UntrimmedSize(frames=4500, width=320, height=180, gestures_per_minute=8.0)  # 3 min at 25 fps
TINY = UntrimmedSize(frames=300, width=128, height=96, gestures_per_minute=20.0)


def _gesture_codes(rng: np.random.Generator, size: UntrimmedSize, fps: float, classes: int, imbalance: float,
                   min_segment: int) -> tuple[int, ...]:
    """Class codes of one video's gestures, in script order: a Poisson count (at least one, at most what
    fits with idle gaps), classes drawn with the corpus's long tail."""
    fits = (size.frames - _MIN_GAP) // (min_segment + _MIN_GAP)
    count = int(np.clip(rng.poisson(size.gestures_per_minute * size.frames / fps / 60.0), 1, fits))
    weights = np.asarray(class_counts(1000 * classes, classes, imbalance), dtype=float)
    codes = [c.code for c in CATALOGUE[:classes]]
    return tuple(int(c) for c in rng.choice(codes, size=count, p=weights / weights.sum()))


def untrimmed_size(tiny: bool = False, *, frames: int | None = None, width: int | None = None,
                   height: int | None = None, gestures_per_minute: float | None = None) -> UntrimmedSize:
    """:data:`TINY` or :data:`REALISTIC`, with the values given here in place of its own."""
    base = TINY if tiny else REALISTIC
    return UntrimmedSize(frames=base.frames if frames is None else frames, width=base.width if width is None else width,
                         height=base.height if height is None else height,
                         gestures_per_minute=base.gestures_per_minute if gestures_per_minute is None else gestures_per_minute)


def plan_untrimmed(n_videos: int, seed: int, size: UntrimmedSize, *, fps: float = 25.0, subjects: int = 6,
                   classes: int = 8, imbalance: float = 6.0, pose_format: str = "csv", crf: int = 23) -> list[VideoJob]:
    """One job per video (its subject and gesture classes), for :func:`mgfast.synth.corpus.render_video`;
    ``ValueError`` naming the parameter when the combination is unusable."""
    if isinstance(n_videos, bool) or not isinstance(n_videos, int) or n_videos < 1:
        raise ValueError(f"the number of untrimmed videos must be at least 1, got {n_videos!r}")
    if not (math.isfinite(size.gestures_per_minute) and size.gestures_per_minute >= 0):
        raise ValueError(f"gestures_per_minute must be a non-negative number, got {size.gestures_per_minute!r}")
    # The corpus's checks cover picture size, fps, classes, format and length (one gesture must fit).
    config = SynthConfig(videos=max(n_videos, subjects), subjects=subjects, seed=seed, frames_per_video=size.frames,
                         width=size.width, height=size.height, classes=classes, segments_per_video=1, fps=fps,
                         pose_format=pose_format, test_fraction=0.0, imbalance=imbalance, crf=crf)
    config.check()
    people = [sample_subject(f"S{i + 1:02d}", _rng(seed, 0, i)) for i in range(subjects)]  # as the corpus draws them
    jobs = []
    for k in range(n_videos):
        codes = _gesture_codes(_rng(seed, STREAM, k), size, fps, classes, imbalance, config.min_segment)
        jobs.append(VideoJob(f"{VIDEO_PREFIX}{k + 1:04d}", INDEX_BASE + k, people[k % subjects], codes, False, config))
    return jobs


def write_untrimmed(out: Path, n_videos: int, seed: int, *, tiny: bool = False, frames: int | None = None,
                    width: int | None = None, height: int | None = None, fps: float = 25.0,
                    gestures_per_minute: float | None = None, subjects: int = 6, classes: int = 8,
                    imbalance: float = 6.0, pose_format: str = "csv", crf: int = 23, workers: int = 1,
                    overwrite: bool = False, progress: bool = True) -> list[Path]:
    """Writes ``n_videos`` untrimmed, densely labelled videos to ``out`` (module docstring); returns their folders.

    ``tiny`` picks the CI size (:data:`TINY`) instead of :data:`REALISTIC`; ``frames``, ``width``, ``height``
    and ``gestures_per_minute`` override the size's values. ``workers`` > 1 renders videos in parallel
    processes (the output does not depend on it). ``out`` must be new or empty, or, with ``overwrite``,
    hold an earlier synthetic corpus (replaced).
    """
    size = untrimmed_size(tiny, frames=frames, width=width, height=height, gestures_per_minute=gestures_per_minute)
    jobs = plan_untrimmed(n_videos, seed, size, fps=fps, subjects=subjects, classes=classes, imbalance=imbalance,
                          pose_format=pose_format, crf=crf)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = prepare_output(out, overwrite, "the untrimmed videos")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / PARTIAL, json.dumps({"videos": [j.video_id for j in jobs]}) + "\n")
    results = _run(jobs, out, workers, progress)

    class_list = [(c.code, c.name) for c in CATALOGUE[:classes]]
    atomic_write_text(out / "classes.csv", "code,name\n" + "".join(f"{code},{name}\n" for code, name in sorted(class_list)))
    atomic_write_text(out / "subjects.csv", "video,subject\n" + "".join(f"{j.video_id},{j.subject.subject_id}\n" for j in jobs))
    manifest = {
        "format": FORMAT,
        "seed": seed,
        "size": {"frames": size.frames, "width": size.width, "height": size.height,
                 "gestures_per_minute": size.gestures_per_minute, "fps": fps},
        "subjects": subjects, "classes": [{"code": c, "name": n} for c, n in class_list], "imbalance": imbalance,
        "pose_format": pose_format, "crf": crf,
        "videos": [j.video_id for j in jobs],
        "segments": {r.video_id: len(r.segments) for r in results},
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    (out / PARTIAL).unlink()
    return [out / j.video_id for j in jobs]
