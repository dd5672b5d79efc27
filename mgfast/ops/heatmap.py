"""The PoseC3D heatmap-volume op: ``mgfast::render_heatmaps`` and its argument checks.

The kernels are csrc/cpu/heatmap.cpp and csrc/cuda/heatmap.cu, with the shared math and the parameter
struct in csrc/include/mgfast/heatmap.h; csrc/bindings/heatmap.cpp binds the struct, which
:func:`_kernel` fills. On a device without a kernel in this build, ``_fallback_heatmap`` draws the volume.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mgfast._native import _C
from mgfast.layout import Layout, limb_flip_index, resolve_layout
from mgfast.ops import _checks as check
from mgfast.ops import _library
from mgfast.ops import _fallback_heatmap as fallback
from mgfast.ops._device import launch_target, runs_native


def _shape(keypoints: torch.Tensor, height: int, width: int, limbs: list[int], flip_perm: list[int]) -> tuple:
    n, _, t, v, _ = keypoints.shape
    channels = len(limbs) // 2 if limbs else v
    return (2 * n if flip_perm else n, channels, t, height, width)


def _kernel(
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
    # The struct holds fixed-size tables, so the lengths of the lists are checked here.
    if len(limbs) % 2:
        raise ValueError("limbs must hold index pairs")
    shape = _shape(keypoints, height, width, limbs, flip_perm)
    with check.memory_errors("render_heatmaps", shape, dtype):
        out = keypoints.new_empty(shape, dtype=dtype)
    channels = out.shape[1]
    if flip_perm and len(flip_perm) != channels:
        raise ValueError("flip_perm must have one entry per channel")
    if not runs_native(keypoints):
        with check.memory_errors("render_heatmaps", shape, dtype):
            return fallback.render_heatmaps(keypoints, scores, height, width, sigma, eps, scaling, limbs, flip_perm, out)
    p = _C.HeatmapParams()
    p.keypoints, p.scores, p.out = keypoints.data_ptr(), 0 if scores is None else scores.data_ptr(), out.data_ptr()
    p.N, p.M, p.T, p.V, _ = keypoints.shape
    p.H, p.W, p.C = height, width, channels
    p.sigma, p.eps, p.scaling = sigma, eps, scaling
    p.mode = _C.HeatmapParams.LIMBS if limbs else _C.HeatmapParams.JOINTS
    p.limbs = list(zip(limbs[0::2], limbs[1::2]))  # the schema's flat [a0, b0, a1, b1, ...] as pairs
    p.flip, p.flip_perm = int(bool(flip_perm)), flip_perm
    p.out_dtype = check.OUTPUT_DTYPES[dtype]
    p.num_threads = torch.get_num_threads()
    with check.memory_errors("render_heatmaps", shape, dtype):
        _C.render_heatmaps(p, *launch_target(keypoints))
    return out


def _fake(keypoints, scores, height, width, sigma, eps, scaling, limbs, flip_perm, dtype):
    return keypoints.new_empty(_shape(keypoints, height, width, limbs, flip_perm), dtype=dtype)


_library.define(
    "render_heatmaps(Tensor keypoints, Tensor? scores, int height, int width, float sigma, float eps, "
    "float scaling, int[] limbs, int[] flip_perm, ScalarType dtype) -> Tensor",
    _kernel,
    _fake,
)


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

    Not differentiable: the output never requires grad, whatever the inputs do.

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
    if not (0 < out_h <= check.MAX_SIDE and 0 < out_w <= check.MAX_SIDE):
        raise ValueError(f"size * scaling must leave at least one pixel and at most {check.MAX_SIDE} per side, got "
                         f"{out_h}x{out_w} (size {height}x{width}, scaling {scaling:g})")

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
