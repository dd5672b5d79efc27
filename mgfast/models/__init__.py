"""The three branches' networks, built by name: ``build_model(modality, layout=..., num_classes=..., **cfg)``.

Every model maps a batch to ``(logits [B, C], features [B, D])``, where the features are the pooled
representation the classifier reads (used by the OSE loss and for inspection), and has ``feature_dim``
(= D).

=========  =================================  ==========================================================
modality   input                              network (cfg keys)
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

import inspect

from torch import nn

from mgfast.layout import Layout
from mgfast.models.heatmap import SlowOnly
from mgfast.models.joint import DSTANet
from mgfast.models.rgb import build_rgb_model

__all__ = ["MODALITIES", "build_model", "DSTANet", "SlowOnly", "build_rgb_model"]

MODALITIES = ("joint", "heatmap", "rgb")
"""The branches :func:`build_model` knows."""


def _options(builder: object) -> list[str]:
    """Keyword-only parameters of a builder: the cfg keys it accepts."""
    return [p.name for p in inspect.signature(builder).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def build_model(modality: str, *, layout: Layout, num_classes: int, **cfg: object) -> nn.Module:
    """The network for ``modality`` sized from ``layout`` (joints, limbs) and ``num_classes``.

    ``cfg`` holds the network's options (see the module docstring); an unknown key raises ``TypeError``
    listing the accepted ones.
    """
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a mgfast.layout.Layout, got {type(layout).__name__}")
    if modality == "joint":
        builder, args = DSTANet, (layout, num_classes)
    elif modality == "heatmap":
        builder, args = SlowOnly, (layout, num_classes)
    elif modality == "rgb":
        builder, args = build_rgb_model, (num_classes,)
    else:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    allowed = _options(builder)
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise TypeError(f"{modality} model: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}")
    return builder(*args, **cfg)
