"""Gesture classes, interview scripts and the per-frame motion of a synthetic subject.

A video is an untrimmed interview: idle stretches (breathing, talking, the subject's personal fidget)
with gesture segments in between. A gesture moves one or both hands from their resting place on the table
to a target on the body (nose, eye, ear, chin, forehead, neck, the other arm or hand, ...), holds there with
a class-specific small movement (rubbing, scratching, tugging, stroking), and returns; one class moves only
the head. :func:`pose_video` turns a script into clean 137-point keypoints in body units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgfast.synth.body import (
    FACE,
    HAND_CONFIGS,
    LEFT_HAND,
    RIGHT_HAND,
    SIDES,
    Subject,
    body_points,
    elbow_position,
    face_points,
    hand_points,
    head_centre,
)


@dataclass(frozen=True)
class GestureClass:
    """One synthetic micro-gesture class.

    Attributes:
        code: its MiGA class code (1-31, 99), chosen to match the closest real class.
        name: what the synthetic class shows.
        hands: "one" (the subject's usual hand, sometimes the other), "both" or "none".
        target: the body part the hand goes to (see :func:`_targets`).
        effector: hand point (0-20) that touches the target.
        config: finger configuration at the target, a key of ``HAND_CONFIGS``.
        angle: direction of the image-left (right) hand at the target, image radians (mirrored for the other).
        motion: small movement while holding: (dx, dy) amplitude in U, frequency in Hz, curl amplitude.
        pitch, drop, lean: head pitch (> 0 looks down), head drop (U) and trunk lean (rad) at the peak.
        frames: typical duration in frames at 25 fps (scaled by the subject's speed).
        offset: shift of the contact point from the target (U, x towards the hand's own side): a look-alike
            class or a subject's own way of performing a class (the benchmark corpus); (0, 0) for the catalogue.
    """

    code: int
    name: str
    hands: str
    target: str
    effector: int
    config: str
    angle: float
    motion: tuple[float, float, float, float]
    pitch: float
    drop: float
    lean: float
    frames: float
    offset: tuple[float, float] = (0.0, 0.0)


_UP = -np.pi / 2
CATALOGUE: tuple[GestureClass, ...] = (
    # In order of frequency: the corpus draws the first K classes, with long-tailed counts.
    GestureClass(10, "touch the nose with the index finger", "one", "nose", 8, "point", _UP + 0.45,
                 (0.0, 0.03, 2.0, 0.0), 0.1, 0.0, 0.0, 24),
    GestureClass(15, "rest the chin on the knuckles", "one", "chin", 9, "fist", _UP + 0.15,
                 (0.0, 0.02, 0.8, 0.0), -0.2, -0.04, 0.0, 32),
    GestureClass(1, "fold the arms across the chest", "both", "arms", 9, "relaxed", -0.35,
                 (0.0, 0.0, 0.0, 0.0), 0.0, 0.0, -0.06, 36),
    GestureClass(4, "rub an eye with the fingertips", "one", "eye", 12, "relaxed", _UP + 0.35,
                 (0.05, 0.04, 2.5, 0.0), 0.15, 0.02, 0.0, 32),
    GestureClass(12, "pull the ear lobe", "one", "ear", 8, "pinch", _UP + 0.3,
                 (0.0, 0.05, 1.5, 0.0), 0.0, 0.0, 0.0, 28),
    GestureClass(20, "rub the hands together in front of the chest", "both", "hands", 12, "open", _UP + 1.05,
                 (0.1, 0.0, 2.0, 0.0), 0.1, 0.0, 0.04, 30),
    GestureClass(8, "touch the forehead with the fingers", "one", "forehead", 10, "flat", -0.35,
                 (0.06, 0.0, 1.2, 0.0), 0.3, 0.04, 0.02, 30),
    GestureClass(6, "bow the head", "none", "none", 0, "relaxed", 0.0,
                 (0.0, 0.0, 0.0, 0.0), 1.0, 0.22, 0.05, 22),
    GestureClass(18, "stroke the side of the neck", "one", "neck", 12, "flat", _UP + 0.25,
                 (0.0, 0.09, 1.2, 0.0), -0.15, 0.0, 0.0, 28),
    GestureClass(7, "scratch the top of the head", "one", "head", 12, "claw", _UP + 0.7,
                 (0.02, 0.03, 4.0, 0.3), 0.3, 0.03, 0.0, 30),
    GestureClass(16, "touch the base of the throat", "one", "throat", 12, "flat", _UP + 0.8,
                 (0.0, 0.02, 1.0, 0.0), 0.05, 0.0, 0.0, 26),
    GestureClass(9, "cover the face with both hands", "both", "face", 9, "open", _UP + 0.1,
                 (0.0, 0.02, 0.7, 0.0), 0.35, 0.06, 0.05, 34),
)
"""The synthetic classes; ``mgfast synth --classes K`` uses the first K."""


@dataclass(frozen=True)
class Gesture:
    """One gesture segment of a script: frames ``start..end`` inclusive."""

    cls: GestureClass
    start: int
    end: int
    side: str  # "R", "L" or "B" (both hands) or "N" (no hand)
    reach: float = 1.0  # how far the movement goes (1: all the way; < 1: a partial, aborted reach, a fidget)

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


def gesture_duration(cls: GestureClass, subject: Subject, rng: np.random.Generator, lo: int, hi: int, fps: float) -> int:
    """Frames a gesture of ``cls`` lasts for ``subject``, within ``[lo, hi]``."""
    frames = cls.frames * subject.habits.speed * (fps / 25.0) * rng.uniform(0.8, 1.25)
    return int(np.clip(round(frames), lo, hi))


def make_script(classes: list[GestureClass], subject: Subject, frames: int, rng: np.random.Generator,
                lo: int, hi: int, fps: float, min_gap: int) -> list[Gesture]:
    """Places gestures of ``classes`` (in order) in a ``frames``-long video with idle stretches between them.

    When the gestures' natural durations leave less than ``min_gap`` idle frames around each, the longest
    gestures are shortened (never below ``lo``).
    """
    durations = [gesture_duration(c, subject, rng, lo, hi, fps) for c in classes]
    gaps = len(classes) + 1
    if len(classes) * lo + gaps * min_gap > frames:
        raise ValueError(f"{len(classes)} gestures of at least {lo} frames do not fit in {frames} frames with idle gaps; "
                         "raise frames_per_video or lower segments_per_video")
    for _ in range(sum(durations) + gaps * min_gap - frames):
        longest = int(np.argmax(durations))
        durations[longest] -= 1
    idle = frames - sum(durations)
    # Random idle stretches, each at least min_gap long; the first and last are lead-in and tail.
    weights = rng.gamma(2.0, 1.0, size=gaps)
    extra = np.floor(weights / weights.sum() * (idle - gaps * min_gap)).astype(int)
    extra[int(rng.integers(gaps))] += idle - gaps * min_gap - int(extra.sum())
    script, position = [], 0
    for cls, duration, gap in zip(classes, durations, extra[:-1] + min_gap):
        start = position + int(gap)
        habits = subject.habits
        if cls.hands == "one":
            other = "L" if habits.dominant == "R" else "R"
            side = habits.dominant if rng.random() < habits.dominant_share else other
        else:
            side = "B" if cls.hands == "both" else "N"
        script.append(Gesture(cls, start, start + duration - 1, side))
        position = start + duration
    return script


# -- per-frame motion ---------------------------------------------------------------------------------
def smooth_noise(rng: np.random.Generator, frames: int, fps: float, seconds: float) -> np.ndarray:
    """Unit-variance noise ``[frames]`` that varies over about ``seconds`` (Gaussian-filtered white noise)."""
    sigma = max(seconds * fps / 2.0, 0.5)
    radius = int(3 * sigma) + 1
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    white = rng.standard_normal(frames + 2 * radius)
    out = np.convolve(white, kernel / np.sqrt((kernel**2).sum()), mode="valid")
    return out[:frames]


def _envelope(frames: int, gesture: Gesture, rng: np.random.Generator) -> np.ndarray:
    """Weight in [0, 1] of a gesture over the video: ease in, hold, ease out, zero outside the segment."""
    w = np.zeros(frames)
    n = gesture.frames
    rise = max(int(round(n * rng.uniform(0.25, 0.38))), 2)
    fall = max(int(round(n * rng.uniform(0.25, 0.38))), 2)
    t = np.arange(n, dtype=float)
    up = np.clip((t + 1) / rise, 0, 1)
    down = np.clip((n - t) / fall, 0, 1)
    s = np.minimum(up, down)
    w[gesture.start : gesture.end + 1] = s * s * (3 - 2 * s)  # smoothstep
    if gesture.reach != 1.0:
        w *= gesture.reach
    return w


def _fidget_bursts(frames: int, fps: float, subject: Subject, rng: np.random.Generator) -> np.ndarray:
    """Envelope [frames] of the subject's personal fidget: bursts of 0.5-1.5 s at the subject's rate."""
    habits = subject.habits
    env = np.zeros(frames)
    count = rng.poisson(habits.fidget_rate * frames / fps)
    for _ in range(count):
        length = int(rng.uniform(0.5, 1.5) * fps)
        start = int(rng.integers(0, max(frames - length, 1)))
        t = np.arange(length)
        env[start : start + length] = np.maximum(env[start : start + length], np.sin(np.pi * (t + 0.5) / length)[: frames - start])
    return env


@dataclass
class Pose:
    """Clean keypoints of a video in body units, with what the renderer needs beyond them."""

    points: np.ndarray  # [T, 137, 2]
    head: np.ndarray  # [T, 2] centre of the head ellipse
    roll: np.ndarray  # [T] head roll (rad)
    mouth: np.ndarray  # [T] in [0, 1]


def _rest_hands(subject: Subject, table_y: float) -> dict[str, tuple[np.ndarray, float, str]]:
    """Where each hand rests: wrist position, direction, finger configuration.

    ``subject.habits.rest`` is one of :data:`mgfast.synth.body.RESTS` (on the table), or ``"raised"`` /
    ``"high"`` (elbows on the table, hands in front of the chest: short reaches to the face, for the
    benchmark corpus's micro-movements; never drawn by :func:`mgfast.synth.body.sample_subject`).
    """
    y = table_y + 0.12
    rest = subject.habits.rest
    if rest == "clasped":
        spots = {"R": ((-0.42, y - 0.05), -0.15), "L": ((0.42, y - 0.02), np.pi + 0.15)}
    elif rest == "stacked":
        spots = {"R": ((-0.55, y + 0.02), -0.05), "L": ((0.05, y - 0.06), np.pi + 0.35)}
    elif rest == "raised":  # elbows on the table, hands loosely together in front of the chest
        spots = {"R": ((-0.3, 0.85), -0.9), "L": ((0.3, 0.85), np.pi + 0.9)}
    elif rest == "high":  # elbows on the table, hands together just below the collarbones
        spots = {"R": ((-0.22, 0.5), -1.15), "L": ((0.22, 0.5), np.pi + 1.15)}
    else:
        spots = {"R": ((-0.85, y), -0.3), "L": ((0.85, y), np.pi + 0.3)}
    return {side: (np.array(xy), angle, "relaxed") for side, (xy, angle) in spots.items()}


def _mirror_angle(angle: float, side: str) -> float:
    return angle if side == "R" else np.pi - angle


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def table_top(subject: Subject) -> float:
    """y of the table's top edge in body units."""
    return subject.body.torso - 0.55


def _targets(target: str, side: str, body25: np.ndarray, face: np.ndarray, ears: np.ndarray, head: np.ndarray,
             roll: np.ndarray, subject: Subject) -> np.ndarray:
    """Where a hand's effector goes for ``target`` [T, 2] (side: the hand's side, "R" image-left)."""
    b = subject.body
    s = -1.0 if side == "R" else 1.0
    eye = face[:, 68] if side == "R" else face[:, 69]
    ear = ears[:, 0] if side == "R" else ears[:, 1]
    jaw = face[:, 3] if side == "R" else face[:, 13]

    def on_head(x: float, y: float) -> np.ndarray:
        c, n = np.cos(roll), np.sin(roll)
        return head + np.stack([c * x * b.head_w - n * y * b.head_h, n * x * b.head_w + c * y * b.head_h], axis=-1)

    if target == "nose":
        return face[:, 30] + [0.0, 0.03]
    if target == "chin":
        return face[:, 8] + [0.0, 0.07]
    if target == "eye":
        return eye + [0.0, 0.02]
    if target == "ear":
        return ear + [0.0, 0.22 * b.head_h]
    # Look-alikes of the targets above, a few centimetres away (the benchmark corpus's confusable classes).
    if target == "lip":  # the middle of the lips
        return 0.5 * (face[:, 51] + face[:, 57]) + [0.0, 0.03]
    if target == "cheek":  # the jaw below the cheek, on the hand's side
        return (face[:, 5] if side == "R" else face[:, 11]) + [0.0, 0.07]
    if target == "brow":  # just above the middle of the eyebrow on the hand's side
        return (face[:, 19] if side == "R" else face[:, 24]) + [0.0, -0.05]
    if target == "ear_top":  # the upper rim of the ear
        return ear + [0.0, -0.2 * b.head_h]
    if target == "forehead":
        return on_head(0.0, -0.62)
    if target == "neck":
        return 0.5 * (body25[:, 1] + jaw) + [0.0, 0.05]
    if target == "head":
        return on_head(0.45 * s, -0.85)
    if target == "throat":
        return body25[:, 1] + [0.0, -0.08]
    if target == "face":
        return on_head(0.42 * s, 0.12)
    if target == "arms":  # the hand tucks onto the opposite upper arm
        opposite = body25[:, 5] if side == "R" else body25[:, 2]
        return opposite + [s * 0.1, 0.85 if side == "R" else 1.05]
    if target == "hands":  # the hands meet in front of the chest
        return body25[:, 1] + [0.04 * s, 1.25]
    raise ValueError(f"unknown gesture target {target!r}")


def pose_video(subject: Subject, script: list[Gesture], frames: int, fps: float, rng: np.random.Generator, *,
               arc_scale: float = 1.0, yaw_offset: float = 0.0) -> Pose:
    """Clean keypoints ``[frames, 137, 2]`` (body units) of ``subject`` acting out ``script``.

    ``arc_scale`` scales the outward arc that a reaching hand travels on (1: a reach from the table; smaller for
    hands that start near the face); ``yaw_offset`` (rad) turns the face away from the camera for the whole
    video (a camera placed to one side). The defaults are those of ``mgfast synth``'s corpus.
    """
    habits, body = subject.habits, subject.body
    t = np.arange(frames) / fps
    fidget = _fidget_bursts(frames, fps, subject, rng) * habits.fidget_amplitude
    wave = np.sin(2 * np.pi * habits.fidget_frequency * t + rng.uniform(0, 2 * np.pi))

    # Trunk and head: breathing, drift, talking, the personal fidget, then the gestures' head movements.
    sway = np.stack([0.03 * smooth_noise(rng, frames, fps, 3.0), 0.012 * np.sin(2 * np.pi * 0.25 * t)], axis=-1)
    lean = 0.015 * smooth_noise(rng, frames, fps, 4.0)
    shrug = np.zeros(frames)
    pitch = 0.08 * smooth_noise(rng, frames, fps, 2.0)
    yaw = 0.12 * smooth_noise(rng, frames, fps, 3.0)
    if yaw_offset:
        yaw = yaw + yaw_offset
    roll = 0.03 * smooth_noise(rng, frames, fps, 3.0)
    head_offset = np.zeros((frames, 2))
    talking = np.clip(smooth_noise(rng, frames, fps, 4.0) + 0.3, 0, None) > 0.5
    mouth = habits.talk * talking * np.clip(0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + smooth_noise(rng, frames, fps, 0.5)), 0, 1)

    kind = habits.fidget
    if kind == "sway":
        sway[:, 0] += 0.1 * fidget * wave
    elif kind == "nod":
        pitch += 0.35 * fidget * wave
        head_offset[:, 1] += 0.03 * fidget * wave
    elif kind == "shrug":
        shrug += 0.12 * fidget * np.abs(wave)
    elif kind == "tilt":
        roll += 0.15 * fidget * wave

    envelopes = [_envelope(frames, g, rng) for g in script]
    for gesture, w in zip(script, envelopes):
        cls = gesture.cls
        pitch += cls.pitch * w
        head_offset[:, 1] += cls.drop * w
        lean += cls.lean * w
        yaw *= 1 - 0.5 * w  # the head steadies during a gesture

    trunk = body_points(body, sway, lean, shrug)
    head = head_centre(body, trunk[:, 1], lean, head_offset)
    head_roll = roll + lean
    face, ears = face_points(head, body, head_roll, yaw, pitch, mouth)

    points = np.zeros((frames, 137, 2))
    points[:, :25] = trunk
    points[:, FACE : FACE + 70] = face
    points[:, 0] = face[:, 30]  # nose tip
    points[:, 15], points[:, 16] = face[:, 68], face[:, 69]  # pupils
    points[:, 17], points[:, 18] = ears[:, 0], ears[:, 1]

    rest = _rest_hands(subject, table_top(subject))
    for side in SIDES:
        wrist_xy, rest_angle, rest_config = rest[side]
        wrist = wrist_xy + np.stack([0.05 * smooth_noise(rng, frames, fps, 3.0), 0.02 * smooth_noise(rng, frames, fps, 3.0)], axis=-1)
        wrist = wrist + trunk[:, 1] * [0.3, 0.0]  # the hands follow the trunk a little
        angle = rest_angle + 0.08 * smooth_noise(rng, frames, fps, 3.0)
        curls0, spread0 = HAND_CONFIGS[rest_config]
        curls = np.tile(curls0, (frames, 1)) + 0.05 * smooth_noise(rng, frames, fps, 2.0)[:, None]
        spread = np.full(frames, spread0)
        if side == habits.dominant and kind == "tap":
            curls[:, 1:] += 0.3 * fidget[:, None] * np.abs(wave)[:, None]
        if side == habits.dominant and kind == "slide":
            wrist[:, 0] += 0.22 * fidget * wave

        for gesture, w in zip(script, envelopes):
            if gesture.side not in (side, "B"):
                continue
            cls = gesture.cls
            inside = w > 0
            if not inside.any():
                continue
            sign = 1.0 if side == "R" else -1.0
            bias = np.array([sign * habits.reach_bias[0], habits.reach_bias[1]])
            goal = _targets(cls.target, side, trunk, face, ears, head, head_roll, subject) + bias
            if cls.offset != (0.0, 0.0):
                goal = goal + np.array([-sign * cls.offset[0], cls.offset[1]])
            dx, dy, freq, curl_amp = cls.motion
            phase = 2 * np.pi * freq / habits.speed * t + rng.uniform(0, 2 * np.pi)
            if cls.target == "hands":  # the hands rub against each other, in opposite phase
                goal = goal + np.stack([sign * dx * np.sin(phase), dy * np.cos(phase)], axis=-1)
            else:
                goal = goal + np.stack([sign * dx * np.cos(phase), dy * np.sin(phase)], axis=-1)
            goal_angle = np.full(frames, _mirror_angle(cls.angle + habits.angle_bias, side))
            goal_curls = np.tile(HAND_CONFIGS[cls.config][0], (frames, 1)) + curl_amp * np.sin(phase)[:, None]
            goal_spread = np.full(frames, HAND_CONFIGS[cls.config][1])
            # Wrist position that puts the effector on the goal, given the hand's shape there.
            shape = hand_points(np.zeros((frames, 2)), goal_angle, goal_curls, goal_spread, side, body.hand)
            goal_wrist = goal - shape[:, cls.effector]
            # Travel on an outward arc instead of a straight line through the body.
            arc = np.sin(np.pi * w)[:, None] * np.array([-sign * 0.35, 0.1])
            if arc_scale != 1.0:
                arc = arc * arc_scale
            wrist = np.where(inside[:, None], (1 - w[:, None]) * wrist + w[:, None] * goal_wrist + arc, wrist)
            angle = np.where(inside, angle + w * _wrap(goal_angle - angle), angle)
            curls = np.where(inside[:, None], (1 - w[:, None]) * curls + w[:, None] * goal_curls, curls)
            spread = np.where(inside, (1 - w) * spread + w * goal_spread, spread)

        shoulder_index, elbow_index, wrist_index = (2, 3, 4) if side == "R" else (5, 6, 7)
        elbow = elbow_position(trunk[:, shoulder_index], wrist, body.upper_arm, body.forearm, -1.0 if side == "R" else 1.0)
        points[:, elbow_index] = elbow
        points[:, wrist_index] = wrist
        first = RIGHT_HAND if side == "R" else LEFT_HAND
        points[:, first : first + 21] = hand_points(wrist, angle, np.clip(curls, 0, 1), spread, side, body.hand)
    return Pose(points=points, head=head, roll=head_roll, mouth=mouth)
