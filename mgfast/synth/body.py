"""The synthetic subjects: body proportions, appearance, habits, and the OpenPose-137 skeleton they pose.

Body coordinates are in "body units" (U, about 20 cm: half a shoulder width) with the neck at rest at the
origin, x to the right of the image and y down. The subject faces the camera, so their right side is on the
left of the image. A :class:`Camera` maps body units to frame pixels.

The 137 points follow OpenPose: BODY_25 (0-24), face-70 (25-94: the 68 dlib landmarks then the right and
left pupils), left hand (95-115), right hand (116-136); left and right are the subject's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]

FACE = 25
LEFT_HAND = 95
RIGHT_HAND = 116
NUM_POINTS = 137
# BODY_25 points hidden by the table in a seated interview: knees, ankles, feet.
HIDDEN_BODY = (10, 11, 13, 14, 19, 20, 21, 22, 23, 24)
HIPS = (8, 9, 12)
SIDES = ("R", "L")


@dataclass(frozen=True)
class Body:
    """Segment lengths in body units (U)."""

    shoulder: float  # half of the shoulder width
    torso: float  # neck to mid-hip
    hip: float  # half of the hip width
    neck: float  # neck point to the head's centre
    head_w: float  # half-width of the head ellipse
    head_h: float  # half-height of the head ellipse
    upper_arm: float
    forearm: float
    hand: float  # scale of the hand (1 = a 0.9 U hand)


@dataclass(frozen=True)
class Appearance:
    skin: RGB
    shirt: RGB
    sleeve: RGB  # forearm colour: the shirt's for long sleeves, the skin's for short ones
    hair: RGB
    cap: RGB | None  # a baseball cap's colour, or None for bare hair
    lips: RGB
    wall: RGB
    logos: tuple[RGB, RGB]
    table: RGB


@dataclass(frozen=True)
class Habits:
    """What makes a subject's movements their own (the cross-subject shift beyond looks)."""

    dominant: str  # "R" or "L": the hand used for most one-hand gestures
    dominant_share: float  # probability that a one-hand gesture uses the dominant hand
    speed: float  # duration multiplier of gestures (< 1: quick)
    fidget: str  # personal idle movement, one of FIDGETS
    fidget_rate: float  # fidget bursts per second of idle time
    fidget_amplitude: float
    fidget_frequency: float  # Hz
    rest: str  # where the hands rest on the table, one of RESTS
    reach_bias: tuple[float, float]  # personal offset of contact points (U)
    angle_bias: float  # personal offset of the hand's approach direction (rad)
    talk: float  # mouth movement while talking, 0..1


FIDGETS = ("sway", "nod", "tap", "shrug", "tilt", "slide")
RESTS = ("apart", "clasped", "stacked")


@dataclass(frozen=True)
class Camera:
    """Maps body units to pixels: ``pixel = (x0, y0) + scale * point``."""

    scale: float  # pixels per body unit
    x0: float  # pixel position of the neck at rest
    y0: float

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) * self.scale + np.array([self.x0, self.y0])


@dataclass(frozen=True)
class Subject:
    subject_id: str
    body: Body
    appearance: Appearance
    habits: Habits
    camera: Camera  # placement relative to the frame size (scale and offsets in frame heights/widths)

    def camera_for(self, width: int, height: int, rng: np.random.Generator) -> Camera:
        """This subject's camera in a ``width x height`` frame, with a small per-interview variation."""
        scale = self.camera.scale * height * rng.uniform(0.96, 1.04)
        x0 = (self.camera.x0 + rng.uniform(-0.02, 0.02)) * width
        y0 = (self.camera.y0 + rng.uniform(-0.015, 0.015)) * height
        return Camera(scale=scale, x0=x0, y0=y0)


_SKIN = ((241, 204, 178), (224, 172, 138), (198, 134, 94), (160, 102, 66), (112, 70, 44), (232, 190, 160))
_HAIR = ((30, 24, 20), (74, 48, 30), (120, 82, 46), (196, 160, 96), (150, 150, 150), (60, 36, 24))
_SHIRTS = ((24, 60, 140), (170, 30, 40), (30, 120, 60), (235, 235, 235), (30, 30, 36), (240, 160, 30),
           (90, 40, 130), (20, 130, 150), (200, 200, 60), (120, 120, 130))
_WALLS = ((40, 70, 130), (200, 205, 210), (20, 90, 60), (120, 30, 40), (60, 60, 70), (210, 180, 120))


def _colour(base: RGB, rng: np.random.Generator, spread: float) -> RGB:
    return tuple(int(np.clip(c + rng.normal(0, spread), 0, 255)) for c in base)  # type: ignore[return-value]


def _pick(options: tuple, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def sample_subject(subject_id: str, rng: np.random.Generator) -> Subject:
    """A random subject: proportions, colours, camera placement and habits."""
    size = rng.uniform(0.92, 1.08)
    body = Body(
        shoulder=rng.uniform(0.9, 1.1),
        torso=2.5 * rng.uniform(0.93, 1.07),
        hip=0.62 * rng.uniform(0.9, 1.1),
        neck=0.82 * rng.uniform(0.93, 1.07),
        head_w=0.41 * size * rng.uniform(0.93, 1.07),
        head_h=0.56 * size * rng.uniform(0.95, 1.05),
        upper_arm=1.5 * rng.uniform(0.93, 1.07),
        forearm=1.3 * rng.uniform(0.93, 1.07),
        hand=size * rng.uniform(0.92, 1.08),
    )
    skin = _colour(_pick(_SKIN, rng), rng, 8)
    shirt = _colour(_pick(_SHIRTS, rng), rng, 12)
    wall = _colour(_pick(_WALLS, rng), rng, 10)
    logos = (_colour(_pick(_SHIRTS, rng), rng, 20), _colour(_pick(_SHIRTS, rng), rng, 20))
    appearance = Appearance(
        skin=skin,
        shirt=shirt,
        sleeve=shirt if rng.random() < 0.5 else skin,
        hair=_colour(_pick(_HAIR, rng), rng, 6),
        cap=_colour(_pick(_SHIRTS, rng), rng, 10) if rng.random() < 0.3 else None,
        lips=_colour((176, 90, 90), rng, 12),
        wall=wall,
        logos=logos,
        table=_colour(_pick(((90, 60, 40), (230, 230, 230), (30, 40, 90), (60, 60, 60)), rng), rng, 8),
    )
    dominant = "R" if rng.random() < 0.75 else "L"
    habits = Habits(
        dominant=dominant,
        dominant_share=rng.uniform(0.7, 0.95),
        speed=rng.uniform(0.8, 1.25),
        fidget=_pick(FIDGETS, rng),
        fidget_rate=rng.uniform(0.08, 0.25),
        fidget_amplitude=rng.uniform(0.6, 1.2),
        fidget_frequency=rng.uniform(0.8, 2.5),
        rest=_pick(RESTS, rng),
        reach_bias=(rng.normal(0, 0.06), rng.normal(0, 0.05)),
        angle_bias=rng.normal(0, 0.15),
        talk=rng.uniform(0.2, 1.0),
    )
    camera = Camera(scale=rng.uniform(0.18, 0.22), x0=rng.uniform(0.4, 0.6), y0=rng.uniform(0.34, 0.4))
    return Subject(subject_id, body, appearance, habits, camera)


# -- face ---------------------------------------------------------------------------------------------
def _face_template() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face-70 in head units (x in head half-widths, y in head half-heights, origin at the head's centre).

    Returns the template, the weight of yaw/pitch shifts per point (inner features move more than the jaw
    contour), and the indices of the inner lips that part when the mouth opens.
    """
    points = np.zeros((70, 2))
    t = np.pi * np.arange(17) / 16
    points[0:17] = np.stack([-0.93 * np.cos(t), -0.05 + np.sin(t)], axis=1)  # jaw; 8 = chin
    arc = 0.06 * np.sin(np.pi * np.arange(5) / 4)
    points[17:22] = np.stack([np.linspace(-0.68, -0.16, 5), -0.38 - arc], axis=1)  # right brow (image left)
    points[22:27] = np.stack([np.linspace(0.16, 0.68, 5), -0.38 - arc], axis=1)
    points[27:31] = np.stack([np.zeros(4), np.linspace(-0.28, 0.12, 4)], axis=1)  # bridge; 30 = tip
    x = np.linspace(-0.17, 0.17, 5)
    points[31:36] = np.stack([x, 0.22 + 0.04 * (1 - np.abs(x) / 0.17)], axis=1)
    eye = np.deg2rad([180, 120, 60, 0, -60, -120])
    for start, cx in ((36, -0.38), (42, 0.38)):
        points[start : start + 6] = np.stack([cx + 0.15 * np.cos(eye), -0.2 - 0.06 * np.sin(eye)], axis=1)
    outer = np.deg2rad([180, 150, 120, 90, 60, 30, 0, -30, -60, -90, -120, -150])
    points[48:60] = np.stack([0.3 * np.cos(outer), 0.55 - 0.1 * np.sin(outer)], axis=1)
    inner = np.deg2rad([180, 135, 90, 45, 0, -45, -90, -135])
    points[60:68] = np.stack([0.2 * np.cos(inner), 0.55 - 0.035 * np.sin(inner)], axis=1)
    points[68] = (-0.38, -0.2)
    points[69] = (0.38, -0.2)
    shift = np.ones(70)
    shift[0:17] = 0.3
    parting = np.zeros(70)
    parting[[61, 62, 63]] = -1.0  # upper inner lip up
    parting[[65, 66, 67]] = 1.0  # lower inner lip down
    parting[[56, 57, 58]] = 0.6  # outer lower lip follows
    return points, shift, parting


FACE_TEMPLATE, _FACE_SHIFT, _LIP_PARTING = _face_template()
EAR_TEMPLATE = np.array([[-0.98, -0.08], [0.98, -0.08]])  # right ear (image left), left ear


def _rotate(points: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotates ``[T, ..., 2]`` points by ``angle [T]`` (image coordinates: positive turns x towards y)."""
    c, s = np.cos(angle), np.sin(angle)
    shape = (-1,) + (1,) * (points.ndim - 2)
    c, s = c.reshape(shape), s.reshape(shape)
    return np.stack([c * points[..., 0] - s * points[..., 1], s * points[..., 0] + c * points[..., 1]], axis=-1)


def face_points(center: np.ndarray, body: Body, roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray,
                mouth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Face-70 ``[T, 70, 2]`` and the two ears ``[T, 2, 2]`` for a head at ``center [T, 2]``.

    ``yaw`` turns the face sideways (features shift in x), ``pitch`` > 0 looks down (features shift down),
    ``roll`` tilts the head, ``mouth`` in [0, 1] opens the lips.
    """
    local = np.broadcast_to(FACE_TEMPLATE, (len(center), 70, 2)).copy()
    local[..., 0] += _FACE_SHIFT * 0.3 * yaw[:, None]
    local[..., 1] += _FACE_SHIFT * 0.22 * pitch[:, None] + _LIP_PARTING * 0.07 * mouth[:, None]
    ears = np.broadcast_to(EAR_TEMPLATE, (len(center), 2, 2)).copy()
    ears[..., 0] -= 0.08 * yaw[:, None]
    scale = np.array([body.head_w, body.head_h])
    face = _rotate(local * scale, roll) + center[:, None]
    ears = _rotate(ears * scale, roll) + center[:, None]
    return face, ears


# -- hands --------------------------------------------------------------------------------------------
# Hand-local geometry at hand scale 1 (U). Finger order: thumb, index, middle, ring, pinky.
_PALM = 0.45
_PALM_HALF_WIDTH = 0.19
_MCP_ALONG = np.array([1.0, 1.03, 0.98, 0.9])  # index..pinky knuckles, in palm lengths along the hand
_MCP_ACROSS = np.array([0.75, 0.25, -0.25, -0.75])  # ... and in palm half-widths towards the thumb
_FINGER_SEGMENTS = np.array([
    [0.19, 0.15, 0.13],  # thumb: CMC->MCP, MCP->IP, IP->tip
    [0.20, 0.12, 0.10],
    [0.22, 0.14, 0.10],
    [0.20, 0.13, 0.10],
    [0.16, 0.10, 0.08],
])
_SPREAD = np.array([0.22, 0.07, -0.07, -0.22])
THUMB_SIDE = {"R": -1.0, "L": 1.0}  # sign of the thumb's side relative to the hand direction rotated by +90 deg

HAND_CONFIGS: dict[str, tuple[tuple[float, ...], float]] = {
    # name: (curl of thumb, index, middle, ring, pinky in [0, 1], spread in rad)
    "relaxed": ((0.35, 0.4, 0.45, 0.5, 0.55), 0.15),
    "open": ((0.1, 0.05, 0.05, 0.08, 0.1), 0.5),
    "flat": ((0.15, 0.0, 0.0, 0.0, 0.0), 0.05),
    "fist": ((0.7, 0.9, 0.92, 0.92, 0.92), 0.0),
    "point": ((0.7, 0.0, 0.9, 0.92, 0.92), 0.05),
    "pinch": ((0.25, 0.45, 0.8, 0.85, 0.85), 0.1),
    "claw": ((0.4, 0.6, 0.6, 0.62, 0.65), 0.35),
}


def hand_points(wrist: np.ndarray, angle: np.ndarray, curls: np.ndarray, spread: np.ndarray, side: str,
                scale: float) -> np.ndarray:
    """The 21 OpenPose hand points ``[T, 21, 2]`` (0 wrist, 1-4 thumb, 5-8 index, ..., 17-20 pinky).

    ``angle [T]``: direction from the wrist to the middle knuckle (image radians); ``curls [T, 5]``: how
    far each finger folds (seen from the front, a folding finger shortens); ``spread [T]``: fan angle.
    """
    u = np.stack([np.cos(angle), np.sin(angle)], axis=-1)  # along the hand
    v = THUMB_SIDE[side] * np.stack([-u[:, 1], u[:, 0]], axis=-1)  # towards the thumb
    out = np.empty((len(wrist), 21, 2))
    out[:, 0] = wrist
    shrink = 1.0 - 0.78 * curls  # [T, 5]
    # Thumb: from its base beside the palm, angled out and bending towards the index as it curls.
    base = wrist + scale * (0.12 * u + 0.16 * v)
    thumb_angle = angle + THUMB_SIDE[side] * (0.75 - 0.6 * curls[:, 0])
    direction = np.stack([np.cos(thumb_angle), np.sin(thumb_angle)], axis=-1)
    out[:, 1] = base
    point = base
    for k in range(3):
        point = point + scale * _FINGER_SEGMENTS[0, k] * shrink[:, :1] * direction
        out[:, 2 + k] = point
    for f in range(4):
        knuckle = wrist + scale * (_PALM * _MCP_ALONG[f] * u + _PALM_HALF_WIDTH * _MCP_ACROSS[f] * v)
        finger_angle = angle + THUMB_SIDE[side] * spread * _SPREAD[f]
        direction = np.stack([np.cos(finger_angle), np.sin(finger_angle)], axis=-1)
        first = 5 + 4 * f
        out[:, first] = knuckle
        point = knuckle
        for k in range(3):
            point = point + scale * _FINGER_SEGMENTS[f + 1, k] * shrink[:, f + 1 : f + 2] * direction
            out[:, first + 1 + k] = point
    return out


# -- arms ---------------------------------------------------------------------------------------------
def elbow_position(shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float, outward: float) -> np.ndarray:
    """Two-link inverse kinematics in the image plane: the elbow ``[T, 2]`` that joins shoulder and wrist.

    Of the two solutions it takes the lower one, preferring the outer side (``outward`` = -1 for the
    image-left arm) a little, as a seated person's elbow hangs; an out-of-reach wrist straightens the arm towards it.
    """
    d = wrist - shoulder
    dist = np.linalg.norm(d, axis=-1)
    safe = np.maximum(dist, 1e-6)
    direction = d / safe[:, None]
    cos_a = np.clip((upper**2 + safe**2 - fore**2) / (2 * upper * safe), -1.0, 1.0)
    a = np.arccos(cos_a)
    candidates = [shoulder + upper * _rotate(direction[:, None], sign * a)[:, 0] for sign in (1.0, -1.0)]
    score = [0.35 * outward * (c[:, 0] - shoulder[:, 0]) + (c[:, 1] - shoulder[:, 1]) for c in candidates]
    return np.where((score[0] >= score[1])[:, None], candidates[0], candidates[1])


def body_points(body: Body, sway: np.ndarray, lean: np.ndarray, shrug: np.ndarray) -> np.ndarray:
    """BODY_25 trunk and legs ``[T, 25, 2]`` (the head and arm points are filled in later).

    The hips stay on the chair; ``lean`` (rad) rotates the trunk about them and ``sway [T, 2]`` shifts the
    shoulders; ``shrug`` lifts them.
    """
    t = len(lean)
    out = np.zeros((t, 25, 2))
    hip = np.array([0.0, body.torso])
    out[:, 8] = hip + np.stack([0.25 * sway[:, 0], np.zeros(t)], axis=-1)
    neck = hip + _rotate(np.broadcast_to([0.0, -body.torso], (t, 2)), lean) + sway
    out[:, 1] = neck
    for index, sign in ((2, -1.0), (5, 1.0)):
        offset = np.stack([np.full(t, sign * body.shoulder), 0.12 - shrug], axis=-1)
        out[:, index] = neck + _rotate(offset, lean)
    out[:, 9] = out[:, 8] + [-body.hip, 0.0]
    out[:, 12] = out[:, 8] + [body.hip, 0.0]
    for hip_index, knee, ankle, sign in ((9, 10, 11, -1.0), (12, 13, 14, 1.0)):
        out[:, knee] = out[:, hip_index] + [sign * 0.15, 0.9]
        out[:, ankle] = out[:, knee] + [0.0, 1.6]
    for ankle, big, small, heel, sign in ((14, 19, 20, 21, 1.0), (11, 22, 23, 24, -1.0)):
        out[:, big] = out[:, ankle] + [sign * 0.1, 0.35]
        out[:, small] = out[:, ankle] + [sign * 0.3, 0.3]
        out[:, heel] = out[:, ankle] + [0.0, 0.1]
    return out


def head_centre(body: Body, neck: np.ndarray, lean: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Centre of the head ellipse: above the neck along the trunk, plus the head's own offset [T, 2]."""
    up = _rotate(np.broadcast_to([0.0, -body.neck], (len(lean), 2)), lean)
    return neck + up + offset
