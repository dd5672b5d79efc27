"""A video's recognition at a glance: per-class probabilities over time, the decoded segments and the truth.

:func:`draw_timeline` writes one PNG: a heat strip (one row per class, time in seconds on the x axis), below
it the decoded segments as coloured bars and, when given, the true segments as a second bar row in the same
colours (one colour per class, shown by a swatch beside the class's row; the decoded segments are also
outlined on their class's row). Long videos are shown at most :data:`MAX_COLUMNS` time bins wide, each bin
the *maximum* of its frames, so a one-second gesture in an hour-long video still shows; bars are drawn with
an outline, so they stay at least a pixel wide. Drawn on matplotlib's Agg canvas (no pyplot, no display),
written atomically (:func:`mgfast.io.figures.save_figure`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator
from matplotlib.transforms import blended_transform_factory

from mgfast.io.figures import save_figure
from mgfast.recognize.decode import Segment, check_probs

MAX_COLUMNS = 1600
"""The most time bins the heat strip shows (about one per pixel of the figure's width)."""
NAME_CHARS = 32  # class names are cut to this many characters on the axis
ROW_INCHES = 0.17  # height of one class row of the heat strip
MAX_CLASS_LABELS = 40  # above this, only every k-th class row is named


def pooled_columns(probs: np.ndarray, columns: int = MAX_COLUMNS) -> tuple[np.ndarray, int]:
    """``probs`` ``[T, C]`` as at most ``columns`` time bins (the max over each bin's frames) and the bin size."""
    frames = len(probs)
    size = max(1, math.ceil(frames / columns))
    if size == 1:
        return probs, 1
    padded = np.full((math.ceil(frames / size) * size, probs.shape[1]), -np.inf)
    padded[:frames] = probs
    return padded.reshape(-1, size, probs.shape[1]).max(axis=1), size


def clock(seconds: float, _position: object = None) -> str:
    """``m:ss`` or ``h:mm:ss`` for an axis tick."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _colour(label: int) -> tuple[float, float, float, float]:
    """One colour per class: the saturated half of tab20 first, then its light half, then tab20b."""
    from matplotlib import colormaps

    label %= 40
    if label < 20:
        return colormaps["tab20"]((2 * label) % 20 + label // 10)
    return colormaps["tab20b"](label - 20)


def _time_axis(ax, seconds: float) -> None:
    """Ticks at round seconds for short videos, at round minutes (m:ss, h:mm:ss) for long ones."""
    if seconds <= 120:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=16, steps=[1, 2, 5, 10]))
        ax.set_xlabel("time (s)", fontsize=8)
        return
    step = next((s for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if seconds / s <= 16), 7200)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(clock))
    ax.set_xlabel("time (h:mm:ss)" if seconds >= 3600 else "time (m:ss)", fontsize=8)


def _bars(ax, segments: Sequence[Segment], fps: float, name: str, class_names: Sequence[str], seconds: float) -> None:
    ax.set_facecolor("#f4f4f4")
    for label in sorted({s.label for s in segments}):  # one collection per class: fast for thousands of bars
        colour = _colour(label)
        spans = [(s.start / fps, (s.end - s.start) / fps) for s in segments if s.label == label]
        ax.broken_barh(spans, (0.1, 0.8), facecolors=colour, edgecolors=colour, linewidth=0.6)
    for s in segments:
        if (s.end - s.start) / fps > 0.06 * seconds:  # room for the class name inside the bar
            ax.text((s.start + s.end) / 2 / fps, 0.5, class_names[s.label][:NAME_CHARS], ha="center", va="center",
                    fontsize=6.5, clip_on=True)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.5])
    ax.set_yticklabels([f"{name} ({len(segments)})"], fontsize=8)
    ax.tick_params(axis="y", length=0)


def draw_timeline(probs: np.ndarray, segments: list[Segment], class_names: Sequence[str], fps: float, out: Path,
                  truth: list[Segment] | None = None) -> Path:
    """Writes the timeline PNG of one video to ``out`` (module docstring); returns the path.

    ``probs`` ``[T, C]`` per-frame class probabilities, ``segments`` (and ``truth``) half-open frame ranges
    with class indices into ``class_names``, ``fps`` the video's frame rate.
    """
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: draw_timeline writes PNG; give a path ending in .png")
    probs = check_probs(probs, None)
    frames, classes = probs.shape
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names for {classes} probability columns; give one name per class")
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    for what, segs in (("decoded", segments), ("true", truth or [])):
        bad = [s for s in segs if not (0 <= s.start < s.end <= frames and 0 <= s.label < classes)]
        if bad:
            raise ValueError(f"{what} segment [{bad[0].start}, {bad[0].end}) class {bad[0].label} lies outside the "
                             f"{frames} frames or {classes} classes of the probabilities")
    seconds = max(frames, 1) / fps
    heat, bin_size = pooled_columns(probs) if frames else (np.zeros((1, classes)), 1)

    rows = 1 + (truth is not None)
    heat_inches = max(1.2, ROW_INCHES * classes)
    figure = Figure(figsize=(14, heat_inches + 0.42 * rows + 1.0), dpi=110)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(1 + rows, 2, height_ratios=[heat_inches] + [0.42] * rows, width_ratios=[60, 1],
                               hspace=0.12, wspace=0.015, left=0.17, right=0.95, top=1 - 0.45 / figure.get_figheight(),
                               bottom=0.5 / figure.get_figheight())
    ax = figure.add_subplot(grid[0, 0])
    image = ax.imshow(heat.T, aspect="auto", interpolation="nearest", cmap="magma", vmin=0.0, vmax=1.0,
                      extent=(0.0, seconds, classes - 0.5, -0.5))
    step = max(1, math.ceil(classes / MAX_CLASS_LABELS))
    ax.set_yticks(range(0, classes, step))
    ax.set_yticklabels([class_names[c][:NAME_CHARS] for c in range(0, classes, step)], fontsize=6.5)
    ax.tick_params(labelbottom=False)
    key = blended_transform_factory(ax.transAxes, ax.transData)  # a colour swatch left of each class row
    for c in range(classes):
        ax.add_patch(Rectangle((-0.012, c - 0.4), 0.009, 0.8, transform=key, clip_on=False, color=_colour(c)))
    ax.tick_params(axis="y", pad=10)
    for s in segments:  # the decoded segments outlined on their class's row
        ax.add_patch(Rectangle((s.start / fps, s.label - 0.5), (s.end - s.start) / fps, 1.0, fill=False,
                               edgecolor="#36d6ff", linewidth=0.7))
    shown = "every frame" if bin_size == 1 else f"max over {bin_size} frames ({bin_size / fps:.1f} s) per column"
    ax.set_title(f"class probabilities ({frames} frames at {fps:g} fps; {shown})", fontsize=9, loc="left")
    bar = figure.add_subplot(grid[0, 1])
    figure.colorbar(image, cax=bar).ax.tick_params(labelsize=7)

    bar_axes = [figure.add_subplot(grid[1 + r, 0], sharex=ax) for r in range(rows)]
    _bars(bar_axes[0], segments, fps, "decoded", class_names, seconds)
    if truth is not None:
        _bars(bar_axes[1], truth, fps, "truth", class_names, seconds)
    for axis in bar_axes[:-1]:
        axis.tick_params(labelbottom=False)
    last = bar_axes[-1]
    last.set_xlim(0.0, seconds)
    _time_axis(last, seconds)
    last.tick_params(axis="x", labelsize=7)
    return save_figure(figure, out)
