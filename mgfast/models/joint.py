"""The joint branch: a decoupled spatial-temporal attention network in the style of DSTA-Net.

After Shi et al., "Decoupled Spatial-Temporal Attention Network for Skeleton-Based Action Recognition"
(ACCV 2020). Each block first mixes joints within a frame (spatial self-attention), then frames at each
joint (temporal self-attention); each half is attention, a 1x1 projection with a residual, then a
feed-forward 1x1 layer with a second residual. As in DSTA-Net:

- an attention map is ``tanh(q . k / (d * n)) * alpha`` per head, with q and k summed over channels and
  the other axis (one joint-joint map per clip, shared by its frames; one frame-frame map per clip,
  shared by its joints), plus, for joints, a learnable map (the attention bias) that starts uniform;
- queries and keys see positional encodings (sinusoidal, per joint and per frame); values do not;
- the width grows along the blocks and the frame rate halves where it does.

Departures: the joint encodings are learnable (initialised sinusoidal), since the layout is fixed per
model; the frame encodings are fixed sinusoids computed for any clip length, so one model takes any T. The
last batch norm of each residual branch starts at zero (as PoseC3D's and torchvision's ResNets do), so every
block starts as the identity. With DSTA-Net's unit initialisation the 16 residual sums pile up a shared
positive mean: the pooled features of an untrained 8-block model have a squared norm near 950, an SGD step
at DSTA-Net's lr 0.1 then moves every logit by tens, and the published recipe diverged within its warm-up
on a few-class corpus (train loss 3.9 -> 22 in 12 steps).

Input ``[B, T, V, 3]`` of ``(x, y, score)`` per joint, coordinates normalised to the clip's box by the
data pipeline. A point with score <= 0 or a non-finite value counts as undetected and reads as zeros.
Extra input streams (``bone``, ``motion``) are derived here and concatenated as channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mgfast.layout import Layout
from mgfast.models._common import ClassifierHead, check_input, int_tuple, positive_int, probability

STREAMS = ("joint", "bone", "motion")
"""Input streams the joint model can derive from keypoints, three channels each."""

DEFAULT_DIMS = (64, 64, 128, 128, 256, 256, 256, 256)
"""DSTA-Net's block widths (eight blocks)."""


def bone_parents(layout: Layout) -> tuple[int, ...]:
    """Each joint's parent in the skeleton tree read from the layout's limbs (-1 for roots and lone joints).

    The tree is a breadth-first search over the limb graph: the root of each connected part is the first
    endpoint of the first limb (in the layout's order) that touches it, and neighbours are visited in limb
    order. For limbs written parent-first from a root, as mg68's are (the neck is the root), the parent of
    ``b`` is ``a`` for every limb ``(a, b)``. Limbs closing a cycle add no parent.
    """
    neighbours: list[list[int]] = [[] for _ in range(layout.num_joints)]
    for a, b in layout.limbs:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parents = [-1] * layout.num_joints
    seen = [False] * layout.num_joints
    for root, _ in layout.limbs:
        if seen[root]:
            continue
        seen[root] = True
        queue = [root]
        for joint in queue:  # the list grows while iterated: breadth-first order
            for other in neighbours[joint]:
                if not seen[other]:
                    seen[other] = True
                    parents[other] = joint
                    queue.append(other)
    return tuple(parents)


def skeleton_streams(keypoints: torch.Tensor, parents: Sequence[int] | torch.Tensor, streams: Sequence[str]) -> torch.Tensor:
    """Input streams ``[B, 3 * len(streams), T, V]`` from keypoints ``[B, T, V, 3]`` of (x, y, score).

    - ``joint``: the points themselves;
    - ``bone``: joint minus its parent (:func:`bone_parents`); zero for roots;
    - ``motion``: next frame minus this frame; zero in the last frame.

    A stream's score channel is the smaller score of the two points involved. Undetected points (score <= 0
    or anything non-finite) read as zeros, and differences involving one are zero.
    """
    xy, score = keypoints[..., :2], keypoints[..., 2]
    valid = (score > 0) & torch.isfinite(score) & torch.isfinite(xy).all(dim=-1)
    zero = torch.zeros((), dtype=keypoints.dtype, device=keypoints.device)
    xy = torch.where(valid.unsqueeze(-1), xy, zero)
    score = torch.where(valid, score, zero)
    out = []
    for stream in streams:
        if stream == "joint":
            out.append(torch.cat([xy, score.unsqueeze(-1)], dim=-1))
            continue
        if stream == "bone":
            parent = torch.as_tensor(parents, dtype=torch.long, device=keypoints.device)
            has_parent = parent >= 0
            index = torch.where(has_parent, parent, torch.arange(len(parent), device=keypoints.device))
            other_xy, other_score, other_valid = xy[:, :, index], score[:, :, index], valid[:, :, index]
            both = valid & other_valid & has_parent
            diff = xy - other_xy
        else:  # motion
            other_xy = torch.cat([xy[:, 1:], xy[:, -1:]], dim=1)
            other_score = torch.cat([score[:, 1:], score[:, -1:]], dim=1)
            other_valid = torch.cat([valid[:, 1:], torch.zeros_like(valid[:, -1:])], dim=1)
            both = valid & other_valid
            diff = other_xy - xy
        diff = torch.where(both.unsqueeze(-1), diff, zero)
        pair_score = torch.where(both, torch.minimum(score, other_score), zero)
        out.append(torch.cat([diff, pair_score.unsqueeze(-1)], dim=-1))
    return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


def sinusoids(length: int, channels: int, device: torch.device | None = None) -> torch.Tensor:
    """Transformer positional encodings ``[channels, length]``: sin on even channels, cos on odd ones."""
    position = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(0)
    frequency = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / channels))
    angle = frequency.unsqueeze(1) * position
    pe = torch.empty(channels, length, device=device)
    pe[0::2] = torch.sin(angle)
    pe[1::2] = torch.cos(angle[: channels // 2])
    return pe


def _conv_bn(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """1x1 convolution over [B, C, T, V] (stride along T) and batch norm."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)), nn.BatchNorm2d(out_channels))


class SpatialAttention(nn.Module):
    """Multi-head attention mixing the joints of each frame, then a feed-forward layer (both residual)."""

    def __init__(self, in_channels: int, out_channels: int, inner: int, heads: int, num_joints: int, attention_dropout: float) -> None:
        super().__init__()
        self.heads, self.inner = heads, inner
        self.position = nn.Parameter(sinusoids(num_joints, in_channels).unsqueeze(0).unsqueeze(2))  # [1, C, 1, V]
        self.qk = nn.Conv2d(in_channels, 2 * heads * inner, 1)
        self.alpha = nn.Parameter(torch.ones(1, heads, 1, 1))
        self.bias = nn.Parameter(torch.full((1, heads, num_joints, num_joints), 1.0 / num_joints))
        self.drop = nn.Dropout(attention_dropout)
        self.out = _conv_bn(heads * in_channels, out_channels)
        self.ff = _conv_bn(out_channels, out_channels)
        self.skip1 = _conv_bn(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.skip2 = _conv_bn(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        q, k = self.qk(x + self.position).view(n, 2 * self.heads, self.inner, t, v).chunk(2, dim=1)
        score = torch.einsum("nhctu,nhctv->nhuv", q / (self.inner * t), k)  # scaled first: no float16 overflow
        attention = self.drop(torch.tanh(score) * self.alpha + self.bias)
        y = torch.einsum("nctu,nhuv->nhctv", x, attention).reshape(n, self.heads * c, t, v)
        y = self.act(self.skip1(x) + self.out(y))
        return self.act(self.skip2(x) + self.ff(y))


class TemporalAttention(nn.Module):
    """Multi-head attention mixing the frames of each joint, then a feed-forward layer that may halve T."""

    def __init__(self, channels: int, inner: int, heads: int, stride: int, attention_dropout: float) -> None:
        super().__init__()
        self.heads, self.inner = heads, inner
        self.qk = nn.Conv2d(channels, 2 * heads * inner, 1)
        self.alpha = nn.Parameter(torch.ones(1, heads, 1, 1))
        self.drop = nn.Dropout(attention_dropout)
        self.out = _conv_bn(heads * channels, channels)
        self.ff = _conv_bn(channels, channels, stride)
        self.skip2 = _conv_bn(channels, channels, stride) if stride != 1 else nn.Identity()
        self.act = nn.LeakyReLU(0.1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        n, c, t, v = y.shape
        position = sinusoids(t, c, device=y.device).to(y.dtype).unsqueeze(0).unsqueeze(-1)  # [1, C, T, 1]
        q, k = self.qk(y + position).view(n, 2 * self.heads, self.inner, t, v).chunk(2, dim=1)
        score = torch.einsum("nhctv,nhcqv->nhtq", q / (self.inner * v), k)
        attention = self.drop(torch.tanh(score) * self.alpha)
        z = torch.einsum("nctv,nhtq->nhcqv", y, attention).reshape(n, self.heads * c, t, v)
        z = self.act(y + self.out(z))
        return self.act(self.skip2(y) + self.ff(z))


class DSTABlock(nn.Module):
    """Spatial attention (``in_channels`` -> ``out_channels``), then temporal attention (T / ``stride``)."""

    def __init__(self, in_channels: int, out_channels: int, heads: int, num_joints: int, stride: int, attention_dropout: float) -> None:
        super().__init__()
        inner = max(1, out_channels // 4)  # DSTA-Net's query/key width: a quarter of the block width
        self.spatial = SpatialAttention(in_channels, out_channels, inner, heads, num_joints, attention_dropout)
        self.temporal = TemporalAttention(out_channels, inner, heads, stride, attention_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.spatial(x))


class DSTANet(nn.Module):
    """Joint-branch classifier: ``model(x [B, T, V, 3]) -> (logits [B, C], features [B, D])``.

    Args:
        layout: keypoint layout (joint count; limbs for the bone stream).
        num_classes: number of classes.
        streams: input streams, any of ``("joint", "bone", "motion")`` in any order.
        dims: block widths, one per block (default DSTA-Net's eight), or one int for ``num_blocks`` blocks of
            that width.
        num_blocks: number of blocks; required with an int ``dims``, else must match ``len(dims)``.
        heads: attention heads per block (DSTA-Net: 3).
        temporal_strides: per block; default halves the frame rate where the width grows.
        dropout: dropout before the classifier.
        attention_dropout: dropout on the attention maps.
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        *,
        streams: Sequence[str] = ("joint",),
        dims: int | Sequence[int] = DEFAULT_DIMS,
        num_blocks: int | None = None,
        heads: int = 3,
        temporal_strides: Sequence[int] | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(streams, str) or not streams or any(s not in STREAMS for s in streams) or len(set(streams)) != len(streams):
            raise ValueError(f"streams must be distinct names from {STREAMS}, got {streams!r}")
        if isinstance(dims, int) and not isinstance(dims, bool):
            if num_blocks is None:
                raise ValueError("with one width (dims=int) pass num_blocks as well, e.g. dims=32, num_blocks=2")
            widths = (positive_int("dims", dims),) * positive_int("num_blocks", num_blocks)
        else:
            widths = int_tuple("dims", dims)
            if num_blocks is not None and num_blocks != len(widths):
                raise ValueError(f"num_blocks={num_blocks!r} disagrees with dims, which lists {len(widths)} widths")
        if temporal_strides is None:
            temporal_strides = tuple(2 if i > 0 and widths[i] > widths[i - 1] else 1 for i in range(len(widths)))
        strides = int_tuple("temporal_strides", temporal_strides, len(widths))
        heads = positive_int("heads", heads)
        attention_dropout = probability("attention_dropout", attention_dropout)

        self.num_joints = layout.num_joints
        self.streams = tuple(streams)
        self.register_buffer("parents", torch.tensor(bone_parents(layout)), persistent=False)
        self.feature_dim = widths[-1]
        in_channels = 3 * len(self.streams)
        self.embed = nn.Sequential(nn.Conv2d(in_channels, widths[0], 1), nn.BatchNorm2d(widths[0]), nn.LeakyReLU(0.1))
        blocks, previous = [], widths[0]
        for width, stride in zip(widths, strides):
            blocks.append(DSTABlock(previous, width, heads, layout.num_joints, stride, attention_dropout))
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.head = ClassifierHead(self.feature_dim, positive_int("num_classes", num_classes), dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        # DSTA-Net's initialisation (He fan-out convolutions, unit batch norms, Xavier classifier), then the
        # residual branches' last batch norms zeroed (see the module docstring).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, (SpatialAttention, TemporalAttention)):
                nn.init.zeros_(m.out[1].weight)
                nn.init.zeros_(m.ff[1].weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_input(x, (None, None, self.num_joints, 3), "joint model")
        y = self.blocks(self.embed(skeleton_streams(x, self.parents, self.streams)))
        features = y.mean(dim=(2, 3))
        return self.head(features), features
