"""The saliency crop-resize op: ``mgfast::crop_resize`` and its argument checks.

The kernels are csrc/cpu/crop_resize.cpp and csrc/cuda/crop_resize.cu, with the shared math and the
parameter struct in csrc/include/mgfast/crop_resize.h; csrc/bindings/crop_resize.cpp binds the struct,
which :func:`_kernel` fills. On a device without a kernel in this build, ``_fallback_crop_resize`` crops.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import torch

from mgfast._native import _C
from mgfast.ops import _checks as check
from mgfast.ops import _library
from mgfast.ops import _fallback_crop_resize as fallback
from mgfast.ops._device import launch_target, runs_native

MIN_STD = 1e-6
MAX_BOX_SCALE = 16
"""Box coordinates are bounded by this multiple of the frame's larger side, which bounds the sampling grid
(bilinear samples per output pixel) at MAX_BOX_SCALE * 2 * side / output size per axis."""


def _shape(n: int, out_h: int, out_w: int, clip_layout: bool) -> tuple:
    return (3, n, out_h, out_w) if clip_layout else (n, 3, out_h, out_w)


def _reciprocals(std: list[float]) -> list[float]:
    """``1 / std`` per channel as float32 division gives it (the struct stores it; the kernels multiply)."""
    std32 = array("f", std)  # each value cast to float32, as the struct's fields cast
    if 0.0 in std32:
        raise ValueError("std must be non-zero")
    # A float64 quotient of float32 values, rounded to float32 by the struct, is the float32 quotient.
    return [1.0 / s for s in std32]


def _kernel(
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
    shape = _shape(n, out_h, out_w, clip_layout)
    with check.memory_errors("crop_resize", shape, dtype):
        out = frames.new_empty(shape, dtype=dtype)
    if not runs_native(frames):
        with check.memory_errors("crop_resize", shape, dtype):
            return fallback.crop_resize(frames, boxes, out_h, out_w, mean, _reciprocals(std), out, clip_layout)
    p = _C.CropResizeParams()
    p.frames, p.boxes, p.out = frames.data_ptr(), boxes.data_ptr(), out.data_ptr()
    p.box_stride = 4 if boxes.shape[0] == n and n != 1 else 0  # one box per frame, or one for all
    p.N, p.H, p.W, p.out_h, p.out_w = n, h, w, out_h, out_w
    # [N, 3, h, w]: frame stride 3hw, channel stride hw.  [3, N, h, w]: frame stride hw, channel stride Nhw.
    p.out_stride_n, p.out_stride_c = (out.stride(1), out.stride(0)) if clip_layout else (out.stride(0), out.stride(1))
    p.mean, p.inv_std = mean, _reciprocals(std)
    p.out_dtype = check.OUTPUT_DTYPES[dtype]
    p.num_threads = torch.get_num_threads()
    with check.memory_errors("crop_resize", shape, dtype):
        _C.crop_resize(p, *launch_target(frames))
    return out


def _fake(frames, boxes, out_h, out_w, mean, std, dtype, clip_layout):
    return frames.new_empty(_shape(frames.shape[0], out_h, out_w, clip_layout), dtype=dtype)


_library.define(
    "crop_resize(Tensor frames, Tensor boxes, int out_h, int out_w, float[] mean, float[] std, "
    "ScalarType dtype, bool clip_layout) -> Tensor",
    _kernel,
    _fake,
)


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
    if any(abs(s) < MIN_STD for s in std_list):
        raise ValueError(f"std must be non-zero, at least {MIN_STD:g} in magnitude, in every channel (its "
                         f"inverse must stay finite), got {std_list}")
    dtype = check.output_dtype("dtype", dtype)
    # Data-dependent, so checked in eager mode only (a compiled graph cannot branch on tensor values).
    if not torch.compiler.is_compiling() and boxes.numel() and boxes.device.type != "meta":
        finite = torch.isfinite(boxes).all()
        ordered = ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
        if not bool(finite & ordered):
            raise ValueError(f"{boxes_name} must be finite with x1 > x0 and y1 > y0 in every box")
        height, width = frames.shape[1], frames.shape[2]
        reach = MAX_BOX_SCALE * max(height, width)
        if not bool((boxes.abs() <= reach).all()):
            raise ValueError(f"{boxes_name} must lie within {MAX_BOX_SCALE}x the frame's size ({height}x{width}: "
                             f"coordinates up to {reach:g} in magnitude); larger boxes are input garbage and their "
                             "sampling grid would be unbounded")
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
    are read directly; no float copy of a frame is made. Not differentiable: the output never requires grad.

    Args:
        frames: ``[N, H, W, 3]`` uint8 RGB (as decoded); made contiguous if it is not.
        boxes: ``(x0, y0, x1, y1)`` in input pixels with x1 > x0 and y1 > y0: ``[N, 4]`` one per frame, or
            ``[4]`` / ``[1, 4]`` for all frames. Floating point, on the frames' device. Coordinates may
            leave the frame, up to :data:`MAX_BOX_SCALE` times its larger side, which bounds the sampling
            grid.
        size: output ``(h, w)``, or one int for a square.
        mean, std: optional per-channel normalisation on the 0-255 scale: ``out = (sample - mean) / std``
            (for statistics on the 0-1 scale multiply both by 255); ``|std| >= 1e-6``.
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
