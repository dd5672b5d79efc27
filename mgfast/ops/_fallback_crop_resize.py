"""``mgfast::crop_resize`` in pure PyTorch, for devices whose native kernel this build lacks.

The same math as csrc/include/mgfast/crop_resize.h, in float32 and in the same order: per axis, the
roi_align sample grid becomes, for each output index, a run of input pixels and their weights; the frames
are then resampled along x (only the rows some output reads), then along y, each pass one gather and one
multiply-add per tap of the run. Batched over frames; the Python loops run over taps (a few per output
pixel: about the box/output ratio plus two) and over chunks of frames that bound the working memory.
Reading the grid size off the boxes synchronises with the device, so this path cannot be captured in a
CUDA graph (the native kernels can).
"""

from __future__ import annotations

import torch

_CHUNK_ELEMENTS = 1 << 24
"""Frames are resampled in chunks whose x-pass intermediate (rows x output width x 3) stays near this size."""


def _float32_div(a: torch.Tensor, b: int | torch.Tensor) -> torch.Tensor:
    # Divides by a tensor, never a Python scalar: CUDA turns division by a scalar into multiplication by
    # its reciprocal, whose rounding could move a grid size across an integer.
    return a / torch.as_tensor(b, dtype=torch.float32, device=a.device).expand_as(a)


def _axis_runs(lo: torch.Tensor, hi: torch.Tensor, out_size: int, in_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For boxes spanning [lo, hi) on one axis (float32 ``[N]``): the first input pixel each output index
    reads (``[N, out]``) and the weights of the run starting there (``[N, out, K]``, already divided by
    the sample count; zero past a run's end), as ``roi_axis``, ``roi_sample`` and ``axis_tap`` give them."""
    start = lo - 0.5
    extent = (hi - 0.5) - start
    bin_size = _float32_div(extent, out_size)
    grid = torch.ceil(_float32_div(extent, out_size)).clamp_(min=1)
    samples = int(grid.max())
    o = torch.arange(out_size, dtype=torch.float32, device=lo.device)[None, :, None]
    i = torch.arange(samples, dtype=torch.float32, device=lo.device)[None, None, :]
    step = (i + 0.5) * bin_size[:, None, None]
    coord = (start[:, None, None] + o * bin_size[:, None, None]) + _float32_div(step, grid[:, None, None].expand_as(step))
    inside = (coord >= -1) & (coord <= in_size) & (i < grid[:, None, None])
    v = coord.clamp(min=0)
    low = v.to(torch.int64)
    edge = low >= in_size - 1
    low = torch.where(edge, in_size - 1, low)
    high = torch.where(edge, in_size - 1, low + 1)
    frac = torch.where(edge, low.to(torch.float32), v) - low.to(torch.float32)
    inv_grid = torch.reciprocal(grid)[:, None, None]
    zero = torch.zeros((), device=lo.device)
    w_low = torch.where(inside, (1 - frac) * inv_grid, zero)
    w_high = torch.where(inside, frac * inv_grid, zero)

    first = torch.where(inside, low, in_size).amin(-1)
    last = torch.where(inside, high, -1).amax(-1)
    count = (last - first + 1).clamp_(min=0)
    first = torch.where(count > 0, first, 0)
    width = max(int(count.max()), 1)
    # Each sample adds its two taps in sample order (low, then high), as the native kernels accumulate.
    index = torch.stack([low, high], -1).flatten(-2) - first[..., None]
    weights = torch.zeros(*first.shape, width, device=lo.device)
    weights.scatter_add_(-1, index.clamp_(0, width - 1), torch.stack([w_low, w_high], -1).flatten(-2))
    return first, weights


def _resample(frames: torch.Tensor, boxes: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """``[n, H, W, 3]`` uint8 frames and their ``[n, 4]`` boxes -> float32 ``[n, out_h, out_w, 3]``."""
    n, h, w, _ = frames.shape
    x_first, x_weights = _axis_runs(boxes[:, 0], boxes[:, 2], out_w, w)
    y_first, y_weights = _axis_runs(boxes[:, 1], boxes[:, 3], out_h, h)
    reads = y_weights.ne(0).any(-1)
    if not bool(reads.any()):
        return frames.new_zeros((n, out_h, out_w, 3), dtype=torch.float32)
    # The rows any output of the chunk reads: the x pass resamples only those.
    row_lo = int(y_first[reads].min())
    row_hi = int((y_first + y_weights.shape[-1])[reads].max().clamp(max=h))
    rows = frames[:, row_lo:row_hi]
    across = torch.zeros((n, row_hi - row_lo, out_w, 3), device=frames.device)
    for k in range(x_weights.shape[-1]):
        column = (x_first + k).clamp_(max=w - 1)[:, None, :, None].expand(-1, rows.shape[1], -1, 3)
        across += x_weights[:, None, :, k, None] * torch.gather(rows, 2, column).to(torch.float32)
    across = across.flatten(2)
    out = torch.zeros((n, out_h, out_w * 3), device=frames.device)
    for k in range(y_weights.shape[-1]):
        row = (y_first + k - row_lo).clamp_(0, across.shape[1] - 1)[:, :, None].expand(-1, -1, out_w * 3)
        out += y_weights[:, :, k, None] * torch.gather(across, 1, row)
    return out.view(n, out_h, out_w, 3)


def crop_resize(
    frames: torch.Tensor,
    boxes: torch.Tensor,
    out_h: int,
    out_w: int,
    mean: list[float],
    inv_std: list[float],
    out: torch.Tensor,
    clip_layout: bool,
) -> torch.Tensor:
    """Fills ``out`` (``[N, 3, h, w]``, or ``[3, N, h, w]`` with ``clip_layout``) as the native kernel does,
    from checked inputs: contiguous uint8 ``[N, H, W, 3]`` frames and float32 boxes (one per frame, or one)."""
    n, h, w, _ = frames.shape
    if n == 0:
        return out
    boxes = boxes.expand(n, 4)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=frames.device)
    inv_std_t = torch.tensor(inv_std, dtype=torch.float32, device=frames.device)
    per_chunk = max(1, _CHUNK_ELEMENTS // (h * out_w * 3))
    channel_first = out.transpose(0, 1) if clip_layout else out
    for begin in range(0, n, per_chunk):
        end = min(begin + per_chunk, n)
        rgb = _resample(frames[begin:end], boxes[begin:end], out_h, out_w)
        channel_first[begin:end] = ((rgb - mean_t) * inv_std_t).permute(0, 3, 1, 2)
    return out
