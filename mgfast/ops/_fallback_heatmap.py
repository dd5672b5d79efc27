"""``mgfast::render_heatmaps`` in pure PyTorch, for devices whose native kernel this build lacks.

The same strokes as csrc/include/mgfast/heatmap.h, computed in float32 for all (clip, person, channel,
frame) at once: which strokes draw, their peaks and their PoseC3D windows. Planes are then drawn densely in
chunks, each pixel masked by its stroke's window, and persons combine by a NaN-ignoring maximum (as
``fmaxf`` and ``std::max`` do in the kernels). A joint's Gaussian is separable, so joint planes are outer
products of one row and one column; limb planes evaluate the segment distance at every pixel. The Python
loops run over persons and over chunks of planes that bound the working memory.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from mgfast.ops._checks import MISSING_COORDINATE

_CHUNK_ELEMENTS = 1 << 22
"""Planes are drawn in chunks of about this many pixels (a limb chunk holds a dozen such temporaries)."""


def _float32(value: float) -> float:
    """``value`` rounded to float32, as the kernels' parameter struct stores it."""
    return torch.tensor(value, dtype=torch.float32).item()


def _usable(v: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(v) & (v.abs() <= MISSING_COORDINATE)


def _window(lo: torch.Tensor, hi: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``window_start`` / ``window_end``: [max(trunc(lo), 0), min(trunc(hi) + 1, size)), clamped first so the
    conversion to int stays defined."""
    start = lo.clamp(-2.0, size + 1.0).to(torch.int32).clamp_(min=0)
    end = (hi.clamp(-2.0, size + 1.0).to(torch.int32) + 1).clamp_(max=size)
    return start, end


def _inside(start: torch.Tensor, end: torch.Tensor, size: int) -> torch.Tensor:
    """``[..., size]``: whether each pixel index lies in its stroke's window."""
    pixels = torch.arange(size, device=start.device, dtype=torch.int32)
    return (pixels >= start[..., None]) & (pixels < end[..., None])


@dataclasses.dataclass
class _Strokes:
    """What each stroke draws, one entry per (clip, person, channel, frame) as ``[N, M, C, T]``: end points
    A and B (B = A for a point), |AB|^2, peak, whether it draws at all, and its window."""

    ax: torch.Tensor
    ay: torch.Tensor
    bx: torch.Tensor
    by: torch.Tensor
    ab2: torch.Tensor
    peak: torch.Tensor
    draws: torch.Tensor
    x0: torch.Tensor
    x1: torch.Tensor
    y0: torch.Tensor
    y1: torch.Tensor

    def person(self, m: int) -> _Strokes:
        """Person ``m``'s strokes, one per flattened (clip, channel, frame) plane: ``[N * C * T]``."""
        return _Strokes(**{f.name: getattr(self, f.name)[:, m].flatten() for f in dataclasses.fields(self)})

    def planes(self, planes: slice) -> _Strokes:
        """A person's strokes over a range of planes."""
        return _Strokes(**{f.name: getattr(self, f.name)[planes] for f in dataclasses.fields(self)})


def _strokes(xy: torch.Tensor, scores: torch.Tensor | None, limbs: list[int], eps: float, radius: float,
             height: int, width: int) -> _Strokes:
    """``point_stroke`` / ``segment_stroke`` for every stroke at once (``make_stroke``)."""
    x, y = xy[..., 0].transpose(2, 3), xy[..., 1].transpose(2, 3)  # [N, M, V, T]
    score = torch.ones_like(x) if scores is None else scores.transpose(2, 3)
    zero = torch.zeros((), device=xy.device)
    if limbs:
        a, b = limbs[0::2], limbs[1::2]
        ax, ay, bx, by, score_a = x[:, :, a], y[:, :, a], x[:, :, b], y[:, :, b], score[:, :, a]
        weight = torch.fmin(score_a, score[:, :, b])  # as fminf, a NaN score leaves the other
        draws = (weight >= eps) & _usable(ax) & _usable(ay) & _usable(bx) & _usable(by)
        ab2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
        segment = ab2 >= 1  # a shorter limb draws joint A, with A's score
        draws &= segment | (score_a >= eps)
        peak = torch.where(segment, weight, score_a)
    else:
        ax, ay, bx, by = x, y, x, y
        draws = (score >= eps) & _usable(x) & _usable(y)
        segment = torch.zeros_like(draws)
        ab2 = zero.expand_as(x)
        peak = score
    # Strokes that do not draw get zero coordinates, so that every window is computed from numbers.
    ax, ay = torch.where(draws, ax, zero), torch.where(draws, ay, zero)
    bx, by = torch.where(draws & segment, bx, ax), torch.where(draws & segment, by, ay)
    x0, x1 = _window(torch.fmin(ax, bx) - radius, torch.fmax(ax, bx) + radius, width)
    y0, y1 = _window(torch.fmin(ay, by) - radius, torch.fmax(ay, by) + radius, height)
    return _Strokes(ax, ay, bx, by, torch.where(segment, ab2, zero), peak, draws, x0, x1, y0, y1)


def _segment_distance2(px: torch.Tensor, py: torch.Tensor, ax, ay, bx, by, ab2) -> torch.Tensor:
    """``segment_distance2`` for every pixel: to the nearer end when the pixel projects beyond the segment,
    else to its projection, measured from the nearer end (as the kernels do, for long limbs' precision).
    A point (B = A) projects onto A, so this is also the point distance. Each branch's arithmetic is the
    kernel's, operand for operand; the pixel terms are rows and columns until they meet."""
    dx, dy = bx - ax, by - ay
    pax, pay = px - ax, py - ay
    pbx, pby = px - bx, py - by
    along_a = pax * dx + pay * dy  # <= 0: the pixel projects before A
    toward_b = pbx * dx + pby * dy  # >= 0: past B (the kernel's along_b is its negation)
    to_a = pax * pax + pay * pay
    to_b = pbx * pbx + pby * pby
    near_a = along_a <= -toward_b
    t = torch.where(near_a, along_a, toward_b) / ab2  # signed: -t_b from B
    qx = t * dx - torch.where(near_a, pax, pbx)  # projection minus pixel
    qy = t * dy - torch.where(near_a, pay, pby)
    middle = qx * qx + qy * qy
    return torch.where(along_a <= 0, to_a, torch.where(toward_b >= 0, to_b, middle))


def _draw(persons: list[_Strokes], planes: slice, height: int, width: int, inv_two_sigma2: float,
          limbs: bool) -> torch.Tensor:
    """The float32 planes ``[P, H, W]`` of a range of the flattened (clip, channel, frame) planes."""
    device = persons[0].ax.device
    px = torch.arange(width, dtype=torch.float32, device=device)
    py = torch.arange(height, dtype=torch.float32, device=device)
    zero = torch.zeros((), device=device)
    out = torch.zeros((planes.stop - planes.start, height, width), device=device)
    for person in persons:
        s = person.planes(planes)
        inside = _inside(s.y0, s.y1, height)[:, :, None] & (_inside(s.x0, s.x1, width) & s.draws[:, None])[:, None, :]
        if limbs:
            ax, ay, bx, by = (v[:, None, None] for v in (s.ax, s.ay, s.bx, s.by))
            d2 = _segment_distance2(px, py[:, None], ax, ay, bx, by, s.ab2[:, None, None])
            value = s.peak[:, None, None] * torch.exp(d2 * -inv_two_sigma2)
        else:  # exp(-(dx^2 + dy^2) k) = exp(-dx^2 k) exp(-dy^2 k): one row times one column per plane
            along_x = torch.exp((px - s.ax[:, None]) * (px - s.ax[:, None]) * -inv_two_sigma2)
            along_y = torch.exp((py - s.ay[:, None]) * (py - s.ay[:, None]) * -inv_two_sigma2)
            value = (s.peak[:, None] * along_y)[:, :, None] * along_x[:, None, :]
        # fmax ignores NaN (0 * inf when sigma is tiny), as fmaxf and std::max do in the kernels
        out = torch.fmax(out, torch.where(inside, value, zero))
    return out


def render_heatmaps(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None,
    height: int,
    width: int,
    sigma: float,
    eps: float,
    scaling: float,
    limbs: list[int],
    flip_perm: list[int],
    out: torch.Tensor,
) -> torch.Tensor:
    """Fills ``out`` (``[N * (1 + flip), C, T, H, W]``) as the native kernel does, from checked inputs:
    contiguous float32 keypoints ``[N, M, T, V, 2]`` and scores ``[N, M, T, V]`` (or None for unit peaks)."""
    n, m, t, _, _ = keypoints.shape
    channels = out.shape[1]
    if out.numel() == 0:
        return out
    base = out[:n]
    if m == 0:
        return out.zero_()
    sigma32 = _float32(sigma)
    two_sigma2 = _float32(2.0 * sigma32 * sigma32)  # exact products of float32 values, rounded once
    inv_two_sigma2 = _float32(1.0 / two_sigma2) if two_sigma2 else math.inf
    strokes = _strokes(keypoints * _float32(scaling), scores, limbs, _float32(eps), _float32(3.0 * sigma32), height, width)
    persons = [strokes.person(p) for p in range(m)]
    flat = base.view(n * channels * t, height, width)
    per_chunk = max(1, _CHUNK_ELEMENTS // (height * width))
    for begin in range(0, flat.shape[0], per_chunk):
        chunk = slice(begin, min(begin + per_chunk, flat.shape[0]))
        flat[chunk] = _draw(persons, chunk, height, width, inv_two_sigma2, bool(limbs))
    if flip_perm:
        out[n:] = base[:, flip_perm].flip(-1)
    return out
