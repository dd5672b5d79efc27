"""The heatmap branch: PoseC3D's SlowOnly 3D ResNet for heatmap volumes.

The default configuration is PYSKL's skeleton SlowOnly-R50 (``configs/posec3d/slowonly_r50_*/joint.py``):
a (1, 7, 7) stem convolution with stride 1 and a 3x3 max-pool with stride 1 (heatmaps are already small),
three stages of (4, 6, 3) bottleneck blocks (expansion 4) with widths 32, 64, 128 (outputs 128, 256, 512),
spatial strides (2, 2, 2), temporal strides (1, 1, 2), temporal (3, 1, 1) kernels in the first convolution
of every block of stages 2 and 3, then global average pooling, dropout 0.5 and a linear classifier
(``I3DHead``). A 48 x 56 x 56 volume ends as a 512 x 24 x 7 x 7 feature map.

Backbone module names follow PYSKL's (``conv1.conv``, ``conv1.bn``, ``layer1.0.conv2.conv``,
``layer1.0.downsample.conv``): a PYSKL checkpoint's backbone keys, without their ``backbone.`` prefix, are
this model's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mgfast.layout import Layout
from mgfast.models._common import ClassifierHead, check_input, int_tuple, positive_int

EXPANSION = 4
"""Output width of a bottleneck block relative to its inner width."""


class ConvBN(nn.Module):
    """3D convolution without bias, batch norm, and optionally ReLU (mmcv's ``ConvModule`` layout)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int], stride: tuple[int, int, int] = (1, 1, 1), relu: bool = True) -> None:
        super().__init__()
        padding = tuple(k // 2 for k in kernel)
        self.conv = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Bottleneck3d(nn.Module):
    """1x1x1 (or 3x1x1 when inflated) -> 1x3x3 (strided) -> 1x1x1 with a residual connection."""

    def __init__(self, in_channels: int, planes: int, stride: tuple[int, int], inflate: bool) -> None:
        super().__init__()
        t_stride, s_stride = stride
        self.conv1 = ConvBN(in_channels, planes, (3, 1, 1) if inflate else (1, 1, 1))
        self.conv2 = ConvBN(planes, planes, (1, 3, 3), stride=(t_stride, s_stride, s_stride))
        self.conv3 = ConvBN(planes, planes * EXPANSION, (1, 1, 1), relu=False)
        self.downsample = None
        if s_stride != 1 or t_stride != 1 or in_channels != planes * EXPANSION:
            self.downsample = ConvBN(in_channels, planes * EXPANSION, (1, 1, 1), stride=(t_stride, s_stride, s_stride), relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class SlowOnly(nn.Module):
    """Heatmap-branch classifier: ``model(x [B, C, T, H, W]) -> (logits [B, K], features [B, D])``.

    Args:
        layout: keypoint layout; ``in_channels`` defaults to its joint count (use ``len(layout.limbs)`` for
            limb heatmaps, or the sum for both).
        num_classes: number of classes.
        in_channels: heatmap channels of the input.
        base_channels: stem width and inner width of the first stage (doubling per stage).
        stage_blocks: bottleneck blocks per stage.
        inflate: per stage, 1 to give its blocks a temporal (3, 1, 1) first convolution.
        spatial_strides, temporal_strides: per stage, applied in its first block.
        dropout: dropout before the classifier.
    """

    def __init__(
        self,
        layout: Layout,
        num_classes: int,
        *,
        in_channels: int | None = None,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (4, 6, 3),
        inflate: Sequence[int] = (0, 1, 1),
        spatial_strides: Sequence[int] = (2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 2),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", layout.num_joints if in_channels is None else in_channels)
        base_channels = positive_int("base_channels", base_channels)
        stage_blocks = int_tuple("stage_blocks", stage_blocks)
        stages = len(stage_blocks)
        inflate = int_tuple("inflate", inflate, stages, minimum=0)
        if any(i not in (0, 1) for i in inflate):
            raise ValueError(f"inflate must hold 0 or 1 per stage, got {inflate!r}")
        spatial_strides = int_tuple("spatial_strides", spatial_strides, stages)
        temporal_strides = int_tuple("temporal_strides", temporal_strides, stages)

        self.conv1 = ConvBN(self.in_channels, base_channels, (1, 7, 7))
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=1, padding=(0, 1, 1))
        self.stages: list[str] = []
        channels = base_channels
        for i, blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            stride = (temporal_strides[i], spatial_strides[i])
            layer = [Bottleneck3d(channels, planes, stride, inflate[i] == 1)]
            layer += [Bottleneck3d(planes * EXPANSION, planes, (1, 1), inflate[i] == 1) for _ in range(blocks - 1)]
            channels = planes * EXPANSION
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            self.stages.append(f"layer{i + 1}")
        self.feature_dim = channels
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.head = ClassifierHead(channels, positive_int("num_classes", num_classes), dropout, init_std=0.01)
        self._init_weights()

    def _init_weights(self) -> None:
        # PYSKL's: He (fan-out, normal) convolutions, unit batch norms, and the last batch norm of each
        # residual branch zeroed so every block starts as the identity.
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, Bottleneck3d):
                nn.init.zeros_(m.conv3.bn.weight)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's output ``[B, D, T', H', W']`` (before pooling)."""
        check_input(x, (None, self.in_channels, None, None, None), "heatmap model")
        x = self.maxpool(self.conv1(x))
        for name in self.stages:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.pool(self.feature_map(x)).flatten(1)
        return self.head(features), features
