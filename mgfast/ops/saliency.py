"""Saliency boxes: where in the frame a clip's micro-gesture happens.

A micro-gesture is a small movement of the hands towards the face or body, so the box favours joints that
move (motion energy over the clip, weighted by confidence) and the layout's salient joints (hands, face),
then covers where those joints go, with a margin, as a square clamped to the frame. Crops are then cut
from the original resolution, keeping the detail of small movements. Plain torch on the CPU (a few
hundred joints per clip): no native kernel, no torch op.
"""

from __future__ import annotations

import torch

from mgfast.layout import Layout, resolve_layout
from mgfast.ops import _checks as check


def joint_importance(
    keypoints: torch.Tensor, salient: torch.Tensor, *, min_score: float, motion_gain: float, emphasis_gain: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-joint importance of one clip ``[T, V, 3]``, and the mask of observations that count.

    ``importance_j = confidence_j * (1 + emphasis_gain * salient_j + motion_gain * energy_j / max(energy))``
    where ``confidence_j`` is the joint's mean score over frames (invalid observations count 0) and
    ``energy_j`` the sum over consecutive valid frames of its displacement times the smaller score.
    """
    xy, score = keypoints[..., :2], keypoints[..., 2]
    # NaN compares False, so this also drops NaN and infinite coordinates
    valid = (score >= min_score) & (xy.abs() <= check.MISSING_COORDINATE).all(-1) & torch.isfinite(score)
    weight = torch.where(valid, score, torch.zeros_like(score))
    confidence = weight.mean(0)
    if keypoints.shape[0] > 1:
        both = valid[1:] & valid[:-1]
        step = torch.linalg.vector_norm(torch.nan_to_num(xy[1:] - xy[:-1]), dim=-1)
        energy = torch.where(both, step * torch.minimum(weight[1:], weight[:-1]), torch.zeros_like(step)).sum(0)
    else:
        energy = torch.zeros_like(confidence)
    peak = energy.max()
    motion = energy / peak if peak > 0 else torch.zeros_like(energy)
    importance = confidence * (1 + emphasis_gain * salient + motion_gain * motion)
    return importance, valid


def _weighted_quantiles(values: torch.Tensor, weights: torch.Tensor, quantiles: tuple[float, float]) -> list[float]:
    """Inverted-CDF weighted quantiles: the smallest value whose cumulative weight reaches ``q`` of the total."""
    order = torch.argsort(values)
    cumulative = torch.cumsum(weights[order], 0)
    targets = torch.tensor(quantiles, dtype=cumulative.dtype) * cumulative[-1]
    index = torch.searchsorted(cumulative, targets).clamp_(max=len(values) - 1)
    return values[order][index].tolist()


def _clip_box(
    keypoints: torch.Tensor,
    salient: torch.Tensor,
    height: int,
    width: int,
    *,
    min_score: float,
    motion_gain: float,
    emphasis_gain: float,
    keep: float,
    quantiles: tuple[float, float],
    margin: float,
    min_size: float,
) -> torch.Tensor:
    importance, valid = joint_importance(
        keypoints, salient, min_score=min_score, motion_gain=motion_gain, emphasis_gain=emphasis_gain
    )
    kept = (importance >= keep * importance.max()) & (importance > 0)
    chosen = valid & kept[None, :]
    side_limit = float(min(height, width))
    if not bool(chosen.any()):  # nothing detected: the largest centred square
        x0, y0 = (width - side_limit) / 2, (height - side_limit) / 2
        return torch.tensor([x0, y0, x0 + side_limit, y0 + side_limit], dtype=torch.float32)
    points = keypoints[..., :2][chosen].double()
    weights = importance.double().expand_as(chosen)[chosen]
    x_lo, x_hi = _weighted_quantiles(points[:, 0], weights, quantiles)
    y_lo, y_hi = _weighted_quantiles(points[:, 1], weights, quantiles)
    side = max(x_hi - x_lo, y_hi - y_lo) * (1 + 2 * margin)
    side = min(max(side, min_size), side_limit)
    cx, cy = (x_lo + x_hi) / 2, (y_lo + y_hi) / 2
    x0 = min(max(cx - side / 2, 0.0), width - side)
    y0 = min(max(cy - side / 2, 0.0), height - side)
    return torch.tensor([x0, y0, x0 + side, y0 + side], dtype=torch.float32)


def saliency_boxes(
    keypoints: torch.Tensor,
    frame_size: tuple[int, int],
    *,
    layout: Layout | None = None,
    min_score: float = 0.1,
    motion_gain: float = 2.0,
    emphasis_gain: float = 1.0,
    keep: float = 0.25,
    quantiles: tuple[float, float] = (0.02, 0.98),
    margin: float = 0.15,
    min_size: float = 32.0,
) -> torch.Tensor:
    """One square saliency box ``(x0, y0, x1, y1)`` per clip, in frame pixels.

    1. Observations count when their score is at least ``min_score`` and their coordinates are finite and
       within 1e6 pixels (beyond that they are detector garbage, as for :func:`mgfast.ops.render_heatmaps`).
    2. Each joint gets an importance (see :func:`joint_importance`): its mean confidence, raised by
       ``emphasis_gain`` for the layout's salient joints (mg68: hands, wrists, face) and by ``motion_gain``
       times its motion energy relative to the clip's most moving joint.
    3. Joints with importance at least ``keep`` times the maximum are kept; the box spans the ``quantiles``
       (robust to outliers) of their observed x and y over the clip, each observation weighted by its
       joint's importance, so that a joint that moves a lot pulls the box towards it.
    4. The box grows by ``margin`` of its side on each side, becomes a square of at least ``min_size``
       pixels around the same centre, and is moved (and if need be shrunk) to lie inside the frame.

    A clip with no valid observation gets the largest centred square.

    Args:
        keypoints: ``[T, V, 3]`` (x, y, score) for one clip or ``[N, T, V, 3]`` for a batch; any device.
        frame_size: ``(height, width)`` of the frames.
        layout: joint layout (salient joints). Default: ``mgfast.layout.MG68`` when V = 68.

    Returns:
        float32 ``[4]`` or ``[N, 4]`` on the keypoints' device.
    """
    keypoints = check.floating("keypoints", keypoints)
    single = keypoints.dim() == 3
    batch = keypoints.unsqueeze(0) if single else keypoints
    if batch.dim() != 4 or batch.shape[-1] != 3 or batch.shape[1] == 0:
        raise ValueError(f"keypoints must have shape [T, V, 3] or [N, T, V, 3] with T >= 1, got {tuple(keypoints.shape)}")
    height, width = check.size2("frame_size", frame_size)
    layout = resolve_layout(layout, batch.shape[2], "saliency_boxes")
    if not 0 <= keep <= 1:
        raise ValueError(f"keep must lie in [0, 1], got {keep!r}")
    if not 0 <= quantiles[0] <= quantiles[1] <= 1:
        raise ValueError(f"quantiles must be (lo, hi) with 0 <= lo <= hi <= 1, got {quantiles!r}")
    check.finite_number("min_score", min_score)
    check.non_negative_number("margin", margin)
    check.non_negative_number("min_size", min_size)
    check.non_negative_number("motion_gain", motion_gain)
    check.non_negative_number("emphasis_gain", emphasis_gain)

    salient = torch.zeros(layout.num_joints)
    salient[list(layout.salient)] = 1.0
    cpu = batch.cpu()
    boxes = torch.stack([
        _clip_box(
            clip, salient, height, width, min_score=min_score, motion_gain=motion_gain,
            emphasis_gain=emphasis_gain, keep=keep, quantiles=quantiles, margin=margin, min_size=min_size,
        )
        for clip in cpu
    ]) if len(cpu) else torch.zeros(0, 4)
    boxes = boxes.to(keypoints.device)
    return boxes[0] if single else boxes
