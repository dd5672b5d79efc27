"""`mgfast show`: the panels hold what the manifest, the source video and an independent heatmap rendering say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mgfast.cli.main import app
from mgfast.extract import extract
from mgfast.io.dataset import Dataset
from mgfast.show import (GIF_SIZE, PNG_SIZE, SALIENCY_COLOUR, clip_view, crop_coordinates, find_clip,
                         heatmap_input, show_clip)
from mgfast.synth import synthesize
from reference import crop_resize, render_heatmaps

runner = CliRunner()
CLIP = "0001_2"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("show")
    synthesize(root / "src", videos=2, subjects=2, frames_per_video=60, width=128, height=96, classes=3,
               segments_per_video=2, min_segment=10, max_segment=16, progress=False)
    extract(root / "src", root / "ds", crop_size=32, crop_format="npy", device="cpu", progress=False)
    return root / "ds"


def source_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_heatmap_panel_is_an_independent_rendering_of_the_keypoints(dataset):
    data = Dataset(dataset)
    view = clip_view(data, CLIP, heatmap_input(data, preset="tiny"))  # tiny: the saliency box, sigma 1.2, 36 px
    clip, size = find_clip(data, CLIP), 36
    kp = data.keypoints(clip)
    assert view.indices.shape == (12,) and (np.diff(view.indices) >= 0).all()
    assert 0 <= view.indices.min() and view.indices.max() < len(kp)
    sampled = kp[view.indices]
    x0, y0, x1, y1 = clip.box
    xy = (sampled[..., :2] - np.array([x0, y0], np.float32)) * np.array([size / (x1 - x0), size / (y1 - y0)], np.float32)
    expected = render_heatmaps(xy[None, None], sampled[None, None, ..., 2], (size, size), sigma=1.2)[0].sum(0)
    assert view.volume.shape == (12, size, size) and view.channels == 68
    np.testing.assert_allclose(view.volume, expected, atol=1e-5)
    assert view.volume.max() > 0.5


def test_the_frame_is_the_clips_source_frame_with_the_manifests_box(dataset):
    data = Dataset(dataset)
    clip = find_clip(data, CLIP)
    view = clip_view(data, CLIP, heatmap_input(data, preset="tiny"))
    assert view.notes == ()
    frames = source_frames(dataset.parent / "src" / clip.video / f"{clip.video}.mp4")
    x0, y0, x1, y1 = (int(round(v)) for v in clip.box)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, clip.width - 1), min(y1, clip.height - 1)
    for t in (0, len(view.indices) // 2, len(view.indices) - 1):
        shown, source = view.frames[t], frames[clip.start + int(view.indices[t])]
        assert shown.shape == (clip.height, clip.width, 3)
        # The box's edges, two pixels wide, where the manifest puts them (clipped to the frame) ...
        rows = slice(y0 + 2, y1 - 1)
        for edge in (shown[rows, x0], shown[rows, x1], shown[y0, x0 + 2:x1 - 1], shown[y1, x0 + 2:x1 - 1]):
            assert (edge == SALIENCY_COLOUR).all()
        # ... and everything away from them is the source frame itself.
        away = np.ones(shown.shape[:2], bool)
        for x in (x0, x1):
            away[:, max(x - 2, 0):x + 3] = False
        for y in (y0, y1):
            away[max(y - 2, 0):y + 3] = False
        assert np.array_equal(shown[away], source[away])


def test_the_skeleton_lands_where_crop_resize_puts_a_point():
    """A bright spot at a keypoint, cropped by the reference crop_resize, peaks at crop_coordinates."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        box = (rng.uniform(5, 30), rng.uniform(5, 30), rng.uniform(80, 120), rng.uniform(60, 90))
        point = np.array([rng.uniform(box[0] + 10, box[2] - 10), rng.uniform(box[1] + 10, box[3] - 10)])
        yy, xx = np.mgrid[0:100, 0:130]
        spot = np.exp(-((xx - point[0]) ** 2 + (yy - point[1]) ** 2) / (2 * 3.0 ** 2))
        image = np.repeat((255 * spot)[None, ..., None], 3, -1)
        crop = crop_resize(image, np.array([box]), (48, 64))[0, 0]  # [h=48, w=64]
        weights = np.clip(crop - 0.2 * crop.max(), 0, None)
        cy, cx = (np.indices(crop.shape) * weights).sum((1, 2)) / weights.sum()
        got = crop_coordinates(point[None], box, (64, 48))[0]
        scale = np.array([64 / (box[2] - box[0]), 48 / (box[3] - box[1])])
        assert np.allclose(got, (cx, cy), atol=0.15 * scale.max()), (got, (cx, cy))


def test_png_and_gif_are_images_of_the_stated_size(dataset, tmp_path):
    png, view = show_clip(dataset, CLIP, tmp_path / "clip.png", preset="tiny")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == PNG_SIZE
    gif, _ = show_clip(dataset, CLIP, tmp_path / "clip.gif", preset="tiny")
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.size == GIF_SIZE and image.n_frames == len(view.indices)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif", "clip.png"]  # no temporary files left


def test_a_missing_source_video_is_said_and_the_rest_shown(dataset, tmp_path):
    data_copy = tmp_path / "ds"
    shutil.copytree(dataset, data_copy)
    data = Dataset(data_copy)
    meta = data.meta
    meta["params"]["source"] = str(tmp_path / "gone")
    (data_copy / "meta.json").write_text(json.dumps(meta))
    (data_copy / find_clip(data, CLIP).crop).unlink()
    result = runner.invoke(app, ["show", str(data_copy), CLIP, "--out", str(tmp_path / "c.png"), "--preset", "tiny"])
    assert result.exit_code == 0, result.output
    assert "note: source video not found" in result.output and "gone" in result.output
    assert "note: crop clip unreadable" in result.output
    view = clip_view(Dataset(data_copy), CLIP, heatmap_input(data, preset="tiny"))
    assert len(view.notes) == 2 and view.crop_size is None and view.volume.max() > 0
    for panel in (view.frames[0], view.crops[0]):
        grey = (panel == 96).all(-1)
        assert 0.5 < grey.mean() < 1  # a grey frame with the keypoints (and the boxes) drawn on it


def test_an_unknown_clip_lists_close_ids(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"no clip '0001_9'; close ids: 0001_[12], 0001_[12], "):
        find_clip(Dataset(dataset), "0001_9")
    result = runner.invoke(app, ["show", str(dataset), "001_2", "--out", str(tmp_path / "c.png")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = result.output.strip()
    assert line.startswith("error: ") and "0001_2" in line and len(line.splitlines()) == 1
    result = runner.invoke(app, ["show", str(dataset), CLIP, "--out", str(tmp_path / "c.jpg")])
    assert result.exit_code == 2 and "give a file ending in .png" in result.output
    result = runner.invoke(app, ["show", str(tmp_path), CLIP, "--out", str(tmp_path / "c.png")])
    assert result.exit_code == 2 and "is not an mgfast dataset" in result.output
