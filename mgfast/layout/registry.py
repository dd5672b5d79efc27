"""Layouts known by name, and the rule that picks the layout for keypoint data."""

from __future__ import annotations

from mgfast.layout.base import Layout
from mgfast.layout.mg68 import MG68

LAYOUTS = {MG68.name: MG68}
"""Layouts known by name (datasets record the name of theirs)."""


def resolve_layout(layout: Layout | None, num_joints: int, needed_for: str) -> Layout:
    """The given layout, or :data:`MG68` for 68-joint data; checked against the joint count.

    ``needed_for`` names what asked for the layout, for the error message.
    """
    if layout is None:
        if num_joints != MG68.num_joints:
            raise ValueError(f"{needed_for} needs a layout: pass layout= (a mgfast.layout.Layout) for {num_joints}-joint keypoints")
        return MG68
    if not isinstance(layout, Layout):
        raise TypeError(f"layout must be a mgfast.layout.Layout, got {type(layout).__name__}")
    if layout.num_joints != num_joints:
        raise ValueError(f"layout {layout.name!r} has {layout.num_joints} joints but the data has {num_joints}")
    return layout
