"""Turning clean keypoints into what an OpenPose run would have written for the same frames.

Real OpenPose tables are noisy: every point jitters, confidences wander, hands are missed for a few frames
at a time (more often when they move fast or overlap the face), single points come out wrong with low
confidence, and points hidden by the table or outside the frame are written as ``0, 0, 0``.
"""

from __future__ import annotations

import numpy as np

from mgfast.synth.body import FACE, HIDDEN_BODY, HIPS, LEFT_HAND, RIGHT_HAND
from mgfast.synth.motion import smooth_noise

HAND_DROP_RATE = 0.03  # chance per frame that a hand detection starts to drop out (before boosts)
HAND_DROP_END = 0.35  # chance per frame that a dropout ends: about 3 frames long on average
HEAD_POINTS = (0, 15, 16, 17, 18)  # BODY_25 nose, eyes, ears: the body model's face points


def _hand_slices() -> tuple[slice, slice]:
    return slice(LEFT_HAND, LEFT_HAND + 21), slice(RIGHT_HAND, RIGHT_HAND + 21)


def _within(points: np.ndarray, hand: np.ndarray, reach: float) -> np.ndarray:
    """``[T, P]``: whether each of ``points [T, P, 2]`` lies closer than ``reach`` to a point of ``hand [T, 21, 2]``.

    Distances are computed only for the points that come that close to the hand's bounding box (a lower bound).
    """
    lo, hi = hand.min(axis=1)[:, None], hand.max(axis=1)[:, None]
    gap = np.maximum(0.0, np.maximum(lo - points, points - hi))  # [T, P, 2] to the hand's box
    frame, point = np.nonzero(np.hypot(gap[..., 0], gap[..., 1]) < reach * (1 + 1e-6) + 1e-9)
    out = np.zeros(points.shape[:2], bool)
    if len(frame):
        distance = np.linalg.norm(points[frame, point][:, None] - hand[frame], axis=-1).min(axis=-1)
        out[frame, point] = distance < reach
    return out


def detect(points: np.ndarray, head: np.ndarray, scale: float, head_height: float, width: int, height: int,
           fps: float, rng: np.random.Generator, *, jitter: float = 1.0, pixel_jitter: float = 0.0,
           hand_drop_rate: float = HAND_DROP_RATE, occlusion_drop: float = 0.0,
           hidden: np.ndarray | None = None) -> np.ndarray:
    """An OpenPose-like table ``float32 [T, 137, 3]`` (x, y, confidence) from clean pixel keypoints.

    ``points [T, 137, 2]`` and ``head [T, 2]`` are in pixels, ``scale`` is pixels per body unit and
    ``head_height`` the head ellipse's half-height in body units.

    The keywords make a noisier detector (the defaults are those of ``mgfast synth``'s corpus): ``jitter``
    multiplies the jitter of every point (which scales with the body, ``scale``); ``pixel_jitter`` adds a
    jitter of that many pixels whatever the body's size (a distant subject's keypoints are relatively
    noisier); ``hand_drop_rate`` is the chance per frame that a hand's dropout starts (before the boosts
    near the face and in fast motion); ``occlusion_drop`` is the chance per frame that a face point (face-70
    and the body model's nose, eyes and ears) with a hand in front of it is not reported; ``hidden [T, 137]``
    marks points that are out of sight (e.g. the far ear of a turned head) and are not reported.
    """
    frames = len(points)
    out = np.zeros((frames, 137, 3))
    conf = np.empty((frames, 137))
    sigma = np.empty(137)
    conf[:, :25] = (0.78 + 0.06 * smooth_noise(rng, frames, fps, 1.0))[:, None]
    conf[:, FACE : FACE + 70] = (0.72 + 0.07 * smooth_noise(rng, frames, fps, 1.0))[:, None]
    sigma[:25], sigma[FACE : FACE + 70] = 0.012, 0.007
    hands = _hand_slices()
    near_face = np.zeros((frames, 2), bool)
    fast = np.zeros((frames, 2), bool)
    covered = np.zeros((frames, 137), bool) if occlusion_drop > 0 else None  # face points behind a hand
    for k, part in enumerate(hands):
        hand = points[:, part]
        conf[:, part] = (0.52 + 0.1 * smooth_noise(rng, frames, fps, 0.8))[:, None]
        conf[:, part.start + np.array([4, 8, 12, 16, 20])] -= 0.08  # fingertips are the least certain
        speed = np.zeros(frames)
        speed[1:] = np.linalg.norm(np.diff(hand[:, 0], axis=0), axis=-1) / scale
        fast[:, k] = speed > 0.08
        conf[:, part] -= (0.15 * np.clip(speed / 0.1, 0, 1))[:, None]
        centre = hand.mean(axis=1)
        near_face[:, k] = np.linalg.norm(centre - head, axis=-1) < 1.6 * head_height * scale
        conf[:, part] -= 0.1 * near_face[:, k][:, None]
        # Face landmarks under a hand are uncertain.
        under = _within(points[:, FACE : FACE + 70], hand, 0.25 * scale)
        conf[:, FACE : FACE + 70] *= np.where(under, 0.55, 1.0)
        if covered is not None:
            covered[:, FACE : FACE + 70] |= under
            covered[:, list(HEAD_POINTS)] |= _within(points[:, list(HEAD_POINTS)], hand, 0.25 * scale)
    sigma[LEFT_HAND : LEFT_HAND + 21] = sigma[RIGHT_HAND : RIGHT_HAND + 21] = 0.02
    conf += 0.04 * rng.standard_normal(conf.shape)
    conf = np.clip(conf, 0.05, 0.98)

    # Jitter: part white, part slowly drifting, larger where the detector is less sure.
    spread = scale * sigma[None, :, None] * (1.0 + (1.0 - conf)[..., None])
    if jitter != 1.0:
        spread = spread * jitter
    if pixel_jitter:
        spread = np.sqrt(spread**2 + pixel_jitter**2)
    drift = np.stack([smooth_noise(rng, frames, fps, 0.3) for _ in range(2)], axis=-1)[:, None]
    noisy = points + spread * (0.7 * rng.standard_normal(points.shape) + 0.7 * drift)

    # Single points gone wrong: a large error with a low confidence.
    wrong = rng.random((frames, 137)) < 0.006
    wrong[:, :25] = False
    noisy[wrong] += rng.normal(0.0, 0.12 * scale, size=(int(wrong.sum()), 2))
    conf[wrong] = rng.uniform(0.02, 0.15, size=int(wrong.sum()))

    out[..., :2] = noisy
    out[..., 2] = conf

    # Points OpenPose would not report: hidden by the table, or outside the frame; the hips are guessed.
    out[:, list(HIDDEN_BODY)] = 0.0
    out[:, list(HIPS), 2] = rng.uniform(0.08, 0.3, size=(frames, len(HIPS)))
    outside = (out[..., 0] < 0) | (out[..., 0] > width - 1) | (out[..., 1] < 0) | (out[..., 1] > height - 1)
    out[outside] = 0.0

    # Hand dropouts: a two-state chain per hand, more likely over the face and in fast motion.
    for k, part in enumerate(hands):
        start = hand_drop_rate * (1.0 + 2.5 * near_face[:, k] + 2.0 * fast[:, k])
        dropped = np.zeros(frames, bool)
        state = False
        draws = rng.random(frames)
        for f in range(frames):
            state = (draws[f] >= HAND_DROP_END) if state else (draws[f] < start[f])
            dropped[f] = state
        out[dropped, part] = 0.0
        wrist = 7 if part.start == LEFT_HAND else 4  # BODY_25 wrist of the same side
        lost = dropped & (rng.random(frames) < 0.2)
        out[lost, wrist] = 0.0
    if covered is not None:
        out[covered & (rng.random((frames, 137)) < occlusion_drop)] = 0.0
    if hidden is not None:
        out[np.asarray(hidden, bool)] = 0.0
    out[..., :2] = np.round(out[..., :2], 2)
    out[..., 2] = np.round(out[..., 2], 3)
    return out.astype(np.float32)
