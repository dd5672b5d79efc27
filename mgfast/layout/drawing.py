"""Pictures of a layout: joints at given positions, limbs, joint indices, magnified panels for crowded regions.

The picture is a matplotlib :class:`~matplotlib.figure.Figure`; writing it to a file is the caller's job
(:func:`mgfast.io.figures.draw_layout` writes a PNG atomically).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from mgfast.layout.base import Layout

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _side(name: str) -> str:
    """The side of a joint from its name's ``L``/``R`` prefix (``LWrist``: left); other names are "centre"."""
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():
        return "left" if name[0] == "L" else "right"
    return "centre"


_SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", "centre": "tab:gray"}


def layout_figure(
    layout: Layout,
    positions: np.ndarray,
    *,
    insets: Mapping[str, tuple[float, float, float, float]] | None = None,
    title: str | None = None,
) -> Figure:
    """Draws ``layout`` at ``positions`` ``[V, 2]`` (x, y; y downwards) with limbs and joint indices.

    Joints and limbs are coloured by side (names starting ``L``/``R``: the subject's left in blue, right in red).
    Each entry ``title: (x0, y0, x1, y1)`` of ``insets`` gets a magnified panel of its own, for crowded regions
    such as the hands. Raises ``ValueError`` for positions of the wrong shape or non-finite positions.
    """
    from matplotlib.figure import Figure  # a bare Figure renders with Agg, whatever pyplot's backend is
    from matplotlib.patches import Rectangle

    titles, boxes = list((insets or {}).keys()), list((insets or {}).values())
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (layout.num_joints, 2):
        raise ValueError(f"positions must have shape [{layout.num_joints}, 2] for layout {layout.name!r}, "
                         f"got {list(positions.shape)}")
    if not np.isfinite(positions).all():
        raise ValueError("positions must be finite")

    # Joints at one spot (a body wrist and its hand's wrist) share one label, "4,46".
    labels: dict[tuple[float, float], list[int]] = {}
    for j, (x, y) in enumerate(positions):
        labels.setdefault((round(x, 9), round(y, 9)), []).append(j)

    def inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    lo, hi = positions.min(axis=0), positions.max(axis=0)
    margin = 0.05 * max(float((hi - lo).max()), 1e-6)
    whole = (lo[0] - margin, lo[1] - margin, hi[0] + margin, hi[1] + margin)
    fig = Figure(figsize=(7 + 4 * len(boxes), 8), dpi=110)
    axes = fig.subplots(1, 1 + len(boxes), squeeze=False, width_ratios=[7] + [4] * len(boxes))[0]
    for k, (ax, box) in enumerate(zip(axes, [whole, *boxes])):
        for a, b in layout.limbs:
            side = _side(layout.names[a]) if _side(layout.names[a]) == _side(layout.names[b]) else "centre"
            ax.plot(positions[[a, b], 0], positions[[a, b], 1], color=_SIDE_COLOURS[side], linewidth=1.5, alpha=0.7,
                    zorder=1)
        ax.scatter(positions[:, 0], positions[:, 1], s=14, zorder=2,
                   c=[_SIDE_COLOURS[_side(name)] for name in layout.names])
        for (x, y), joints in labels.items():
            # The main panel leaves the joints of magnified regions to their own panels.
            if inside(x, y, box) and not (k == 0 and any(inside(x, y, inset) for inset in boxes)):
                ax.annotate(",".join(map(str, joints)), (x, y), xytext=(3, 3), textcoords="offset points",
                            fontsize=7 if k == 0 else 9, zorder=3)
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[3], box[1])  # y downwards, as in images
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if k > 0:
            axes[0].add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, linestyle="--",
                                        color="black", linewidth=0.8))
            ax.set_title(titles[k - 1], fontsize=9)
    if title is None:
        title = (f"{layout.name}: {layout.num_joints} joints, {len(layout.limbs)} limbs "
                 "(blue: subject's left, red: right)")
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
