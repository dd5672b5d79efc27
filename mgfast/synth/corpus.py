"""Writing a synthetic corpus in the MiGA / iMiGUE challenge layout.

::

    OUT/<id>/<id>.mp4                 H.264 interview video
    OUT/<id>/<id>_openpose.xlsx|csv   OpenPose-137 table, one row per frame (noisy, with dropouts)
    OUT/<id>/<id>_label.csv           class,start_frame,end_frame (blank class for test videos)
    OUT/subjects.csv                  video,subject
    OUT/classes.csv                   code,name
    OUT/hidden_labels.csv             clip_id,code: the true classes of the test videos' segments
    OUT/synth.json                    the parameters and the subjects' habits, for reference

Test videos are all the videos of held-out subjects, so evaluating on them measures cross-subject
generalisation. Everything is derived from the seed: the same parameters give the same pose tables and
label files byte for byte (CSV; xlsx files carry a timestamp, their values are the same) and videos with
the same frames.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_write_text
from mgfast.io.pose_tables import write_pose_table
from mgfast.io.video import EncoderUnavailable, VideoWriter, write_video
from mgfast.synth.body import Subject, sample_subject
from mgfast.synth.detect import detect
from mgfast.synth.motion import CATALOGUE, Gesture, GestureClass, Pose, make_script, pose_video, table_top
from mgfast.synth.render import Scene, draw_frame, make_scene

POSE_FORMATS = ("xlsx", "csv")
MANIFEST = "synth.json"
PARTIAL = ".synth-partial.json"  # the videos a run is writing; replaced by MANIFEST when the run completes


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic corpus (the defaults make a small corpus that CI can afford)."""

    videos: int = 12
    subjects: int = 6
    seed: int = 0
    frames_per_video: int = 500
    width: int = 320
    height: int = 180
    classes: int = 8
    segments_per_video: int = 10
    min_segment: int = 16
    max_segment: int = 40
    fps: float = 25.0
    pose_format: str = "csv"
    test_fraction: float = 1 / 3
    imbalance: float = 6.0
    crf: int = 23

    def check(self) -> None:
        """Raises ``ValueError`` naming the parameter and the fix when the combination is unusable."""
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        need(self.subjects >= 1, f"subjects must be at least 1, got {self.subjects}")
        need(self.videos >= self.subjects, f"videos ({self.videos}) must be at least subjects ({self.subjects}): every subject needs a video")
        need(2 <= self.classes <= len(CATALOGUE), f"classes must lie in [2, {len(CATALOGUE)}], got {self.classes}")
        need(self.segments_per_video >= 1, f"segments_per_video must be at least 1, got {self.segments_per_video}")
        need(1 <= self.min_segment <= self.max_segment, f"need 1 <= min_segment <= max_segment, got {self.min_segment}, {self.max_segment}")
        need(self.width >= 64 and self.height >= 64 and self.width % 2 == 0 and self.height % 2 == 0,
             f"width and height must be even and at least 64 (H.264 yuv420p), got {self.width}x{self.height}")
        need(self.fps > 0 and math.isfinite(self.fps), f"fps must be positive, got {self.fps}")
        need(self.pose_format in POSE_FORMATS, f"pose_format must be one of {', '.join(POSE_FORMATS)}, got {self.pose_format!r}")
        need(0.0 <= self.test_fraction < 1.0, f"test_fraction must lie in [0, 1), got {self.test_fraction}")
        need(self.imbalance >= 1.0, f"imbalance (most / least frequent class) must be at least 1, got {self.imbalance}")
        need(0 <= self.crf <= 51, f"crf must lie in [0, 51], got {self.crf}")
        least = self.segments_per_video * self.min_segment + (self.segments_per_video + 1) * _MIN_GAP
        need(self.frames_per_video >= least,
             f"frames_per_video ({self.frames_per_video}) is too short for {self.segments_per_video} segments of at least "
             f"{self.min_segment} frames with idle gaps: use at least {least}, or fewer/shorter segments")
        if self.test_fraction > 0:
            need(self.subjects >= 2, "a test split needs at least 2 subjects (test subjects are held out); "
                 "raise subjects or set test_fraction 0")


_MIN_GAP = 8  # shortest idle stretch between gestures, in frames


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesize` wrote."""

    out: Path
    videos: list[str]
    test_videos: list[str]
    subjects: dict[str, str]  # video -> subject
    test_subjects: list[str]
    classes: list[tuple[int, str]]  # (code, name)
    train_counts: dict[int, int]  # code -> segments in training videos
    test_counts: dict[int, int]
    frames: int
    seconds: float

    def describe(self) -> str:
        counts = ", ".join(f"{code}:{self.train_counts[code]}/{self.test_counts[code]}" for code, _ in self.classes)
        return (f"{len(self.videos)} videos ({len(self.test_videos)} test, subjects {', '.join(self.test_subjects) or 'none'} "
                f"held out), {self.frames} frames, {len(self.classes)} classes; segments per class code train/test: "
                f"{counts}; written to {self.out} in {self.seconds:.1f} s")


def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream per (purpose, index), so a video does not depend on how many others there are."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def class_counts(total: int, classes: int, imbalance: float) -> list[int]:
    """Long-tailed segment counts summing to ``total``: Zipf-like, first/last ratio ``imbalance``.

    Every class gets at least one segment when ``total >= classes`` (taken from the most frequent).
    """
    exponent = math.log(imbalance) / math.log(classes)
    return largest_remainder(np.arange(1, classes + 1, dtype=float) ** -exponent, total)


def largest_remainder(weights: np.ndarray, total: int) -> list[int]:
    """Integer counts proportional to ``weights`` that sum to ``total`` (largest remainders first), at least
    one each when ``total >= len(weights)`` (taken from the largest)."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    if total >= len(weights):
        for k in np.flatnonzero(counts == 0):
            counts[int(np.argmax(counts))] -= 1
            counts[k] = 1
    return counts.tolist()


@dataclass(frozen=True)
class VideoJob:
    """One video to make: its id, position (which seeds it), subject, classes in script order, split."""

    video_id: str
    index: int
    subject: Subject
    codes: tuple[int, ...]
    test: bool
    config: SynthConfig


@dataclass(frozen=True)
class VideoResult:
    video_id: str
    segments: list[tuple[int, int, int]]  # (code, start, end) in file order
    frames: int


def _by_code() -> dict[int, GestureClass]:
    return {c.code: c for c in CATALOGUE}


@dataclass
class Simulation:
    """One video before it is written: the script, clean keypoints, the scene, and the detector's table."""

    script: list[Gesture]
    pixels: np.ndarray  # [T, 137, 2] clean keypoints in frame pixels
    head: np.ndarray  # [T, 2] head centre in pixels
    pose: Pose
    scene: Scene
    table: np.ndarray  # [T, 137, 3] the OpenPose-like table (noisy, with dropouts)

    def frame(self, t: int, subject: Subject) -> np.ndarray:
        """Frame ``t`` as uint8 [H, W, 3] RGB, drawn from the clean keypoints."""
        pose = self.pose
        return draw_frame(self.scene, self.pixels[t], self.head[t], float(pose.roll[t]), float(pose.mouth[t]), subject)


def simulate(job: VideoJob) -> Simulation:
    """Everything about one video of the corpus except the files: deterministic in (seed, video index)."""
    cfg = job.config
    rng = _rng(cfg.seed, 1, job.index)
    subject = job.subject
    camera = subject.camera_for(cfg.width, cfg.height, rng)
    classes = [_by_code()[code] for code in job.codes]
    script = make_script(classes, subject, cfg.frames_per_video, rng, cfg.min_segment, cfg.max_segment, cfg.fps, _MIN_GAP)
    pose = pose_video(subject, script, cfg.frames_per_video, cfg.fps, rng)
    pixels = camera.to_pixels(pose.points)
    head = camera.to_pixels(pose.head)
    scene = make_scene(subject, camera, table_top(subject), cfg.width, cfg.height, rng)
    table = detect(pixels, head, camera.scale, subject.body.head_h, cfg.width, cfg.height, cfg.fps, rng)
    return Simulation(script, pixels, head, pose, scene, table)


def render_video(job: VideoJob, out: Path) -> VideoResult:
    """Simulates one video and writes its three files to ``out/<id>/``."""
    cfg = job.config
    sim = simulate(job)
    folder = out / job.video_id
    folder.mkdir(parents=True, exist_ok=True)
    _encode(folder / f"{job.video_id}.mp4", (sim.frame(t, job.subject) for t in range(cfg.frames_per_video)), cfg)
    write_pose_table(folder / f"{job.video_id}_openpose.{cfg.pose_format}", sim.table)
    _write_labels(folder / f"{job.video_id}_label.csv", sim.script, job.test)
    return VideoResult(job.video_id, [(g.cls.code, g.start, g.end) for g in sim.script], cfg.frames_per_video)


def _encode(path: Path, frames: Iterator[np.ndarray], cfg: SynthConfig) -> None:
    """H.264 streamed frame by frame; MPEG-4 Part 2 through OpenCV where libx264 is missing."""
    try:
        with VideoWriter(path, width=cfg.width, height=cfg.height, fps=cfg.fps, crf=cfg.crf, preset="veryfast") as writer:
            for frame in frames:
                writer.write(frame)
    except EncoderUnavailable:
        written = write_video(path, np.stack(list(frames)), cfg.fps, codec="mp4v")
        if written != path:
            written.unlink(missing_ok=True)
            raise RuntimeError(f"cannot write {path}: no video encoder (install PyAV with libx264, or OpenCV)") from None


def _write_labels(path: Path, script: list[Gesture], test: bool) -> None:
    rows = ["class,start_frame,end_frame"]
    rows += [f"{'' if test else g.cls.code},{g.start},{g.end}" for g in script]
    atomic_write_text(path, "\n".join(rows) + "\n")


def plan(config: SynthConfig) -> tuple[list[Subject], list[VideoJob], list[str]]:
    """Subjects, one job per video (its subject, classes and split), and the held-out subjects."""
    config.check()
    subjects = [sample_subject(f"S{i + 1:02d}", _rng(config.seed, 0, i)) for i in range(config.subjects)]
    rng = _rng(config.seed, 2)
    owner = [v % config.subjects for v in range(config.videos)]
    n_test = 0 if config.test_fraction == 0 else min(max(round(config.subjects * config.test_fraction), 1), config.subjects - 1)
    test_subjects = sorted(int(i) for i in rng.choice(config.subjects, size=n_test, replace=False))
    test = [owner[v] in test_subjects for v in range(config.videos)]
    codes = [c.code for c in CATALOGUE[: config.classes]]
    labels: dict[bool, list[int]] = {}
    for split in (False, True):
        n_videos = sum(1 for t in test if t == split)
        counts = class_counts(n_videos * config.segments_per_video, config.classes, config.imbalance)
        pool = np.repeat(codes, counts)
        rng.shuffle(pool)
        labels[split] = pool.tolist()
    jobs = []
    taken = {False: 0, True: 0}
    for v in range(config.videos):
        split = test[v]
        first = taken[split]
        taken[split] += config.segments_per_video
        jobs.append(VideoJob(f"{v + 1:04d}", v, subjects[owner[v]], tuple(labels[split][first : taken[split]]), split, config))
    return subjects, jobs, [subjects[i].subject_id for i in test_subjects]


def prepare_output(out: str | Path, overwrite: bool, what: str) -> Path:
    """``out`` as a Path, checked to be new or empty, or emptied of an earlier synthetic corpus when
    ``overwrite``; ``what`` names the contents in the error for a file in the way."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file; pass a folder for {what}")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; choose a new folder, or pass overwrite (--force) to replace "
                                  "an earlier synthetic corpus there")
        _clear_previous(out)
    return out


def _clear_previous(out: Path) -> None:
    """Removes the video folders and files that an earlier synth run, finished or interrupted, recorded."""
    videos: set[str] = set()
    found = False
    for name in (MANIFEST, PARTIAL):
        try:
            videos |= {str(v) for v in json.loads((out / name).read_text())["videos"]}
            found = True
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            raise FileExistsError(f"{out / name} cannot be read, so {out} cannot be cleared safely; "
                                  "delete the folder or choose another") from None
    if not found:
        raise FileExistsError(f"{out} is not empty and holds no {MANIFEST} from an earlier synth run; "
                              "choose an empty or new folder")
    for video in videos:
        if video.isalnum():  # ids are digits: never a path outside OUT
            shutil.rmtree(out / video, ignore_errors=True)
    for name in ("subjects.csv", "classes.csv", "hidden_labels.csv", MANIFEST, PARTIAL):
        (out / name).unlink(missing_ok=True)


def synthesize(out: str | Path, *, videos: int = 12, subjects: int = 6, seed: int = 0, frames_per_video: int = 500,
               width: int = 320, height: int = 180, classes: int = 8, segments_per_video: int = 10,
               min_segment: int = 16, max_segment: int = 40, fps: float = 25.0, pose_format: str = "csv",
               test_fraction: float = 1 / 3, imbalance: float = 6.0, crf: int = 23, workers: int = 1,
               overwrite: bool = False, progress: bool = True) -> SynthSummary:
    """Writes a synthetic micro-gesture corpus in the MiGA layout to ``out`` (see the module docstring).

    ``workers`` > 1 renders videos in parallel processes (the output does not depend on it). ``out`` must
    be empty or new, unless ``overwrite`` is set and it holds an earlier synthetic corpus, which is replaced.
    """
    config = SynthConfig(videos=videos, subjects=subjects, seed=seed, frames_per_video=frames_per_video, width=width,
                         height=height, classes=classes, segments_per_video=segments_per_video, min_segment=min_segment,
                         max_segment=max_segment, fps=fps, pose_format=pose_format, test_fraction=test_fraction,
                         imbalance=imbalance, crf=crf)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    began = time.perf_counter()
    out = prepare_output(out, overwrite, "the corpus")
    config.check()
    subject_list, jobs, test_subjects = plan(config)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / PARTIAL, json.dumps({"videos": [j.video_id for j in jobs]}) + "\n")
    results = _run(jobs, out, workers, progress)

    by_code = _by_code()
    class_list = [(c.code, c.name) for c in CATALOGUE[: config.classes]]
    atomic_write_text(out / "classes.csv", "code,name\n" + "".join(f"{code},{name}\n" for code, name in sorted(class_list)))
    owner = {j.video_id: j.subject.subject_id for j in jobs}
    atomic_write_text(out / "subjects.csv", "video,subject\n" + "".join(f"{v},{s}\n" for v, s in owner.items()))
    hidden = ["clip_id,code"]
    train_counts = {code: 0 for code, _ in class_list}
    test_counts = dict(train_counts)
    for job, result in zip(jobs, results):
        for number, (code, _, _) in enumerate(result.segments, start=1):
            (test_counts if job.test else train_counts)[code] += 1
            if job.test:
                hidden.append(f"{job.video_id}_{number},{code}")
    atomic_write_text(out / "hidden_labels.csv", "\n".join(hidden) + "\n")
    manifest = {
        "format": "mgfast-synth",
        "config": asdict(config),
        "videos": [j.video_id for j in jobs],
        "test_videos": [j.video_id for j in jobs if j.test],
        "test_subjects": test_subjects,
        "classes": [{"code": c, "name": n, "hands": by_code[c].hands, "target": by_code[c].target} for c, n in class_list],
        "subjects": [{"subject": s.subject_id, **asdict(s.habits), "camera": asdict(s.camera),
                      "body": asdict(s.body)} for s in subject_list],
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    (out / PARTIAL).unlink()
    return SynthSummary(
        out=out, videos=[j.video_id for j in jobs], test_videos=[j.video_id for j in jobs if j.test],
        subjects=owner, test_subjects=test_subjects, classes=class_list, train_counts=train_counts,
        test_counts=test_counts, frames=sum(r.frames for r in results), seconds=time.perf_counter() - began,
    )


def _run(jobs: list[VideoJob], out: Path, workers: int, progress: bool) -> list[VideoResult]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="synth", unit="video", disable=not progress)
    try:
        if workers == 1 or len(jobs) == 1:
            results = []
            for job in jobs:
                results.append(render_video(job, out))
                bar.update()
            return results
        workers = min(workers, len(jobs), os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(render_video, job, out) for job in jobs]
            results = []
            for future in futures:
                results.append(future.result())
                bar.update()
            return results
    finally:
        bar.close()
