"""mgfast's native ops as torch ops: PoseC3D heatmap volumes, saliency crop-resize, saliency boxes.

The kernels run on CPU (C++/OpenMP) or CUDA, on the device of their inputs, and are registered with
``torch.library`` (``mgfast::render_heatmaps``, ``mgfast::crop_resize``) with fake kernels, so they work in
eager mode, under ``torch.compile(fullgraph=True)`` and inside CUDA graphs. Each public function checks its
arguments first and raises ``TypeError``/``ValueError`` naming the argument; non-contiguous inputs are
made contiguous (a copy), never rejected.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mgfast import _checks as check
from mgfast._native import _C
from mgfast.layout import Layout, limb_flip_index, resolve_layout
from mgfast.saliency import saliency_boxes

__all__ = ["render_heatmaps", "crop_resize", "crop_resize_clip", "saliency_boxes", "cuda_available"]


def cuda_available() -> bool:
    """Whether the CUDA kernels were compiled in and a CUDA device is visible."""
    return bool(_C.cuda_compiled) and torch.cuda.is_available()


def _launch_target(t: torch.Tensor) -> tuple[int, int]:
    """(device index, stream handle) for the native call: (-1, 0) on CPU."""
    if t.device.type == "cpu":
        return -1, 0
    if t.device.type != "cuda":
        raise ValueError(f"mgfast ops run on CPU or CUDA tensors, got a tensor on {t.device}")
    if not _C.cuda_compiled:
        raise RuntimeError(
            "got CUDA tensors, but this mgfast build has no CUDA kernels; reinstall with nvcc on PATH "
            "(see README: Building for a GPU) or move the inputs to the CPU"
        )
    index = t.device.index if t.device.index is not None else torch.cuda.current_device()
    return index, torch.cuda.current_stream(index).cuda_stream


# --------------------------------------------------------------------------------------------------------
# Heatmap volumes


# The ops are defined with torch.library's define/impl rather than custom_op: custom_op wraps each kernel in
# a dynamo guard whose first call imports torch._dynamo (seconds), paid again by every data-loader worker.
_LIBRARY = torch.library.Library("mgfast", "DEF")
_LIBRARY.define(
    "render_heatmaps(Tensor keypoints, Tensor? scores, int height, int width, float sigma, float eps, "
    "float scaling, int[] limbs, int[] flip_perm, ScalarType dtype) -> Tensor"
)
_LIBRARY.define(
    "crop_resize(Tensor frames, Tensor boxes, int out_h, int out_w, float[] mean, float[] std, "
    "ScalarType dtype, bool clip_layout) -> Tensor"
)


def _register(name: str, kernel, fake) -> None:
    for key in ("CPU", "CUDA"):
        _LIBRARY.impl(name, kernel, key)
    torch.library.register_fake(f"mgfast::{name}", fake, lib=_LIBRARY)


def _render_heatmaps_kernel(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None,
    height: int,
    width: int,
    sigma: float,
    eps: float,
    scaling: float,
    limbs: list[int],
    flip_perm: list[int],
    dtype: torch.dtype,
) -> torch.Tensor:
    n, m, t, v, _ = keypoints.shape
    out = keypoints.new_empty(_heatmap_shape(keypoints, height, width, limbs, flip_perm), dtype=dtype)
    device, stream = _launch_target(keypoints)
    _C.render_heatmaps(
        keypoints=keypoints.data_ptr(), scores=0 if scores is None else scores.data_ptr(), out=out.data_ptr(),
        N=n, M=m, T=t, V=v, H=height, W=width, sigma=sigma, eps=eps, scaling=scaling, limbs=limbs,
        flip_perm=flip_perm, out_dtype=check.OUTPUT_DTYPES[dtype], num_threads=torch.get_num_threads(),
        device=device, stream=stream,
    )
    return out


def _heatmap_shape(keypoints: torch.Tensor, height: int, width: int, limbs: list[int], flip_perm: list[int]) -> tuple:
    n, _, t, v, _ = keypoints.shape
    channels = len(limbs) // 2 if limbs else v
    return (2 * n if flip_perm else n, channels, t, height, width)


def _render_heatmaps_fake(keypoints, scores, height, width, sigma, eps, scaling, limbs, flip_perm, dtype):
    return keypoints.new_empty(_heatmap_shape(keypoints, height, width, limbs, flip_perm), dtype=dtype)


_register("render_heatmaps", _render_heatmaps_kernel, _render_heatmaps_fake)


def render_heatmaps(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None = None,
    *,
    size: int | tuple[int, int],
    sigma: float = 0.6,
    mode: str = "joints",
    limbs: Sequence[tuple[int, int]] | torch.Tensor | None = None,
    layout: Layout | None = None,
    use_score: bool = True,
    eps: float = 1e-3,
    scaling: float = 1.0,
    flip: bool = False,
    flip_pairs: Sequence[tuple[int, int]] | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Renders PoseC3D 3D heatmap volumes from keypoints, on the keypoints' device.

    Semantics are those of PoseC3D's ``GeneratePoseTarget``: each (clip, channel, frame) plane holds, for
    every person, a Gaussian around the joint (``mode="joints"``, one channel per joint) or around the limb
    segment (``mode="limbs"``, one channel per limb, peak ``min(score_a, score_b)``; a limb shorter than one
    pixel draws joint a), and persons combine by maximum. A stroke is skipped when its peak is below ``eps``
    (or NaN), when a coordinate is missing (NaN, infinite, or beyond 1e6 pixels after scaling: detector
    garbage whose square would overflow), or when its window misses the grid. Pixel centres lie at
    integer coordinates; the window is ``3 * sigma`` around the stroke, truncated toward zero as PoseC3D does.

    Args:
        keypoints: ``[N, M, T, V, 2]`` (clips, persons, frames, joints, xy) or ``[N, T, V, 2]`` for one
            person, in pixels of a ``size`` image. Floating point; converted to contiguous float32.
        scores: confidences of shape ``keypoints.shape[:-1]``, used as peak values; required when
            ``use_score`` (scores are not clipped).
        size: ``(H, W)`` of the image the keypoints live in, or one int for a square.
        sigma: Gaussian standard deviation in output pixels (> 0).
        mode: ``"joints"`` or ``"limbs"``.
        limbs: joint index pairs for limb mode (a list of pairs or an ``[L, 2]`` integer tensor; inside
            ``torch.compile`` pass a list or a layout). Default: the layout's limbs.
        layout: keypoint layout for limbs and flip pairs. Default: ``mgfast.layout.MG68`` when V = 68.
        use_score: peaks are the scores; when False every peak is 1 (and ``scores`` is ignored).
        eps: strokes whose peak is below this are skipped (PYSKL 1e-3, mmaction2 1e-4).
        scaling: multiplies coordinates; the output is ``int(H * scaling + 0.5)`` by ``int(W * scaling + 0.5)``.
        flip: also render the horizontally flipped copy (test-time "double" augmentation).
        flip_pairs: left/right joint pairs for ``flip``. Default: the layout's.
        dtype: ``torch.float32``, ``torch.float16`` or ``torch.bfloat16``.

    Returns:
        ``[N, C, T, H', W']`` with C = V (joints) or the number of limbs. With ``flip`` the batch is ``2N``:
        ``out[N + i]`` is ``out[i]`` mirrored in x (pixel x shows pixel ``W' - 1 - x``) with left and right
        channels swapped, so ``out.view(2, N, ...)`` separates the two views. As in PoseC3D the rendered
        volume is mirrored; rendering mirrored keypoints would differ at the window edges, where the
        truncated window is not symmetric.
    """
    keypoints = check.floating("keypoints", keypoints)
    if keypoints.dim() == 4:
        keypoints = keypoints.unsqueeze(1)
    if keypoints.dim() != 5 or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape [N, M, T, V, 2] or [N, T, V, 2], got {tuple(keypoints.shape)}")
    n, m, t, v, _ = keypoints.shape
    if use_score:
        if scores is None:
            raise ValueError("scores are required when use_score=True (or pass use_score=False for unit peaks)")
        scores = check.floating("scores", scores)
        if scores.dim() == 3:
            scores = scores.unsqueeze(1)
        if scores.shape != keypoints.shape[:-1]:
            raise ValueError(f"scores must have shape {tuple(keypoints.shape[:-1])} to match keypoints, got {tuple(scores.shape)}")
        check.same_device("scores", scores, "keypoints", keypoints)
    else:
        scores = None
    height, width = check.size2("size", size)
    sigma = check.positive_number("sigma", sigma)
    eps = check.non_negative_number("eps", eps)
    scaling = check.positive_number("scaling", scaling)
    dtype = check.output_dtype("dtype", dtype)
    out_h, out_w = int(height * scaling + 0.5), int(width * scaling + 0.5)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"size * scaling must leave at least one pixel, got {out_h}x{out_w}")

    if mode == "joints":
        limb_pairs: list[tuple[int, int]] = []
        channels = v
    elif mode == "limbs":
        if limbs is None:
            limbs = resolve_layout(layout, v, "mode='limbs' without limbs=").limbs
        limb_pairs = check.index_pairs("limbs", limbs, v)
        if not limb_pairs:
            raise ValueError("limbs must hold at least one (a, b) pair in mode='limbs'")
        channels = len(limb_pairs)
    else:
        raise ValueError(f"mode must be 'joints' or 'limbs', got {mode!r}")
    if channels > _C.max_heatmap_channels:
        raise ValueError(f"at most {_C.max_heatmap_channels} heatmap channels are supported, got {channels}")

    flip_perm: list[int] = []
    if flip:
        if flip_pairs is None:
            flip_pairs = resolve_layout(layout, v, "flip=True without flip_pairs=").flip_pairs
        joint_flip = list(range(v))
        for a, b in check.index_pairs("flip_pairs", flip_pairs, v):
            joint_flip[a], joint_flip[b] = b, a
        flip_perm = list(limb_flip_index(limb_pairs, joint_flip)) if limb_pairs else joint_flip

    flat_limbs = [j for pair in limb_pairs for j in pair]
    return torch.ops.mgfast.render_heatmaps.default(keypoints, scores, out_h, out_w, sigma, eps, scaling, flat_limbs, flip_perm, dtype)


# --------------------------------------------------------------------------------------------------------
# Crop-resize


def _crop_resize_kernel(
    frames: torch.Tensor,
    boxes: torch.Tensor,
    out_h: int,
    out_w: int,
    mean: list[float],
    std: list[float],
    dtype: torch.dtype,
    clip_layout: bool,
) -> torch.Tensor:
    n, h, w, _ = frames.shape
    out = frames.new_empty(_crop_shape(n, out_h, out_w, clip_layout), dtype=dtype)
    # [N, 3, h, w]: frame stride 3hw, channel stride hw.  [3, N, h, w]: frame stride hw, channel stride Nhw.
    stride_n, stride_c = (out.stride(1), out.stride(0)) if clip_layout else (out.stride(0), out.stride(1))
    device, stream = _launch_target(frames)
    _C.crop_resize(
        frames=frames.data_ptr(), boxes=boxes.data_ptr(), box_per_frame=boxes.shape[0] == n and n != 1,
        out=out.data_ptr(), N=n, H=h, W=w, out_h=out_h, out_w=out_w, out_stride_n=stride_n, out_stride_c=stride_c,
        mean=mean, std=std, out_dtype=check.OUTPUT_DTYPES[dtype], num_threads=torch.get_num_threads(),
        device=device, stream=stream,
    )
    return out


def _crop_shape(n: int, out_h: int, out_w: int, clip_layout: bool) -> tuple:
    return (3, n, out_h, out_w) if clip_layout else (n, 3, out_h, out_w)


def _crop_resize_fake(frames, boxes, out_h, out_w, mean, std, dtype, clip_layout):
    return frames.new_empty(_crop_shape(frames.shape[0], out_h, out_w, clip_layout), dtype=dtype)


_register("crop_resize", _crop_resize_kernel, _crop_resize_fake)


def _crop_resize(frames, boxes, size, mean, std, dtype, clip_layout: bool, frames_name: str, boxes_name: str):
    frames = check.tensor(frames_name, frames)
    if frames.dtype != torch.uint8:
        raise TypeError(f"{frames_name} must be uint8 (decoded RGB), got {frames.dtype}")
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{frames_name} must have shape [N, H, W, 3], got {tuple(frames.shape)}")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"{frames_name} must have a non-empty image, got {tuple(frames.shape)}")
    frames = frames.contiguous()
    boxes = check.floating(boxes_name, boxes)
    if boxes.dim() == 1:
        boxes = boxes.unsqueeze(0)
    n = frames.shape[0]
    if boxes.dim() != 2 or boxes.shape[1] != 4 or boxes.shape[0] not in (1, n):
        raise ValueError(
            f"{boxes_name} must be (x0, y0, x1, y1) as [4], [1, 4] or [{n}, 4] (one per frame), got {tuple(boxes.shape)}"
        )
    check.same_device(boxes_name, boxes, frames_name, frames)
    out_h, out_w = check.size2("size", size)
    mean_list = check.channel_stats("mean", mean, 0.0)
    std_list = check.channel_stats("std", std, 1.0)
    if any(s == 0 for s in std_list):
        raise ValueError(f"std must be non-zero in every channel, got {std_list}")
    dtype = check.output_dtype("dtype", dtype)
    # Data-dependent, so checked in eager mode only (a compiled graph cannot branch on tensor values).
    if not torch.compiler.is_compiling() and boxes.numel():
        finite = torch.isfinite(boxes).all()
        ordered = ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
        if not bool(finite & ordered):
            raise ValueError(f"{boxes_name} must be finite with x1 > x0 and y1 > y0 in every box")
    return torch.ops.mgfast.crop_resize.default(frames, boxes, out_h, out_w, mean_list, std_list, dtype, clip_layout)


def crop_resize(
    frames: torch.Tensor,
    boxes: torch.Tensor,
    size: int | tuple[int, int],
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Crops a box from each frame and resizes it, anti-aliased, on the frames' device, in one pass.

    Each output pixel averages a grid of bilinear samples over its bin of the box, the grid adapting to the
    box/output ratio: exactly ``torchvision.ops.roi_align(aligned=True, sampling_ratio=-1)`` applied to the
    frames as float, per channel. Samples more than one pixel outside the image read zero. The uint8 frames
    are read directly; no float copy of a frame is made.

    Args:
        frames: ``[N, H, W, 3]`` uint8 RGB (as decoded); made contiguous if it is not.
        boxes: ``(x0, y0, x1, y1)`` in input pixels with x1 > x0 and y1 > y0: ``[N, 4]`` one per frame, or
            ``[4]`` / ``[1, 4]`` for all frames. Floating point, on the frames' device.
        size: output ``(h, w)``, or one int for a square.
        mean, std: optional per-channel normalisation on the 0-255 scale: ``out = (sample - mean) / std``
            (for statistics on the 0-1 scale multiply both by 255).
        dtype: ``torch.float32``, ``torch.float16`` or ``torch.bfloat16``.

    Returns:
        ``[N, 3, h, w]``.
    """
    return _crop_resize(frames, boxes, size, mean, std, dtype, False, "frames", "boxes")


def crop_resize_clip(
    clip: torch.Tensor,
    box: torch.Tensor,
    size: int | tuple[int, int],
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """:func:`crop_resize` for one clip, written channel-first for video models.

    Args:
        clip: ``[T, H, W, 3]`` uint8 RGB frames.
        box: ``[4]`` for the whole clip, or ``[T, 4]`` one per frame.
        size, mean, std, dtype: as in :func:`crop_resize`.

    Returns:
        ``[3, T, h, w]``.
    """
    return _crop_resize(clip, box, size, mean, std, dtype, True, "clip", "box")
