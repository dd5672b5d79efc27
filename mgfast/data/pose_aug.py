"""Augmentations in keypoint space: PoseC3D's image-space pipeline applied to coordinates only.

PoseC3D crops, resizes and flips an image that exists only as keypoints until ``GeneratePoseTarget``
renders it; these functions do the same arithmetic on ``[..., V, 3]`` arrays of ``(x, y, score)`` and the
image size ``(h, w)`` they live in, so the data-loader workers ship keypoints and the volume is rendered on
the training device. Missing points (score <= 0 or a non-finite value) are normalised by
:func:`mark_missing` to ``(NaN, NaN, 0)``; every transform keeps them missing and the renderer skips them.
"""

from __future__ import annotations

import math

import numpy as np

Box = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels, x1 and y1 exclusive."""


def mark_missing(keypoints: np.ndarray) -> np.ndarray:
    """A float32 copy with undetected points (score <= 0, or any non-finite value) set to ``(NaN, NaN, 0)``."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    missing = ~(np.isfinite(kp).all(-1) & (kp[..., 2] > 0))
    kp[missing] = (np.nan, np.nan, 0.0)
    return kp


def compact_box(keypoints: np.ndarray, *, padding: float = 0.25, threshold: float = 10.0,
                hw_ratio: float | None = 1.0) -> Box | None:
    """PoseC3D's ``PoseCompact`` box (``allow_imgpad=True``): the detected points' extent, padded, widened
    to the height/width ratio, then truncated to ints (it may extend beyond the frame).

    Returns None (keep the frame) when nothing is detected or the extent is below ``threshold`` pixels.
    """
    valid = keypoints[..., 2] > 0
    if not valid.any():
        return None
    x, y = keypoints[..., 0][valid], keypoints[..., 1][valid]
    min_x, max_x, min_y, max_y = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    if max_x - min_x < threshold or max_y - min_y < threshold:
        return None
    cx, cy = (max_x + min_x) / 2, (max_y + min_y) / 2
    half_w = (max_x - min_x) / 2 * (1 + padding)
    half_h = (max_y - min_y) / 2 * (1 + padding)
    if hw_ratio is not None:
        half_h = max(hw_ratio * half_w, half_h)
        half_w = max(half_h / hw_ratio, half_w)
    return int(cx - half_w), int(cy - half_h), int(cx + half_w), int(cy + half_h)


def crop(keypoints: np.ndarray, box: Box) -> tuple[np.ndarray, tuple[int, int]]:
    """Keypoints in the coordinates of ``box``, and the box's ``(h, w)``."""
    kp = keypoints.copy()
    kp[..., 0] -= box[0]
    kp[..., 1] -= box[1]
    return kp, (box[3] - box[1], box[2] - box[0])


def resize(keypoints: np.ndarray, size: tuple[int, int], new_size: tuple[int, int]) -> np.ndarray:
    """Keypoints of an ``(h, w)`` image resized (not keeping the ratio) to ``new_size = (h', w')``."""
    kp = keypoints.copy()
    kp[..., 0] *= np.float32(new_size[1] / size[1])
    kp[..., 1] *= np.float32(new_size[0] / size[0])
    return kp


def short_side_size(size: tuple[int, int], short: int) -> tuple[int, int]:
    """``(h', w')`` of an ``(h, w)`` image rescaled so its short side is ``short`` (mmcv's ``rescale_size``)."""
    h, w = size
    factor = short / min(h, w)
    return int(h * factor + 0.5), int(w * factor + 0.5)


def random_resized_crop_box(size: tuple[int, int], rng: np.random.Generator, *,
                            area_range: tuple[float, float] = (0.08, 1.0),
                            aspect_range: tuple[float, float] = (3 / 4, 4 / 3), max_attempts: int = 10) -> Box:
    """mmaction2's ``RandomResizedCrop`` box in an ``(h, w)`` image: area fraction and log-uniform aspect ratio
    drawn ``max_attempts`` times; the first that fits is placed at random, else the centred square."""
    h, w = size
    log_ratios = rng.uniform(math.log(aspect_range[0]), math.log(aspect_range[1]), size=max_attempts)
    ratios = np.exp(log_ratios)
    areas = rng.uniform(area_range[0], area_range[1], size=max_attempts) * (h * w)
    crop_w = np.round(np.sqrt(areas * ratios)).astype(np.int64)
    crop_h = np.round(np.sqrt(areas / ratios)).astype(np.int64)
    for cw, ch in zip(crop_w.tolist(), crop_h.tolist()):
        if 0 < ch <= h and 0 < cw <= w:
            x0, y0 = int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1))
            return x0, y0, x0 + cw, y0 + ch
    side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    return x0, y0, x0 + side, y0 + side


def hflip(keypoints: np.ndarray, width: int, flip_index: tuple[int, ...] | list[int]) -> np.ndarray:
    """Mirror in x about the image centre (pixel centres at integers: x -> width - 1 - x) and swap the
    subject's left and right joints (``flip_index[j]`` is the joint that ``j`` becomes)."""
    kp = keypoints[..., list(flip_index), :].copy()
    kp[..., 0] = (width - 1) - kp[..., 0]
    return kp


def normalise_to_box(keypoints: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """``(x, y)`` mapped so the box's centre is 0 and its longer half-side is 1 (aspect ratio kept), score
    unchanged; missing points become ``(0, 0, 0)`` so the network sees plain numbers."""
    x0, y0, x1, y1 = box
    half = max(x1 - x0, y1 - y0) / 2
    if not half > 0:
        raise ValueError(f"normalisation box {box} is empty")
    kp = keypoints.astype(np.float32, copy=True)
    kp[..., 0] = (kp[..., 0] - (x0 + x1) / 2) / half
    kp[..., 1] = (kp[..., 1] - (y0 + y1) / 2) / half
    kp[~(kp[..., 2] > 0)] = 0.0
    return kp
