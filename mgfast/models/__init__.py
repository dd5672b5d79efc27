"""The three branches' networks. Each maps a batch to ``(logits [B, C], features [B, D])``, where the
features are the pooled representation the classifier reads (used by the OSE loss and for inspection),
and has ``feature_dim`` (= D). :func:`mgfast.branches.build_model` builds one by branch name.

=========  =================================  ==========================================================
branch     input                              network (``[model]`` options)
=========  =================================  ==========================================================
joint      ``[B, T, V, 3]`` (x, y, score)     :class:`~mgfast.models.joint.DSTANet` (streams, dims,
                                              num_blocks, heads, temporal_strides, dropout,
                                              attention_dropout)
heatmap    ``[B, C, T, H, W]`` heatmaps       :class:`~mgfast.models.heatmap.SlowOnly` (in_channels,
                                              base_channels, stage_blocks, inflate, spatial_strides,
                                              temporal_strides, dropout)
rgb        ``[B, 3, T, H, W]`` normalised     :func:`~mgfast.models.rgb.build_rgb_model` (arch, weights,
                                              dropout, widths, blocks, stem_width)
=========  =================================  ==========================================================
"""

from __future__ import annotations

from mgfast.models.heatmap import SlowOnly
from mgfast.models.joint import DSTANet
from mgfast.models.rgb import build_rgb_model

__all__ = ["DSTANet", "SlowOnly", "build_rgb_model"]
