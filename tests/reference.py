"""Plain NumPy references for mgfast's ops, written from the spec (DESIGN.md §4-§5), not from the kernels.

Slow and simple on purpose: loops over strokes, float64 math, the window rule applied in float32 as the
spec states it (coordinates are float32 data).
"""

from __future__ import annotations

import math

import numpy as np


MAX_COORDINATE = 1e6  # beyond this (after scaling) a coordinate counts as missing


def _usable(*coordinates) -> bool:
    return all(math.isfinite(c) and abs(c) <= MAX_COORDINATE for c in coordinates)


def _window(lo: np.float32, hi: np.float32, size: int) -> tuple[int, int]:
    """[max(trunc(lo), 0), min(trunc(hi) + 1, size)) with C's truncation toward zero."""
    return max(int(np.trunc(lo)), 0), min(int(np.trunc(hi)) + 1, size)


def _draw_point(plane: np.ndarray, x: np.float32, y: np.float32, peak: float, sigma: float, eps: float) -> None:
    if not peak >= eps or not _usable(x, y):
        return
    radius = np.float32(3) * np.float32(sigma)
    h, w = plane.shape
    x0, x1 = _window(x - radius, x + radius, w)
    y0, y1 = _window(y - radius, y + radius, h)
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float64)[None, :]
    py = np.arange(y0, y1, dtype=np.float64)[:, None]
    d2 = (px - float(x)) ** 2 + (py - float(y)) ** 2
    patch = peak * np.exp(-d2 / (2 * float(np.float32(sigma)) ** 2))
    np.maximum(plane[y0:y1, x0:x1], patch, out=plane[y0:y1, x0:x1])


def _draw_segment(plane, a, b, score_a, score_b, sigma, eps) -> None:
    weight = min(score_a, score_b)
    if not weight >= eps or not _usable(*a, *b):
        return
    ab = np.array([float(b[0]) - float(a[0]), float(b[1]) - float(a[1])])
    ab2 = float(np.float32(b[0] - a[0]) ** 2 + np.float32(b[1] - a[1]) ** 2)
    if ab2 < 1:
        _draw_point(plane, a[0], a[1], score_a, sigma, eps)
        return
    radius = np.float32(3) * np.float32(sigma)
    h, w = plane.shape
    x0, x1 = _window(min(a[0], b[0]) - radius, max(a[0], b[0]) + radius, w)
    y0, y1 = _window(min(a[1], b[1]) - radius, max(a[1], b[1]) + radius, h)
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float64)[None, :]
    py = np.arange(y0, y1, dtype=np.float64)[:, None]
    # Projection parameter of the pixel onto AB, clamped to the segment.
    t = np.clip(((px - float(a[0])) * ab[0] + (py - float(a[1])) * ab[1]) / float(ab @ ab), 0, 1)
    d2 = (px - float(a[0]) - t * ab[0]) ** 2 + (py - float(a[1]) - t * ab[1]) ** 2
    patch = weight * np.exp(-d2 / (2 * float(np.float32(sigma)) ** 2))
    np.maximum(plane[y0:y1, x0:x1], patch, out=plane[y0:y1, x0:x1])


def render_heatmaps(
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    size: tuple[int, int],
    *,
    sigma: float = 0.6,
    limbs: list[tuple[int, int]] | None = None,
    eps: float = 1e-3,
    scaling: float = 1.0,
    flip_perm: list[int] | None = None,
) -> np.ndarray:
    """keypoints [N, M, T, V, 2], scores [N, M, T, V] or None (unit peaks) -> float32 [N', C, T, H', W']."""
    kp = keypoints.astype(np.float32) * np.float32(scaling)
    n, m, t, v, _ = kp.shape
    sc = np.ones((n, m, t, v), np.float32) if scores is None else scores.astype(np.float32)
    h, w = int(size[0] * scaling + 0.5), int(size[1] * scaling + 0.5)
    channels = len(limbs) if limbs else v
    out = np.zeros((n, channels, t, h, w), np.float64)
    for i in range(n):
        for f in range(t):
            for p in range(m):
                for c in range(channels):
                    plane = out[i, c, f]
                    if limbs:
                        ja, jb = limbs[c]
                        _draw_segment(plane, kp[i, p, f, ja], kp[i, p, f, jb], float(sc[i, p, f, ja]), float(sc[i, p, f, jb]), sigma, eps)
                    else:
                        _draw_point(plane, kp[i, p, f, c, 0], kp[i, p, f, c, 1], float(sc[i, p, f, c]), sigma, eps)
    if flip_perm is not None:
        out = np.concatenate([out, out[:, flip_perm, :, :, ::-1]])
    return out.astype(np.float32)


def _axis_samples(lo: float, hi: float, out_size: int, in_size: int):
    """roi_align(aligned=True, sampling_ratio=-1) along one axis: for each output index and sample, the two
    interpolation taps and their weights (zero outside the image)."""
    start = np.float32(lo) - np.float32(0.5)
    extent = (np.float32(hi) - np.float32(0.5)) - start
    bin_size = extent / np.float32(out_size)
    grid = max(int(math.ceil(extent / np.float32(out_size))), 1)
    o = np.arange(out_size, dtype=np.float64)[:, None]
    i = np.arange(grid, dtype=np.float64)[None, :]
    coord = float(start) + o * float(bin_size) + (i + 0.5) * float(bin_size) / grid
    inside = (coord >= -1) & (coord <= in_size)
    c = np.clip(coord, 0, None)
    low = np.floor(c).astype(np.int64)
    at_edge = low >= in_size - 1
    low = np.where(at_edge, in_size - 1, low)
    high = np.where(at_edge, in_size - 1, low + 1)
    c = np.where(at_edge, low, c)
    frac = c - low
    w_low = np.where(inside, 1 - frac, 0.0)
    w_high = np.where(inside, frac, 0.0)
    return low, high, w_low, w_high, grid


def crop_resize(frames: np.ndarray, boxes: np.ndarray, out_size: tuple[int, int], mean=None, std=None) -> np.ndarray:
    """frames [N, H, W, 3] uint8, boxes [N, 4] -> float32 [N, 3, h, w], roi_align(aligned=True) semantics."""
    n, h, w, _ = frames.shape
    oh, ow = out_size
    out = np.zeros((n, 3, oh, ow), np.float64)
    for k in range(n):
        img = frames[k].astype(np.float64)
        x0, y0, x1, y1 = boxes[k]
        ylo, yhi, wylo, wyhi, gy = _axis_samples(y0, y1, oh, h)
        xlo, xhi, wxlo, wxhi, gx = _axis_samples(x0, x1, ow, w)
        acc = np.zeros((oh, ow, 3))
        for yi, wy in ((ylo, wylo), (yhi, wyhi)):
            for xi, wx in ((xlo, wxlo), (xhi, wxhi)):
                # [oh, gy, ow, gx, 3] samples of this tap combination
                vals = img[yi[:, :, None, None], xi[None, None, :, :]]
                weight = wy[:, :, None, None] * wx[None, None, :, :]
                acc += (vals * weight[..., None]).sum(axis=(1, 3))
        out[k] = (acc / (gy * gx)).transpose(2, 0, 1)
    if mean is not None:
        out -= np.asarray(mean, np.float64)[None, :, None, None]
    if std is not None:
        out /= np.asarray(std, np.float64)[None, :, None, None]
    return out.astype(np.float32)


def saliency_box(keypoints: np.ndarray, frame_size, salient, *, min_score=0.1, motion_gain=2.0, emphasis_gain=1.0,
                 keep=0.25, quantiles=(0.02, 0.98), margin=0.15, min_size=32.0) -> np.ndarray:
    """One clip [T, V, 3] -> (x0, y0, x1, y1), following the documented steps of mgfast.ops.saliency_boxes."""
    height, width = frame_size
    t, v, _ = keypoints.shape
    xy, score = keypoints[..., :2].astype(np.float64), keypoints[..., 2].astype(np.float64)
    valid = np.zeros((t, v), bool)
    for f in range(t):
        for j in range(v):
            valid[f, j] = score[f, j] >= min_score and np.isfinite(xy[f, j]).all() and np.isfinite(score[f, j])
    confidence = np.array([sum(score[f, j] for f in range(t) if valid[f, j]) / t for j in range(v)])
    energy = np.zeros(v)
    for j in range(v):
        for f in range(1, t):
            if valid[f, j] and valid[f - 1, j]:
                energy[j] += np.hypot(*(xy[f, j] - xy[f - 1, j])) * min(score[f, j], score[f - 1, j])
    motion = energy / energy.max() if energy.max() > 0 else np.zeros(v)
    emphasis = np.zeros(v)
    emphasis[list(salient)] = 1
    importance = confidence * (1 + emphasis_gain * emphasis + motion_gain * motion)
    kept = (importance >= keep * importance.max()) & (importance > 0)
    observed = [(f, j) for f in range(t) for j in range(v) if valid[f, j] and kept[j]]
    points = np.array([xy[f, j] for f, j in observed])
    weights = np.array([importance[j] for _, j in observed])
    limit = min(height, width)
    if len(points) == 0:
        x0, y0 = (width - limit) / 2, (height - limit) / 2
        return np.array([x0, y0, x0 + limit, y0 + limit])
    x_lo, x_hi = np.quantile(points[:, 0], quantiles, weights=weights, method="inverted_cdf")
    y_lo, y_hi = np.quantile(points[:, 1], quantiles, weights=weights, method="inverted_cdf")
    side = min(max(max(x_hi - x_lo, y_hi - y_lo) * (1 + 2 * margin), min_size), limit)
    cx, cy = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
    x0 = min(max(cx - side / 2, 0), width - side)
    y0 = min(max(cy - side / 2, 0), height - side)
    return np.array([x0, y0, x0 + side, y0 + side])
