"""Draws docs/mg68.png: the mg68 layout at its rest pose, with a magnified panel per hand.

Run from the repository root: ``python docs/draw_mg68.py``.
"""

from __future__ import annotations

from pathlib import Path

from mgfast.io.figures import draw_layout
from mgfast.layout import MG68, MG68_LEFT_HAND, MG68_REST_POSE, MG68_RIGHT_HAND


def hand_box(start: int, margin: float = 0.02) -> tuple[float, float, float, float]:
    """A box around one hand's 21 points of the rest pose."""
    hand = MG68_REST_POSE[start:start + 21]
    (x0, y0), (x1, y1) = hand.min(axis=0), hand.max(axis=0)
    return (float(x0) - margin, float(y0) - margin, float(x1) + margin, float(y1) + margin)


if __name__ == "__main__":
    path = draw_layout(MG68, MG68_REST_POSE, Path(__file__).with_name("mg68.png"),
                       insets={"right hand (46-66)": hand_box(MG68_RIGHT_HAND),
                               "left hand (25-45)": hand_box(MG68_LEFT_HAND)})
    print(path)
