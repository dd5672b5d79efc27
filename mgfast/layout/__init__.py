"""Keypoint layouts: joint names, limbs, left/right flip pairs and the joints that saliency emphasises.

Every op and model takes its joint count, limbs and flip pairs from a :class:`Layout` (:mod:`.base`).
mgfast's own layout is :data:`MG68` (:mod:`.mg68`; 68 points: OpenPose BODY_25, both hands, the chin); users
can define their own, and :func:`resolve_layout` (:mod:`.registry`) picks the layout for keypoint data.
:func:`to_mg68` (:mod:`.converters`) converts OpenPose-137, COCO-WholeBody-133 and MediaPipe Holistic
keypoints into mg68; :data:`MG68_REST_POSE` (:mod:`.rest_pose`) is a canonical pose and
:func:`layout_figure` (:mod:`.drawing`) draws a layout as a matplotlib figure
(:func:`mgfast.io.figures.draw_layout` writes it as a PNG).

This is the bottom layer of mgfast: it imports nothing from mgfast outside this package.
"""

from mgfast.layout.base import Layout, Pair, limb_flip_index
from mgfast.layout.converters import MG68_SOURCES, mg68_sources, to_mg68
from mgfast.layout.drawing import layout_figure
from mgfast.layout.mg68 import MG68, MG68_CHIN, MG68_LEFT_HAND, MG68_RIGHT_HAND
from mgfast.layout.registry import LAYOUTS, resolve_layout
from mgfast.layout.rest_pose import MG68_REST_POSE

__all__ = [
    "LAYOUTS",
    "MG68",
    "MG68_CHIN",
    "MG68_LEFT_HAND",
    "MG68_REST_POSE",
    "MG68_RIGHT_HAND",
    "MG68_SOURCES",
    "Layout",
    "Pair",
    "layout_figure",
    "limb_flip_index",
    "mg68_sources",
    "resolve_layout",
    "to_mg68",
]
