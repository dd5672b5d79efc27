"""Data pipelines for the three branches: splits, temporal sampling, keypoint-space augmentation, loaders.

Data-loader workers do the cheap, per-clip work (reading keypoints or crop clips, sampling frames,
augmenting coordinates and boxes); the costly tensor work (rendering heatmap volumes, crop-resizing frames)
runs on the training device in :meth:`ClipInput.train_batch` / :meth:`ClipInput.eval_views`.
"""

from __future__ import annotations

from mgfast.data.heatmap import HEATMAP_MODES, HeatmapInput
from mgfast.data.inputs import BOXES, ClipInput
from mgfast.data.joint import JointInput
from mgfast.data.loader import ClipDataset, collate, make_loader, set_epoch
from mgfast.data.rgb import RGBInput
from mgfast.data.sampling import uniform_sample_indices
from mgfast.data.splits import Sample, Splits, carve_validation, read_pseudo_labels, resolve_splits

__all__ = [
    "HEATMAP_MODES", "BOXES", "ClipInput", "HeatmapInput", "JointInput", "RGBInput",
    "ClipDataset", "collate", "make_loader", "set_epoch", "uniform_sample_indices", "Sample", "Splits",
    "carve_validation", "read_pseudo_labels", "resolve_splits",
]

