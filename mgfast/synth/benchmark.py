"""The benchmark corpus: a pose-only dataset directory with the properties the method's claims are about.

``mgfast synth OUT --profile benchmark`` writes, directly and without videos, what ``mgfast extract``
would write for a corpus of trimmed micro-gesture clips (``meta.json``, ``manifest.csv``,
``keypoints/<clip>.npy`` in mg68, no crops), plus ``benchmark.json`` (the profile, the classes, the
subjects and the counts per split) and ``clip_info.csv`` (per clip: population, hand, distractor, the
gesture's amplitude and the detector's jitter). The parameters are fixed here and documented, with the
reasons, in ``docs/benchmark.md``; change them only with a new :data:`PROFILE_VERSION`.

The corpus reuses the synthetic subjects of :mod:`mgfast.synth.body`, the motion of
:mod:`mgfast.synth.motion` and the OpenPose-like detector of :mod:`mgfast.synth.detect`, with:

- micro-movements at a low signal-to-noise ratio: subjects sit with their elbows on the table and their
  hands in front of the chest, so that a gesture is a short reach; the detector adds an 8-pixel jitter
  floor to OpenPose's body-relative jitter, drops hands as OpenPose does and loses face points behind a hand;
- confusable classes: three classes are look-alikes of more frequent ones (the same hand shape, path and
  movement to a target a few centimetres away), and about 30 % of the clips carry a distractor, an
  aborted reach of the free hand;
- a long tail: 12 classes, 152 training clips in the head class and 7 in the last;
- a subject shift: the test subjects come from another population (mostly left-handed, zoomed out and
  filmed from the side, broader and longer-armed, quicker, with their own way of making each class).

Splits: ``train`` (25 subjects; ``mgfast train --calib-fraction 0.2`` carves 5 of them, the ones
:func:`plan_benchmark` lists as ``calib``, as the calibration split), ``val`` (5 subjects) and ``test``
(20 held-out subjects, unlabelled, the true class in ``hidden_label``). Deterministic in the seed; written
atomically (a temporary sibling folder renamed into place when complete).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from mgfast.io.dataset import ClassInfo, Clip, write_manifest, write_meta
from mgfast.layout import MG68, to_mg68
from mgfast.synth.body import LEFT_HAND, RIGHT_HAND, Body, Camera, Subject, sample_subject
from mgfast.synth.corpus import class_counts, largest_remainder
from mgfast.synth.detect import detect
from mgfast.synth.motion import CATALOGUE, Gesture, GestureClass, make_script, pose_video

PROFILE_VERSION = 1
"""Bump when anything below changes what the corpus holds; results of one version do not carry over."""

FORMAT = "mgfast-benchmark-corpus"
INFO_FILE = "benchmark.json"
CLIP_INFO_FILE = "clip_info.csv"
KEYPOINTS_DIR = "keypoints"

WIDTH, HEIGHT, FPS = 1280, 720, 25.0
MIN_FRAMES, MAX_FRAMES = 24, 48  # a clip (one gesture segment) lasts 24-48 frames: 1-2 s at 25 fps
MIN_GAP = 8  # idle frames between the segments of one simulated session
CALIB_FRACTION = 0.2  # what the benchmark passes to `mgfast train --calib-fraction` (with --split-seed 0)
SPLIT_SEED = 0

# The detector (mgfast.synth.detect keywords); mgfast synth's demo corpus uses 1.0, 0.0, 0.03, 0.0.
DETECTOR = {"jitter": 1.0, "pixel_jitter": 8.0, "hand_drop_rate": 0.03, "occlusion_drop": 0.3}
FAR_EAR_YAW = 0.3  # |camera yaw| (rad) from which the far ear is out of sight in every frame
# Motion (mgfast.synth.motion.pose_video keywords) and the gestures' head movements.
ARC_SCALE = 0.3  # the outward arc of a reach, relative to a reach from the table
HEAD_SCALE = 0.4  # the catalogue's head pitch, drop and lean at a gesture's peak, scaled for micro-movements
BOW_SCALE = 0.6  # ... and for the head-only class, whose head movement is the gesture
RESTS = ("raised", "high")  # hands in front of the chest or just below the collarbones (elbows on the table)
DISTRACTOR_RATE = 0.3  # share of one-hand and head-only clips in which the free hand makes an aborted reach
DISTRACTOR_REACH = (0.25, 0.5)  # how far of the way to its target the aborted reach goes
DISTRACTOR_LENGTH = (0.4, 0.7)  # its duration, as a share of the clip

# Saliency boxes: the values `mgfast extract` uses (mgfast.extract.options.SALIENCY; a test keeps them equal).
SALIENCY = {"min_score": 0.1, "motion_gain": 2.0, "emphasis_gain": 1.0, "keep": 0.25,
            "quantiles": (0.02, 0.98), "margin": 0.15, "min_size": 32.0}


# -- classes ---------------------------------------------------------------------------------------------
def _catalogue(code: int) -> GestureClass:
    cls = next(c for c in CATALOGUE if c.code == code)
    scale = BOW_SCALE if cls.hands == "none" else HEAD_SCALE
    return replace(cls, pitch=cls.pitch * scale, drop=cls.drop * scale, lean=cls.lean * scale)


def _look_alike(of: GestureClass, code: int, name: str, target: str) -> GestureClass:
    """The same hand shape, direction, movement, head movement and duration as ``of``, to another target."""
    return replace(of, code=code, name=name, target=target)


_NOSE, _CHIN, _EYE = _catalogue(10), _catalogue(15), _catalogue(4)
CLASSES: tuple[GestureClass, ...] = (
    # Index = frequency rank in training (0: the head). Three are look-alikes of more frequent classes.
    _NOSE,                  # 0 touch the nose with the index finger
    _CHIN,                  # 1 rest the chin on the knuckles
    _EYE,                   # 2 rub an eye with the fingertips
    _catalogue(12),         # 3 pull the ear lobe
    _catalogue(7),          # 4 scratch the top of the head
    _look_alike(_EYE, 5, "rub above the eyebrow with the fingertips", "brow"),  # 5 ~ 2
    _catalogue(20),         # 6 rub the hands together in front of the chest
    _catalogue(6),          # 7 bow the head (the head alone: a small nod)
    _catalogue(18),         # 8 stroke the side of the neck
    _look_alike(_NOSE, 11, "touch the lips with the index finger", "lip"),  # 9 ~ 0
    _catalogue(9),          # 10 cover the face with both hands
    _look_alike(_CHIN, 14, "rest the jaw on the knuckles", "cheek"),  # 11 ~ 1
)
LOOK_ALIKES: dict[int, int] = {5: 2, 9: 0, 11: 1}
"""Confusable pairs: look-alike class index -> the more frequent class it looks like."""


# -- profiles --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Population:
    """Where a population's subjects come from: the systematic part of the subject shift."""

    left_handed: float  # share of subjects whose dominant hand is the left
    zoom: tuple[float, float]  # camera scale range, in frame heights per body unit (U, half a shoulder width)
    yaw: tuple[float, float]  # range of |camera yaw| (rad), sign random: the subject seen from the side
    build: tuple[float, float]  # range of the factor on shoulders, arms, hands and torso (the head stays)
    speed: tuple[float, float]  # range of the gestures' duration factor (< 1: quicker)
    dialect: bool  # the classes as the population makes them (DIALECT), not as the catalogue does


SOURCE = Population(left_handed=0.1, zoom=(0.18, 0.22), yaw=(0.0, 0.1), build=(1.0, 1.0), speed=(0.9, 1.25), dialect=False)
TARGET = Population(left_handed=0.6, zoom=(0.11, 0.15), yaw=(0.25, 0.45), build=(1.08, 1.2), speed=(0.7, 0.9), dialect=True)

# A subject's own way of performing each class: independent per (subject, class), both populations.
STYLE = {"angle": 0.12, "offset": 0.03, "amplitude": 0.3, "frequency": 0.2, "head": 0.3, "frames": 0.1}
"""Standard deviations: approach angle (rad), contact point (U, each axis), and the log of the factors on
the holding movement's amplitude and frequency, the head movement and the duration."""
# The target population's own way, shared by all its subjects (drawn once per corpus seed, per class).
DIALECT = {"angle": 0.15, "offset": 0.03, "amplitude": (0.6, 1.5), "head": (0.6, 1.5)}


@dataclass(frozen=True)
class Profile:
    """The shape of a corpus: classes, subjects per split, clips per subject and class counts per split."""

    name: str
    classes: tuple[int, ...]  # indices into CLASSES, in the dataset's index order
    subjects: dict[str, int]  # split -> subjects ("calib" subjects sit in the manifest's train split)
    clips_per_subject: dict[str, int]  # split -> clips of each subject (equal, so calib carving is exact)
    clips_per_video: dict[str, int]  # split -> segments per simulated session
    train_counts: tuple[int, ...]  # clips per class in the training subjects (calib excluded)
    test_ratio: float  # most / least frequent class in the test split (flatter than training)

    def counts(self, split: str) -> list[int]:
        """Clips per class (dataset index order) in ``split``."""
        total = self.subjects[split] * self.clips_per_subject[split]
        if split == "train":
            return list(self.train_counts)
        if split == "test":
            return class_counts(total, len(self.classes), self.test_ratio)
        return largest_remainder(np.asarray(self.train_counts, dtype=float), total)


FULL = Profile(
    name="full",
    classes=tuple(range(12)),
    subjects={"train": 20, "calib": 5, "val": 5, "test": 20},
    clips_per_subject={"train": 24, "calib": 24, "val": 24, "test": 30},
    clips_per_video={"train": 12, "calib": 12, "val": 12, "test": 10},
    train_counts=(152, 92, 62, 42, 32, 25, 20, 16, 13, 10, 9, 7),
    test_ratio=5.0,
)
QUICK = Profile(
    name="quick",
    classes=(0, 1, 2, 3, 9, 11),  # two heads and their look-alikes among them
    subjects={"train": 8, "calib": 2, "val": 2, "test": 3},
    clips_per_subject={"train": 6, "calib": 6, "val": 6, "test": 10},
    clips_per_video={"train": 6, "calib": 6, "val": 6, "test": 10},
    train_counts=(18, 10, 7, 5, 4, 4),
    test_ratio=2.0,
)


# -- the plan --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchSubject:
    """One subject of the corpus and what makes them differ from the others."""

    subject: Subject
    number: int  # seeds the subject's streams
    split: str  # train, calib, val or test ("calib": train in the manifest, carved by mgfast train)
    population: str  # "source" (train, calib, val) or "target" (test)
    yaw: float  # camera yaw (rad)
    build: float
    styles: tuple[GestureClass, ...]  # the subject's own version of each class (dataset index order)

    @property
    def id(self) -> str:
        return self.subject.subject_id

    def attributes(self) -> dict:
        s = self.subject
        return {"subject": self.id, "split": self.split, "population": self.population,
                "dominant": s.habits.dominant, "dominant_share": round(s.habits.dominant_share, 3),
                "zoom": round(s.camera.scale, 4), "yaw": round(self.yaw, 4), "build": round(self.build, 4),
                "speed": round(s.habits.speed, 4), "rest": s.habits.rest, "fidget": s.habits.fidget,
                "shoulder_width": round(2 * s.body.shoulder, 4)}


@dataclass(frozen=True)
class SessionPlan:
    """One simulated session of a subject: its segments' classes (dataset indices) in order."""

    video: str
    number: int  # seeds the session's stream
    subject: int  # index into BenchmarkPlan.subjects
    classes: tuple[int, ...]


@dataclass(frozen=True)
class BenchmarkPlan:
    """Everything about a corpus except the keypoints: cheap, so tests can check the full profile's shape."""

    profile: Profile
    seed: int
    classes: tuple[GestureClass, ...]  # dataset index order
    subjects: tuple[BenchSubject, ...]
    sessions: tuple[SessionPlan, ...]

    def split_subjects(self, split: str) -> list[BenchSubject]:
        return [s for s in self.subjects if s.split == split]

    def counts(self) -> dict[str, list[int]]:
        """Clips per class (dataset index order) in each split, as planned."""
        out = {split: [0] * len(self.classes) for split in ("train", "calib", "val", "test")}
        for session in self.sessions:
            split = self.subjects[session.subject].split
            for c in session.classes:
                out[split][c] += 1
        return out


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(7, *key)))


def _style(cls: GestureClass, rng: np.random.Generator, dialect: dict | None) -> GestureClass:
    """``cls`` as one subject makes it (and, with ``dialect``, as their population does)."""
    angle = cls.angle + rng.normal(0, STYLE["angle"]) + (dialect["angle"] if dialect else 0.0)
    offset = rng.normal(0, STYLE["offset"], size=2) + (dialect["offset"] if dialect else 0.0)
    amplitude = math.exp(rng.normal(0, STYLE["amplitude"])) * (dialect["amplitude"] if dialect else 1.0)
    frequency = math.exp(rng.normal(0, STYLE["frequency"]))
    head = math.exp(rng.normal(0, STYLE["head"])) * (dialect["head"] if dialect else 1.0)
    frames = cls.frames * math.exp(rng.normal(0, STYLE["frames"]))
    dx, dy, freq, curl = cls.motion
    return replace(cls, angle=float(angle), offset=(float(offset[0] + cls.offset[0]), float(offset[1] + cls.offset[1])),
                   motion=(dx * amplitude, dy * amplitude, freq * frequency, curl * amplitude),
                   pitch=cls.pitch * head, drop=cls.drop * head, lean=cls.lean * head, frames=float(frames))


def _dialect(classes: tuple[GestureClass, ...], seed: int) -> list[dict]:
    rng = _rng(seed, 2)
    out = []
    for _ in classes:
        out.append({"angle": float(rng.normal(0, DIALECT["angle"])),
                    "offset": rng.normal(0, DIALECT["offset"], size=2),
                    "amplitude": float(rng.uniform(*DIALECT["amplitude"])),
                    "head": float(rng.uniform(*DIALECT["head"]))})
    return out


def _make_subject(subject_id: str, number: int, split: str, classes: tuple[GestureClass, ...], seed: int,
                  dialect: list[dict]) -> BenchSubject:
    population = TARGET if split == "test" else SOURCE
    rng = _rng(seed, 1, number)
    base = sample_subject(subject_id, rng)
    build = float(rng.uniform(*population.build))
    b = base.body
    body = Body(shoulder=b.shoulder * build, torso=b.torso * build, hip=b.hip * build, neck=b.neck,
                head_w=b.head_w, head_h=b.head_h, upper_arm=b.upper_arm * build, forearm=b.forearm * build,
                hand=b.hand * build)
    habits = replace(base.habits, dominant="L" if rng.random() < population.left_handed else "R",
                     speed=float(rng.uniform(*population.speed)), rest=RESTS[int(rng.integers(len(RESTS)))])
    camera = Camera(scale=float(rng.uniform(*population.zoom)), x0=base.camera.x0, y0=base.camera.y0)
    yaw = float(rng.uniform(*population.yaw) * rng.choice((-1.0, 1.0)))
    styles = tuple(_style(cls, rng, dialect[k] if population.dialect else None) for k, cls in enumerate(classes))
    subject = Subject(subject_id, body, base.appearance, habits, camera)
    return BenchSubject(subject, number, split, "target" if split == "test" else "source", yaw, build, styles)


def _calib_subjects(names: list[str], clips_each: int) -> set[str]:
    """The subjects that ``mgfast train --calib-fraction 0.2 --split-seed 0`` carves from the train split."""
    from mgfast.data.splits import carve_validation

    clips = [Clip(clip_id=f"{name}_{k}", video=name, subject=name, start=0, end=0, label=0, split="train", frames=1,
                  fps=FPS, width=WIDTH, height=HEIGHT, box=(0.0, 0.0, 1.0, 1.0), keypoints="", crop=None)
             for name in names for k in range(clips_each)]
    _, calib = carve_validation(clips, val_fraction=CALIB_FRACTION, split_by="subject", split_seed=SPLIT_SEED,
                                split="calib")
    return {c.subject for c in calib}


def _deal(counts: list[int], subjects: int, each: int, rng: np.random.Generator) -> list[list[int]]:
    """Class labels for ``subjects`` subjects, ``each`` per subject, with ``counts`` per class: the rarest
    classes first, each clip to a subject with the fewest clips of that class (then the fewest clips)."""
    assert sum(counts) == subjects * each, (counts, subjects, each)
    lists: list[list[int]] = [[] for _ in range(subjects)]
    have = np.zeros((subjects, len(counts)), int)
    for c in np.argsort(counts, kind="stable"):
        for _ in range(counts[c]):
            load = np.array([len(x) for x in lists])
            key = np.where(load < each, have[:, c] * 1000 + load, 10**9) + rng.random(subjects)
            k = int(np.argmin(key))
            lists[k].append(int(c))
            have[k, c] += 1
    for x in lists:
        rng.shuffle(x)
    return lists


def plan_benchmark(seed: int = 0, quick: bool = False) -> BenchmarkPlan:
    """The subjects, their attributes and the classes of every clip of the corpus, without simulating it."""
    profile = QUICK if quick else FULL
    classes = tuple(CLASSES[k] for k in profile.classes)
    dialect = _dialect(classes, seed)
    n = profile.subjects
    train_names = [f"S{i + 1:02d}" for i in range(n["train"] + n["calib"])]
    calib = _calib_subjects(train_names, profile.clips_per_subject["train"])
    if len(calib) != n["calib"]:
        raise AssertionError(f"calibration carving picked {len(calib)} subjects, expected {n['calib']}")
    splits = ["calib" if name in calib else "train" for name in train_names]
    names = list(train_names)
    for split in ("val", "test"):
        names += [f"S{len(names) + i + 1:02d}" for i in range(n[split])]
        splits += [split] * n[split]
    subjects = tuple(_make_subject(name, i, split, classes, seed, dialect) for i, (name, split) in enumerate(zip(names, splits)))
    sessions: list[SessionPlan] = []
    rng = _rng(seed, 3)
    for split in ("train", "calib", "val", "test"):
        members = [i for i, s in enumerate(subjects) if s.split == split]
        each, per_video = profile.clips_per_subject[split], profile.clips_per_video[split]
        for index, labels in zip(members, _deal(profile.counts(split), len(members), each, rng)):
            for first in range(0, each, per_video):
                sessions.append(SessionPlan("", 0, index, tuple(labels[first:first + per_video])))
    # Session ids in subject order, so that a subject's clips sit together in the manifest.
    sessions.sort(key=lambda s: s.subject)
    sessions = [replace(s, video=f"{k + 1:04d}", number=k) for k, s in enumerate(sessions)]
    return BenchmarkPlan(profile, seed, classes, subjects, tuple(sessions))


# -- simulation ------------------------------------------------------------------------------------------
@dataclass
class ClipResult:
    clip: Clip
    keypoints: np.ndarray  # mg68 float32 [T, 68, 3]
    info: dict = field(default_factory=dict)


def _distractors(script: list[Gesture], plan: BenchmarkPlan, who: BenchSubject, rng: np.random.Generator) -> list[Gesture]:
    """Aborted reaches of the free hand towards another one-hand class's target, inside some segments."""
    one_hand = [k for k, c in enumerate(plan.classes) if c.hands == "one"]
    extra = []
    for g in script:
        if g.cls.hands == "both" or rng.random() >= DISTRACTOR_RATE:
            continue
        side = ("L" if g.side == "R" else "R") if g.side in ("R", "L") else ("R" if rng.random() < 0.5 else "L")
        cls = who.styles[one_hand[int(rng.integers(len(one_hand)))]]
        length = max(int(round(g.frames * rng.uniform(*DISTRACTOR_LENGTH))), 6)
        start = g.start + int(rng.integers(0, g.frames - length + 1))
        extra.append(Gesture(cls, start, start + length - 1, side, reach=float(rng.uniform(*DISTRACTOR_REACH))))
    return extra


def _yawed(points: np.ndarray, yaw: float) -> np.ndarray:
    """Body-unit points seen by a camera turned by ``yaw``: x foreshortened about the body's axis."""
    out = points.copy()
    out[..., 0] *= math.cos(yaw)
    return out


def simulate_session(plan: BenchmarkPlan, session: SessionPlan) -> list[ClipResult]:
    """The clips of one session: keypoints, manifest rows and statistics. Deterministic in (seed, session)."""
    import torch

    from mgfast.ops import saliency_boxes

    who = plan.subjects[session.subject]
    subject = who.subject
    rng = _rng(plan.seed, 4, session.number)
    styles = [who.styles[c] for c in session.classes]
    frames = len(styles) * (MAX_FRAMES + 2 * MIN_GAP) + MIN_GAP  # room for every segment at its longest
    script = make_script(styles, subject, frames, rng, MIN_FRAMES, MAX_FRAMES, FPS, MIN_GAP)
    distractors = _distractors(script, plan, who, rng)
    pose = pose_video(subject, script + distractors, frames, FPS, rng, arc_scale=ARC_SCALE, yaw_offset=who.yaw)
    camera = subject.camera_for(WIDTH, HEIGHT, rng)
    clean = camera.to_pixels(_yawed(pose.points, who.yaw))
    head = camera.to_pixels(_yawed(pose.head, who.yaw))
    hidden = None
    if abs(who.yaw) >= FAR_EAR_YAW:  # the far ear of a face turned away (yaw > 0 turns it to the image right)
        hidden = np.zeros((frames, clean.shape[1]), bool)
        hidden[:, 18 if who.yaw > 0 else 17] = True
    table = detect(clean, head, camera.scale, subject.body.head_h, WIDTH, HEIGHT, FPS, rng, hidden=hidden, **DETECTOR)
    shoulder_px = 2 * subject.body.shoulder * camera.scale
    results = []
    for number, (gesture, label) in enumerate(zip(script, session.classes), start=1):
        a, b = gesture.start, gesture.end
        keypoints = np.ascontiguousarray(to_mg68(table[a:b + 1], "openpose137"), dtype=np.float32)
        box = saliency_boxes(torch.from_numpy(keypoints), (HEIGHT, WIDTH), **SALIENCY)
        clip_id = f"{session.video}_{number}"
        test = who.split == "test"
        clip = Clip(clip_id=clip_id, video=session.video, subject=who.id, start=a, end=b,
                    label=None if test else label, split={"calib": "train"}.get(who.split, who.split),
                    frames=b - a + 1, fps=FPS, width=WIDTH, height=HEIGHT, box=tuple(float(v) for v in box.tolist()),
                    keypoints=f"{KEYPOINTS_DIR}/{clip_id}.npy", crop=None, hidden_label=label if test else None)
        distracted = any(d.start <= b and d.end >= a for d in distractors)
        info = {"clip_id": clip_id, "subject": who.id, "split": who.split, "population": who.population,
                "class": label, "hand": gesture.side, "distractor": int(distracted),
                **_signal_and_noise(clean[a:b + 1], table[a:b + 1], gesture.side, shoulder_px)}
        results.append(ClipResult(clip, keypoints, info))
    return results


def _signal_and_noise(clean: np.ndarray, table: np.ndarray, side: str, shoulder_px: float) -> dict:
    """The gesture's amplitude and the detector's jitter on the moving points of one clip, in shoulder widths.

    The moving points are the gesturing hand's 21 points (both hands' for two-hand classes; the nose for
    head-only classes). Amplitude: the largest distance of their centroid from where it was in the clip's
    first frame, in the clean keypoints. Jitter: the root mean square per-coordinate error of those of them
    that the detector reported; ``missing``: the share it did not report.
    """
    hands = {"L": np.arange(LEFT_HAND, LEFT_HAND + 21), "R": np.arange(RIGHT_HAND, RIGHT_HAND + 21)}
    groups = [np.array([0])] if side == "N" else [hands[s] for s in (("L", "R") if side == "B" else (side,))]
    amplitude = 0.0
    for points in groups:
        track = clean[:, points].mean(axis=1)
        amplitude = max(amplitude, float(np.linalg.norm(track - track[0], axis=-1).max()))
    points = np.concatenate(groups)
    seen = table[:, points, 2] > 0
    error = table[:, points, :2][seen] - clean[:, points][seen]
    jitter = float(np.sqrt(np.mean(error**2))) if error.size else float("nan")
    return {"amplitude": round(amplitude / shoulder_px, 5), "jitter": round(jitter / shoulder_px, 5),
            "missing": round(1.0 - float(seen.mean()), 4)}


# -- writing ---------------------------------------------------------------------------------------------
def expected_spec(seed: int = 0, quick: bool = False) -> dict:
    """What identifies a corpus: a finished directory with the same spec holds the same corpus."""
    return {"format": FORMAT, "version": PROFILE_VERSION, "profile": (QUICK if quick else FULL).name, "seed": seed}


def _spec(plan: BenchmarkPlan) -> dict:
    return expected_spec(plan.seed, plan.profile is QUICK)


def _params(plan: BenchmarkPlan) -> dict:
    """meta.json's ``params``: the keys `mgfast extract` writes (no crops), plus the corpus's spec."""
    return {
        "source": f"mgfast synth --profile benchmark (profile {plan.profile.name}, seed {plan.seed}, version {PROFILE_VERSION})",
        "crop_size": None, "crops": False, "crop_format": None, "crop_dtype": None, "pose": "synthetic",
        "pose_model": None, "keypoints": "mg68 float32 [T, 68, 3] (x, y, score) in original frame pixels",
        "saliency": {k: list(v) if isinstance(v, tuple) else v for k, v in SALIENCY.items()},
        "benchmark": {**_spec(plan), "calib_fraction": CALIB_FRACTION, "split_seed": SPLIT_SEED},
    }


def _info(plan: BenchmarkPlan) -> dict:
    counts = plan.counts()
    names = [c.name for c in plan.classes]
    index_of = {k: i for i, k in enumerate(plan.profile.classes)}
    pairs = [[index_of[head], index_of[alike]] for alike, head in LOOK_ALIKES.items() if alike in index_of and head in index_of]
    train = np.asarray(counts["train"], float)
    test = np.asarray(counts["test"], float)
    return {
        **_spec(plan),
        "mgfast_train": {"calib_fraction": CALIB_FRACTION, "split_seed": SPLIT_SEED, "split_by": "subject"},
        "frame": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "clip_frames": [MIN_FRAMES, MAX_FRAMES]},
        "classes": [{"index": i, "code": c.code, "name": c.name, "hands": c.hands, "target": c.target,
                     "train_clips": counts["train"][i]} for i, c in enumerate(plan.classes)],
        "head_classes": [i for i in range(len(names)) if i < len(names) // 3],
        "tail_classes": [i for i in range(len(names)) if i >= len(names) - len(names) // 3],
        "confusable_pairs": pairs,
        "counts": counts,
        "clips": {split: sum(v) for split, v in counts.items()},
        "subjects_per_split": {split: [s.id for s in plan.split_subjects(split)] for split in ("train", "calib", "val", "test")},
        # Weights that turn test accuracy into accuracy under the training prior (test is flatter).
        "test_prior_weights": [round(float(w), 6) for w in (train / train.sum()) / (test / test.sum())],
        "detector": DETECTOR, "far_ear_yaw": FAR_EAR_YAW, "arc_scale": ARC_SCALE, "head_scale": HEAD_SCALE,
        "bow_scale": BOW_SCALE,
        "rests": list(RESTS), "distractor": {"rate": DISTRACTOR_RATE, "reach": list(DISTRACTOR_REACH),
                                             "length": list(DISTRACTOR_LENGTH)},
        "populations": {"source": asdict(SOURCE), "target": asdict(TARGET)}, "style": STYLE,
        "dialect": {k: list(v) if isinstance(v, tuple) else v for k, v in DIALECT.items()},
        "subjects": [s.attributes() for s in plan.subjects],
    }


def corpus_spec(root: Path) -> dict | None:
    """The spec (format, version, profile, seed) of the finished benchmark corpus in ``root``, else ``None``."""
    try:
        data = json.loads((root / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return {k: data.get(k) for k in ("format", "version", "profile", "seed")}


def write_benchmark_dataset(out: Path, *, seed: int = 0, quick: bool = False, progress: bool = False,
                            overwrite: bool = False) -> Path:
    """Writes the benchmark corpus (``quick``: the tiny CI profile) as a dataset directory ``out``.

    ``out`` must be new or empty, or hold this very corpus (then nothing is written) or, with
    ``overwrite``, another benchmark corpus (which is replaced). The corpus is built in a hidden sibling
    folder and renamed into place when complete, so ``out`` is never half-written. Returns ``out``.

    Raises:
        FileExistsError: ``out`` is not empty and not this corpus (nor, with ``overwrite``, a benchmark corpus).
        NotADirectoryError: ``out`` is a file.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    plan = plan_benchmark(seed, quick)
    spec = _spec(plan)
    replacing = False
    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"{out} is a file; pass a folder for the benchmark corpus")
        if any(out.iterdir()):
            found = corpus_spec(out)
            if found == spec:
                return out
            if found is None:
                raise FileExistsError(f"{out} is not empty and holds no benchmark corpus ({INFO_FILE}); "
                                      "choose a new or empty folder")
            if not overwrite:
                raise FileExistsError(f"{out} holds another benchmark corpus (profile {found['profile']}, seed "
                                      f"{found['seed']}, version {found['version']}); choose another folder, or "
                                      "pass overwrite (--force) to replace it")
            replacing = True
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (tmp / KEYPOINTS_DIR).mkdir()
        clips: list[Clip] = []
        infos: list[dict] = []
        for session in tqdm(plan.sessions, desc="benchmark", unit="session", disable=not progress):
            for result in simulate_session(plan, session):
                with (tmp / result.clip.keypoints).open("wb") as f:
                    np.save(f, result.keypoints)
                clips.append(result.clip)
                infos.append(result.info)
        classes = [ClassInfo(index=i, code=c.code, name=c.name) for i, c in enumerate(plan.classes)]
        write_meta(tmp, layout=MG68, classes=classes, params=_params(plan))
        write_manifest(tmp / "manifest.csv", clips)
        text = io.StringIO()
        writer = csv.DictWriter(text, list(infos[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(infos, key=lambda r: r["clip_id"]))  # the manifest's order
        (tmp / CLIP_INFO_FILE).write_text(text.getvalue())
        (tmp / INFO_FILE).write_text(json.dumps(_info(plan), indent=1) + "\n")
        if replacing:
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, trash / "corpus")
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            try:
                os.replace(tmp, out)  # onto a missing or empty folder
            except OSError:
                if corpus_spec(out) != spec:  # another run finished the same corpus first: keep theirs
                    raise FileExistsError(f"{out} was filled by someone else while the corpus was written") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
