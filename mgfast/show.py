"""`mgfast show`: one clip as the heatmap branch sees it, for checking a dataset by eye.

Three panels, all at the frames of the branch's test-time sampling (``clip_len`` frames spread over the
clip, as `mgfast predict` samples them):

1. the source video's frame with the clip's saliency box (green) and the box the heatmap is cropped to
   (yellow: PoseCompact's, or the saliency box with ``box = "saliency"``), in frame pixels;
2. the saliency crop clip's frame with the mg68 skeleton drawn on it (subject's left blue, right red);
3. the heatmap volume ``[C, T, H, W]`` the network takes, summed over channels: a strip of frames over time
   in the PNG, the current frame in the GIF.

Images are arrays ``[height, width, 3]`` and sizes are written ``w x h`` throughout, as in the titles, so a
transposed heatmap or a box in the wrong place shows at once. A missing source video or crop clip is drawn as
a grey frame with the keypoints, and the title says what is missing.
"""

from __future__ import annotations

import dataclasses
import difflib
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from mgfast.branches import branch
from mgfast.data import HeatmapInput, uniform_sample_indices
from mgfast.data import pose_aug
from mgfast.io.atomic import atomic_path
from mgfast.io.dataset import Clip, Dataset
from mgfast.io.figures import save_figure
from mgfast.io.sources import discover
from mgfast.io.video import VideoError, VideoReader, read_clip
from mgfast.layout import Layout
from mgfast.layout.drawing import _SIDE_COLOURS, _side
from mgfast.train.config import TrainConfig, make_config

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SALIENCY_COLOUR = (0, 255, 0)
HEATMAP_BOX_COLOUR = (255, 220, 0)
BLANK = 96
"""Grey level of a frame that is missing (no source video, no crop clip)."""
STRIP_FRAMES = 8
"""Heatmap frames the PNG's strip shows at most (evenly spread over the window)."""
CROP_DISPLAY = 256
"""Crops smaller than this many pixels are magnified to about it before the skeleton is drawn."""


@dataclass(frozen=True)
class ClipView:
    """What :func:`clip_view` gathers for one clip; every array is indexed by the window's frames ``[T]``."""

    clip: Clip
    indices: np.ndarray
    """int64 ``[T]``: the sampled frames, 0-based within the clip (source frame = ``clip.start + index``)."""
    frames: np.ndarray
    """uint8 ``[T, height, width, 3]``: source frames with the boxes drawn (grey when the video is missing)."""
    crops: np.ndarray
    """uint8 ``[T, k h, k w, 3]``: crop frames, magnified k times (nearest), with the skeleton drawn on them
    (grey when the crop clip is missing)."""
    crop_size: tuple[int, int] | None
    """``(w, h)`` of the crop clip as stored (None: missing, drawn as a grey square)."""
    volume: np.ndarray
    """float32 ``[T, S, S]``: the network's heatmap volume summed over channels."""
    channels: int
    heatmap_box: tuple[float, float, float, float] | None
    """The box the heatmap is cropped to, in frame pixels (None: the whole frame)."""
    box_kind: str
    notes: tuple[str, ...]
    """What could not be shown, and why."""


def find_clip(dataset: Dataset, clip_id: str) -> Clip:
    """The clip ``clip_id`` of ``dataset``; an unknown id raises ValueError listing the closest ids."""
    for clip in dataset.clips:
        if clip.clip_id == clip_id:
            return clip
    ids = [c.clip_id for c in dataset.clips]
    close = difflib.get_close_matches(clip_id, ids, n=5, cutoff=0.3) or ids[:5]
    raise ValueError(f"{dataset.root / 'manifest.csv'} has no clip {clip_id!r}; close ids: {', '.join(close)} "
                     f"({len(ids)} clips in all)")


def heatmap_input(dataset: Dataset, *, preset: str = "default", run_config: dict | None = None) -> HeatmapInput:
    """The heatmap branch's input pipeline of a run (its ``run.json`` config) or of a preset."""
    if run_config is not None:
        config = TrainConfig.from_dict(run_config, "run.json")
        if config.modality != "heatmap":
            raise ValueError(f"--run is a {config.modality} run; `mgfast show` takes a heatmap run's settings")
    else:
        config = make_config(dataset.root, "heatmap", "-", preset=preset)
    spec = branch("heatmap")
    return spec.make_input(dataset.layout, dataclasses.asdict(config), config.input)


def source_video(dataset: Dataset, clip: Clip) -> Path | str:
    """The clip's source video, found through the dataset's ``source`` folder; else why not (a str)."""
    source = dataset.meta.get("params", {}).get("source")
    if not source:
        return f"{dataset.root / 'meta.json'} names no source folder"
    try:
        videos = {s.video_id: s.video_path for s in discover(source)}
    except (OSError, ValueError) as error:
        return f"the source folder cannot be read ({error})"
    if clip.video not in videos:
        return f"video {clip.video!r} is not in the source folder {source}"
    return videos[clip.video]


def crop_coordinates(keypoints: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """Frame-pixel ``x, y`` of ``keypoints [..., 2+]`` in the crop of ``box`` resized to ``size = (w, h)``
    (crop_resize's roi_align(aligned=True) mapping: pixel centres at integers)."""
    x0, y0, x1, y1 = box
    xy = np.asarray(keypoints[..., :2], np.float64)
    scale = np.array([size[0] / (x1 - x0), size[1] / (y1 - y0)])
    return (xy - np.array([x0, y0]) + 0.5) * scale - 0.5


def draw_box(image: np.ndarray, box: tuple[float, float, float, float], colour: tuple[int, int, int],
             thickness: int = 1) -> None:
    """Draws ``box`` (x0, y0, x1, y1 in pixels of ``image``) in place, its edges on the rounded coordinates."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x0, y0), (x1, y1), colour, thickness)


def draw_skeleton(image: np.ndarray, xy: np.ndarray, visible: np.ndarray, layout: Layout) -> None:
    """Draws the limbs and joints of ``xy [V, 2]`` (pixels of ``image``) where ``visible [V]``, in place."""
    from matplotlib.colors import to_rgb

    colour = {side: tuple(int(255 * c) for c in to_rgb(name)) for side, name in _SIDE_COLOURS.items()}
    scale = 16  # cv2 draws at sub-pixel positions with this many fractional steps (shift = 4 bits)
    points = [(int(round(x * scale)), int(round(y * scale))) for x, y in xy]
    for a, b in layout.limbs:
        if visible[a] and visible[b]:
            side = _side(layout.names[a]) if _side(layout.names[a]) == _side(layout.names[b]) else "centre"
            cv2.line(image, points[a], points[b], colour[side], 1, cv2.LINE_AA, shift=4)
    for j in np.flatnonzero(visible):
        cv2.circle(image, points[j], scale, colour[_side(layout.names[j])], -1, cv2.LINE_AA, shift=4)


def _heatmap_box(clip: Clip, keypoints: np.ndarray, indices: np.ndarray,
                 clip_input: HeatmapInput) -> tuple[tuple[float, float, float, float] | None, str]:
    """The box the heatmap pipeline crops the window to (as :meth:`HeatmapInput.load` chooses it) and its name."""
    if clip_input.box == "saliency":
        return clip.box, "saliency box"
    box = pose_aug.compact_box(pose_aug.mark_missing(keypoints)[indices][None], padding=clip_input.compact_padding,
                               threshold=clip_input.compact_threshold, hw_ratio=1.0)
    return box, "PoseCompact box" if box is not None else "whole frame"


def _source_frames(dataset: Dataset, clip: Clip, indices: np.ndarray, video: Path | None,
                   notes: list[str]) -> np.ndarray | None:
    """The source video's frames at ``indices``, or None with the reason added to ``notes``."""
    path = video if video is not None else source_video(dataset, clip)
    if isinstance(path, str):
        notes.append(f"source video not found: {path}")
        return None
    try:
        with VideoReader(path) as reader:
            frames = reader.read(clip.start + int(indices.min()), clip.start + int(indices.max()))
    except (OSError, VideoError, ValueError) as error:
        notes.append(f"source video unreadable: {error}")
        return None
    return np.ascontiguousarray(frames[indices - indices.min()])


def _crop_frames(dataset: Dataset, clip: Clip, indices: np.ndarray,
                 notes: list[str]) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The crop clip's frames at ``indices`` magnified to about :data:`CROP_DISPLAY` pixels (thin skeleton
    lines on a small crop), and the stored ``(w, h)``; a grey square and None when the clip is unreadable."""
    try:
        crops = read_clip(dataset.crop_path(clip))[indices]
    except (OSError, VideoError, ValueError, IndexError) as error:
        notes.append(f"crop clip unreadable: {error}")
        return np.full((len(indices), CROP_DISPLAY, CROP_DISPLAY, 3), BLANK, np.uint8), None
    size = (crops.shape[2], crops.shape[1])
    k = max(1, -(-CROP_DISPLAY // max(size)))
    return np.ascontiguousarray(crops.repeat(k, 1).repeat(k, 2)), size


def clip_view(dataset: Dataset, clip_id: str, clip_input: HeatmapInput, *, video: Path | None = None) -> ClipView:
    """Gathers the three panels' contents for ``clip_id`` (``video`` overrides the source video's path)."""
    clip = find_clip(dataset, clip_id)
    keypoints = dataset.keypoints(clip)
    indices = uniform_sample_indices(len(keypoints), clip_input.clip_len, num_clips=1, train=False)[0]
    views = clip_input.load(dataset, clip, train=False, num_clips=1, rng=None)["keypoints"]
    volume = clip_input.render(torch.from_numpy(views), clip_input.test_size, flip=False, dtype=torch.float32)
    heatmap_box, box_kind = _heatmap_box(clip, keypoints, indices, clip_input)
    sampled = keypoints[indices]
    visible = (sampled[..., 2] > 0) & np.isfinite(sampled).all(-1)
    notes: list[str] = []

    frames = _source_frames(dataset, clip, indices, video, notes)
    if frames is None:
        frames = np.full((len(indices), clip.height, clip.width, 3), BLANK, np.uint8)
        for t in range(len(indices)):  # the keypoints at least, where the frame would be
            draw_skeleton(frames[t], sampled[t, :, :2], visible[t], dataset.layout)
    for t in range(len(indices)):
        if heatmap_box is not None:
            draw_box(frames[t], heatmap_box, HEATMAP_BOX_COLOUR)
        draw_box(frames[t], clip.box, SALIENCY_COLOUR, thickness=2)

    crops, crop_size = _crop_frames(dataset, clip, indices, notes)
    # Nearest magnification keeps roi_align's pixel-centre mapping, with k times the pixels.
    in_crop = crop_coordinates(sampled, clip.box, (crops.shape[2], crops.shape[1]))
    for t in range(len(indices)):
        draw_skeleton(crops[t], in_crop[t], visible[t], dataset.layout)
    return ClipView(clip, indices, frames, crops, crop_size, volume[0].sum(0).numpy(), volume.shape[1], heatmap_box,
                    box_kind, tuple(notes))


# ---- pictures


def _titles(view: ClipView, t: int) -> tuple[str, str, str]:
    clip = view.clip
    x0, y0, x1, y1 = clip.box
    frame = (f"source frame {clip.start + int(view.indices[t])} of video {clip.video}, "
             f"{clip.width} x {clip.height} (w x h)\n"
             f"green: saliency box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}) (x, y); yellow: heatmap's {view.box_kind}")
    if view.crop_size is None:
        crop = f"no crop clip: the saliency box's keypoints, clip frame {int(view.indices[t])}"
    else:
        crop = f"crop {view.crop_size[0]} x {view.crop_size[1]} (w x h), clip frame {int(view.indices[t])}"
    crop += "\nmg68 skeleton: subject's left blue, right red"
    T, S = view.volume.shape[0], view.volume.shape[2]
    heat = (f"heatmap volume [C={view.channels}, T={T}, H={view.volume.shape[1]}, W={S}] summed over channels\n"
            f"(w x h = {S} x {view.volume.shape[1]}, y downwards as in the frames)")
    return frame, crop, heat


def _note(fig: Figure, view: ClipView) -> None:
    clip = view.clip
    label = "unlabelled" if clip.label is None else f"label {clip.label}"
    text = f"clip {clip.clip_id} ({clip.split}, {label}, frames {clip.start}..{clip.end} at {clip.fps:g} fps)"
    for note in view.notes:  # one line each, wrapped to the figure's width
        text += "\n" + "\n".join(textwrap.wrap(note, 150))
    fig.suptitle(text, fontsize=10, color="darkred" if view.notes else "black")


def _strip(view: ClipView) -> tuple[np.ndarray, list[int]]:
    """The heatmap frames of the PNG's strip side by side (1 px white gaps), and which frames they are."""
    T = view.volume.shape[0]
    shown = sorted(set(np.linspace(0, T - 1, min(T, STRIP_FRAMES)).round().astype(int).tolist()))
    peak = max(float(view.volume.max()), 1e-6)
    h, w = view.volume.shape[1:]
    strip = np.ones((h, len(shown) * (w + 1) - 1), np.float32) * peak
    for k, t in enumerate(shown):
        strip[:, k * (w + 1):k * (w + 1) + w] = view.volume[t]
    return strip, shown


PNG_SIZE = (1200, 780)
"""(w, h) of the PNG in pixels."""
GIF_SIZE = (1200, 450)


def clip_figure(view: ClipView) -> Figure:
    """The PNG's picture: frame and crop at the window's middle frame above the heatmap strip."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PNG_SIZE[0] / 100, PNG_SIZE[1] / 100), dpi=100)
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1.4])
    middle = len(view.indices) // 2
    titles = _titles(view, middle)
    for k, image in enumerate((view.frames[middle], view.crops[middle])):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(image, interpolation="nearest")
        ax.set_title(titles[k], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    strip, shown = _strip(view)
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(strip, cmap="magma", interpolation="nearest", vmin=0)
    w = view.volume.shape[2]
    ax.set_xticks([k * (w + 1) + w / 2 for k in range(len(shown))], [f"t={t}" for t in shown], fontsize=7)
    ax.set_yticks([])
    ax.set_title(titles[2].replace("\n", " ") + f"; frames {', '.join(map(str, shown))} of {len(view.indices)}",
                 fontsize=8)
    _note(fig, view)
    fig.tight_layout()
    return fig


def write_png(view: ClipView, out: Path) -> Path:
    return save_figure(clip_figure(view), out)


def write_gif(view: ClipView, out: Path) -> Path:
    """The three panels side by side, one GIF frame per sampled frame, at the clip's pace."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(GIF_SIZE[0] / 100, GIF_SIZE[1] / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    peak = max(float(view.volume.max()), 1e-6)
    images = [axes[0].imshow(view.frames[0], interpolation="nearest"),
              axes[1].imshow(view.crops[0], interpolation="nearest"),
              axes[2].imshow(view.volume[0], cmap="magma", interpolation="nearest", vmin=0, vmax=peak)]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    _note(fig, view)
    fig.tight_layout()
    pictures = []
    for t in range(len(view.indices)):
        for image, data in zip(images, (view.frames[t], view.crops[t], view.volume[t])):
            image.set_data(data)
        for ax, title in zip(axes, _titles(view, t)):
            ax.set_title(title, fontsize=7)
        canvas.draw()
        pictures.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    steps = np.diff(view.indices)
    pace = float(steps.mean()) if steps.size else 1.0
    duration = max(int(round(1000 * pace / (view.clip.fps or 30.0))), 20)
    with atomic_path(out) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0)
    return out


def show_clip(dataset: str | Path, clip_id: str, out: str | Path, *, preset: str = "default",
              run_config: dict | None = None, video: Path | None = None) -> tuple[Path, ClipView]:
    """Writes the picture of ``clip_id`` to ``out`` (``.png``, or ``.gif`` animated); returns it and the view."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".png", ".gif"):
        raise ValueError(f"--out {out}: give a file ending in .png (a picture) or .gif (animated)")
    data = Dataset(dataset)
    view = clip_view(data, clip_id, heatmap_input(data, preset=preset, run_config=run_config), video=video)
    return (write_png(view, out) if kind == ".png" else write_gif(view, out)), view
