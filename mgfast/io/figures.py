"""Figures written as PNG files, atomically like every other file mgfast writes (:func:`save_figure`), and
a keypoint layout's picture (:func:`draw_layout`; the drawing itself lives with the layouts,
:func:`mgfast.layout.layout_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mgfast.io.atomic import atomic_path
from mgfast.layout import Layout, layout_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def save_figure(figure: Figure, path: str | Path, *, dpi: float | None = None) -> Path:
    """Writes ``figure`` to ``path`` as PNG (temp file, then rename); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path


def draw_layout(
    layout: Layout,
    positions: np.ndarray,
    path: str | Path,
    *,
    insets: Mapping[str, tuple[float, float, float, float]] | None = None,
    title: str | None = None,
) -> Path:
    """Draws ``layout`` at ``positions`` ``[V, 2]`` (x, y; y downwards) as a PNG with limbs and joint indices.

    The picture is :func:`mgfast.layout.layout_figure`'s (same ``insets`` and ``title``). The PNG is written
    atomically; returns its path.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: draw_layout writes PNG; give a path ending in .png")
    return save_figure(layout_figure(layout, positions, insets=insets, title=title), path)
