"""Drawing the synthetic interview frames from the same skeleton that the pose table records.

A frame is a backdrop (a wall with sponsor logos, a table with a microphone) and the subject drawn from
their keypoints: the torso as a polygon, the head as an ellipse with hair or a cap, eyes, brows, nose and
lips at the face landmarks, the arms as thick strokes and the hands as a palm polygon with finger strokes.
Hands are drawn last, so every hand keypoint lands on a hand-coloured pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mgfast.synth.body import FACE, LEFT_HAND, RIGHT_HAND, Appearance, Camera, Subject

_SHIFT = 4  # fixed-point bits for OpenCV's sub-pixel drawing
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _pt(point: np.ndarray) -> tuple[int, int]:
    x, y = _fixed(point)
    return int(x), int(y)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)  # type: ignore[return-value]


@dataclass(frozen=True)
class Scene:
    """The fixed parts of one interview video: backdrop image, lit colours, the camera."""

    background: np.ndarray  # uint8 [H, W, 3] RGB, with the table
    table_y: int  # first pixel row of the table
    camera: Camera
    colours: Appearance  # the subject's colours under this video's lighting
    microphone: tuple[float, float]  # (x, top y) in pixels


def _lit(appearance: Appearance, gain: float) -> Appearance:
    def f(c):
        return None if c is None else _shade(c, gain)

    return Appearance(
        skin=f(appearance.skin), shirt=f(appearance.shirt), sleeve=f(appearance.sleeve), hair=f(appearance.hair),
        cap=f(appearance.cap), lips=f(appearance.lips), wall=f(appearance.wall),
        logos=(f(appearance.logos[0]), f(appearance.logos[1])), table=f(appearance.table),
    )


def make_scene(subject: Subject, camera: Camera, table_top: float, width: int, height: int,
               rng: np.random.Generator) -> Scene:
    """The backdrop of one interview: lighting, wall pattern, table and microphone position."""
    colours = _lit(subject.appearance, rng.uniform(0.88, 1.1))
    image = np.empty((height, width, 3), np.uint8)
    # A vertical light gradient on the wall.
    ramp = np.linspace(1.08, 0.9, height)[:, None, None]
    image[:] = np.clip(np.array(colours.wall)[None, None, :] * ramp, 0, 255).astype(np.uint8)
    # Sponsor logos on a staggered grid.
    cell = max(int(height * rng.uniform(0.16, 0.24)), 8)
    offset = int(rng.integers(0, cell))
    for row, y in enumerate(range(-offset, height, cell)):
        for col, x in enumerate(range(-offset + (row % 2) * cell // 2, width, cell)):
            logo = colours.logos[(row + col) % 2]
            w, h = int(cell * 0.6), int(cell * 0.3)
            cv2.rectangle(image, (x + cell // 5, y + cell // 3), (x + cell // 5 + w, y + cell // 3 + h), logo, -1)
    table_y = int(round(camera.y0 + camera.scale * table_top))
    table_y = min(max(table_y, 1), height - 1)
    image[table_y:] = colours.table
    edge = max(int(0.12 * camera.scale), 1)
    image[table_y : table_y + edge] = _shade(colours.table, 1.25)
    image[min(table_y + int(0.45 * camera.scale), height) :] = _shade(colours.table, 0.75)  # the table's front
    microphone = (camera.x0 + camera.scale * rng.uniform(-0.9, 0.9), table_y - camera.scale * rng.uniform(0.5, 0.8))
    return Scene(background=image, table_y=table_y, camera=camera, colours=colours, microphone=microphone)


def _stroke(image: np.ndarray, a, b, colour, thickness: float) -> None:
    """A thick line between fixed-point points ``a`` and ``b`` (OpenCV draws round caps)."""
    cv2.line(image, a, b, colour, max(int(round(thickness)), 1), _AA, _SHIFT)


def _disc(image: np.ndarray, centre, radius: float, colour) -> None:
    cv2.circle(image, centre, max(int(round(radius * _ONE)), 1), colour, -1, _AA, _SHIFT)


def _ellipse(image: np.ndarray, centre: np.ndarray, axes: tuple[float, float], angle_deg: float, colour,
             start: float = 0.0, end: float = 360.0) -> None:
    cv2.ellipse(image, _pt(centre), (max(int(axes[0] * _ONE), 1), max(int(axes[1] * _ONE), 1)), angle_deg, start, end,
                colour, -1, _AA, _SHIFT)


def _poly(image: np.ndarray, points: np.ndarray, colour) -> None:
    cv2.fillPoly(image, [_fixed(points)], colour, _AA, _SHIFT)


_HAND_PALM = [0, 1, 5, 9, 13, 17]
_FINGER_BONES = [(a, b) for finger in ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
                 for a, b in zip(finger[:-1], finger[1:])]


def outline_colour(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """A contrasting edge for a shape of ``colour``: darker for light colours, lighter for dark ones."""
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    if luma > 90:
        return _shade(colour, 0.6)
    return tuple(int(min(c + 70, 255)) for c in colour)  # type: ignore[return-value]


def draw_hands(image: np.ndarray, hands: list[np.ndarray], colour, scale: float) -> None:
    """Hands from their 21 points each (pixels): outlines first, then palm polygons, finger strokes and
    joint discs, so that where hands overlap both stay hand-coloured."""
    width = 0.1 * scale
    edge = outline_colour(colour)
    shapes = [([tuple(p) for p in _fixed(hand).tolist()], _fixed(hand[_HAND_PALM])) for hand in hands]
    for fixed, palm in shapes:
        cv2.polylines(image, [palm], True, edge, 2, _AA, _SHIFT)
        for a, b in _FINGER_BONES:
            _stroke(image, fixed[a], fixed[b], edge, width + 2)
    for fixed, palm in shapes:
        cv2.fillPoly(image, [palm], colour, _AA, _SHIFT)
        for a, b in _FINGER_BONES:
            _stroke(image, fixed[a], fixed[b], colour, width)
        for point in fixed:
            _disc(image, point, 0.45 * width, colour)


def draw_frame(scene: Scene, points: np.ndarray, head: np.ndarray, roll: float, mouth: float, subject: Subject) -> np.ndarray:
    """One frame ``uint8 [H, W, 3]`` RGB: ``points [137, 2]`` and ``head [2]`` in pixels, ``roll`` in rad."""
    c = scene.colours
    s = scene.camera.scale
    body = subject.body
    image = scene.background.copy()
    table = scene.table_y
    fixed = [tuple(p) for p in _fixed(points[:25]).tolist()]

    # Neck and torso (the table is redrawn over the lower torso below).
    _stroke(image, fixed[1], _pt(head + [0.0, 0.6 * body.head_h * s]), c.skin, 0.36 * s)
    r_sh, l_sh, r_hip, l_hip = points[2], points[5], points[9], points[12]
    out = 0.2 * s
    torso = np.array([r_sh + [-out * 0.3, -0.05 * s], points[1] + [0, -0.02 * s], l_sh + [out * 0.3, -0.05 * s],
                      l_sh + [out, 0.4 * s], l_hip + [out, 0.3 * s], r_hip + [-out, 0.3 * s], r_sh + [-out, 0.4 * s]])
    _poly(image, torso, c.shirt)
    _disc(image, fixed[2], 0.22 * s, c.shirt)
    _disc(image, fixed[5], 0.22 * s, c.shirt)
    collar = np.array([points[1] + [-0.2 * s, -0.06 * s], points[1] + [0.2 * s, -0.06 * s], points[1] + [0, 0.25 * s]])
    _poly(image, collar, c.skin)

    # Head: ears, face, hair or cap, then the features at their landmarks.
    a, b = body.head_w * s, body.head_h * s
    angle = float(np.degrees(roll))
    for ear in (points[17], points[18]):
        _ellipse(image, ear, (0.17 * a, 0.3 * b), angle, _shade(c.skin, 0.9))
    _ellipse(image, head, (a, b), angle, c.skin)
    up = np.array([np.sin(roll), -np.cos(roll)])  # the head's up direction in the image
    if c.cap is None:
        _ellipse(image, head + up * 0.6 * b, (1.04 * a, 0.48 * b), angle, c.hair, 180.0, 360.0)
    else:
        _ellipse(image, head + up * 0.5 * b, (1.05 * a, 0.56 * b), angle, c.cap, 180.0, 360.0)
        side = np.array([np.cos(roll), np.sin(roll)])
        _stroke(image, _pt(head + up * 0.5 * b - side * 0.9 * a), _pt(head + up * 0.45 * b + side * 1.35 * a),
                _shade(c.cap, 0.8), 0.1 * b)
    face = _fixed(points[FACE : FACE + 70])
    line = max(int(round(0.05 * b)), 1)
    dark = (25, 20, 20)
    cv2.polylines(image, [face[17:22], face[22:27]], False, c.hair, line, _AA, _SHIFT)
    cv2.fillPoly(image, [face[36:42], face[42:48]], (235, 235, 235), _AA, _SHIFT)
    for pupil in (68, 69):
        _disc(image, tuple(face[pupil].tolist()), 0.07 * a, dark)
    cv2.polylines(image, [face[27:31], face[31:36]], False, _shade(c.skin, 0.72), line, _AA, _SHIFT)
    cv2.fillPoly(image, [face[48:60]], c.lips, _AA, _SHIFT)
    if mouth > 0.3:
        cv2.fillPoly(image, [face[60:68]], (70, 20, 25), _AA, _SHIFT)

    # Table in front of the lower torso, microphone on it.
    image[table:] = scene.background[table:]
    mx, my = scene.microphone
    _stroke(image, _pt(np.array([mx, table + 0.05 * s])), _pt(np.array([mx, my])), (40, 40, 45), 0.06 * s)
    _disc(image, _pt(np.array([mx, my])), 0.13 * s, (55, 55, 60))

    # Arms, then hands on top of everything.
    for shoulder, elbow, wrist in ((2, 3, 4), (5, 6, 7)):
        _stroke(image, fixed[shoulder], fixed[elbow], outline_colour(c.shirt), 0.4 * s + 2)
        _stroke(image, fixed[shoulder], fixed[elbow], c.shirt, 0.4 * s)
        _stroke(image, fixed[elbow], fixed[wrist], outline_colour(c.sleeve), 0.3 * s + 2)
        _disc(image, fixed[elbow], 0.17 * s, c.sleeve)
        _stroke(image, fixed[elbow], fixed[wrist], c.sleeve, 0.3 * s)
    draw_hands(image, [points[RIGHT_HAND : RIGHT_HAND + 21], points[LEFT_HAND : LEFT_HAND + 21]], c.skin, s * body.hand)
    return image
