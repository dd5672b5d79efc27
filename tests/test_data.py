"""Data pipeline: temporal sampling, splits, keypoint-space augmentation, device-side batches, loaders."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import reference
from mgfast import branches, data
from mgfast.data import pose_aug, rgb
from mgfast.data.sampling import uniform_sample_indices
from mgfast.io.dataset import Dataset, read_manifest, write_manifest
from mgfast.layout import MG68
from tiny_dataset import make_dataset

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Dataset:
    return Dataset(make_dataset(tmp_path_factory.mktemp("ds") / "tiny", odd_crop=True))


def mirror_by_name(index: int) -> int:
    """The flip partner of a mg68 joint from its name alone: L<part> <-> R<part>, others stay."""
    name = MG68.names[index]
    if name[0] in "LR" and name[1].isupper():
        return MG68.names.index({"L": "R", "R": "L"}[name[0]] + name[1:])
    return index


NAME_FLIP = [mirror_by_name(j) for j in range(MG68.num_joints)]


# ---- temporal sampling


@pytest.mark.parametrize("frames,clip_len", [(100, 8), (48, 48 // 3), (17, 5), (60, 48), (31, 16), (16, 16)])
def test_uniform_sampling_takes_one_frame_per_segment_or_keeps_order(frames, clip_len):
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        idx = uniform_sample_indices(frames, clip_len, train=True, rng=rng)[0]
        assert idx.shape == (clip_len,) and idx.dtype == np.int64
        if frames >= 2 * clip_len:
            for k, i in enumerate(idx):
                assert k * frames // clip_len <= i < (k + 1) * frames // clip_len
        else:  # clip_len <= frames < 2 clip_len: frames in order, each step skipping at most one
            steps = np.diff(idx)
            assert idx[0] in (0, 1) and idx[-1] <= frames - 1 and set(steps.tolist()) <= {1, 2}
        seen.update(idx.tolist())
    assert seen == set(range(frames))  # every frame can be drawn


@pytest.mark.parametrize("frames", [1, 3, 7])
def test_short_clips_loop(frames):
    rng = np.random.default_rng(1)
    starts = set()
    for _ in range(50):
        idx = uniform_sample_indices(frames, 8, train=True, rng=rng)[0]
        assert np.array_equal(idx, (idx[0] + np.arange(8)) % frames)
        starts.add(int(idx[0]))
    assert starts == set(range(frames))
    test = uniform_sample_indices(frames, 8, num_clips=4, train=False)
    expected_starts = [i if frames < 4 else i * frames // 4 for i in range(4)]
    assert np.array_equal(test, (np.array(expected_starts)[:, None] + np.arange(8)) % frames)


def test_test_sampling_is_fixed_and_segments_hold():
    a = uniform_sample_indices(97, 10, num_clips=5, train=False)
    b = uniform_sample_indices(97, 10, num_clips=5, train=False, rng=np.random.default_rng(123))
    assert np.array_equal(a, b) and a.shape == (5, 10)
    bounds = np.arange(11) * 97 // 10
    assert ((a >= bounds[:-1]) & (a < bounds[1:])).all()
    assert len({tuple(row) for row in a.tolist()}) > 1  # the clips differ from each other


def test_sampling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_frames"):
        uniform_sample_indices(0, 4, train=False)
    with pytest.raises(ValueError, match="rng"):
        uniform_sample_indices(10, 4, train=True)


# ---- splits


def test_carving_is_by_subject_deterministic_and_order_free(dataset):
    train = dataset.split("train")
    a_train, a_val = data.carve_validation(train, val_fraction=0.2, split_seed=3)
    shuffled = [train[i] for i in np.random.default_rng(0).permutation(len(train))]
    b_train, b_val = data.carve_validation(shuffled, val_fraction=0.2, split_seed=3)
    ids = lambda clips: {c.clip_id for c in clips}  # noqa: E731
    assert ids(a_val) == ids(b_val) and ids(a_train) == ids(b_train)
    assert ids(a_val) | ids(a_train) == ids(train) and not ids(a_val) & ids(a_train)
    assert not {c.subject for c in a_val} & {c.subject for c in a_train}
    # 6 subjects of 4 clips, 20 %: 4.8 clips is nearest to one subject (4), not two (8).
    assert len(a_val) == 4
    choices = {frozenset(ids(data.carve_validation(train, val_fraction=0.2, split_seed=s)[1])) for s in range(10)}
    assert len(choices) > 1


def test_carving_by_video_and_fraction_zero(dataset):
    train = dataset.split("train")
    rest, val = data.carve_validation(train, val_fraction=0.5, split_by="video")
    assert not {c.video for c in val} & {c.video for c in rest}
    assert len(val) == 12
    assert data.carve_validation(train, val_fraction=0.0) == (train, [])


def test_one_subject_cannot_be_carved(dataset):
    one = [c for c in dataset.split("train") if c.subject == "s0"]
    with pytest.raises(ValueError, match="--split-by video"):
        data.carve_validation(one, val_fraction=0.2)


def test_calibration_split_is_carved_by_subject_apart_from_validation(tmp_path):
    ds = Dataset(make_dataset(tmp_path / "ds", subjects=10, clips_per_subject=3))
    plain = data.resolve_splits(ds, val_fraction=0.2)
    splits = data.resolve_splits(ds, val_fraction=0.2, calib_fraction=0.2)
    subjects = lambda clips: {c.subject for c in clips}  # noqa: E731
    # Validation is the one carved without a calibration split; calibration takes whole subjects of the rest.
    assert [c.clip_id for c in splits.val] == [c.clip_id for c in plain.val]
    assert not subjects(splits.calib) & (subjects(splits.train) | subjects(splits.val))
    assert sorted(c.clip_id for c in splits.train + splits.calib) == sorted(c.clip_id for c in plain.train)
    assert len(splits.calib) == 6 and len(splits.val) == 6  # 20 % of the 30 labelled clips: two subjects each
    again = data.resolve_splits(ds, val_fraction=0.2, calib_fraction=0.2)
    assert [c.clip_id for c in again.calib] == [c.clip_id for c in splits.calib]
    assert splits.get("calib") == splits.calib and data.resolve_splits(ds).calib == []
    others = {frozenset(c.clip_id for c in data.resolve_splits(ds, calib_fraction=0.2, split_seed=s).calib)
              for s in range(8)}
    assert len(others) > 1
    with pytest.raises(ValueError, match="calib split.*--calib-fraction 0"):
        data.resolve_splits(Dataset(make_dataset(tmp_path / "two", subjects=2)), calib_fraction=0.2)


def test_manifest_val_split_is_used(tmp_path):
    ds = Dataset(make_dataset(tmp_path / "ds", val_subjects=2))
    splits = data.resolve_splits(ds, val_fraction=0.2)
    assert not splits.carved and len(splits.val) == 8 and {c.subject for c in splits.val} == {"s0", "s1"}
    assert len(splits.train) == 16 and len(splits.test) == 4


def test_unlabelled_train_clip_is_an_error(tmp_path):
    root = make_dataset(tmp_path / "ds")
    clips = read_manifest(root / "manifest.csv")
    k = next(i for i, c in enumerate(clips) if c.split == "train")
    clips[k] = type(clips[k])(**{**clips[k].__dict__, "label": None})
    write_manifest(root / "manifest.csv", clips)
    with pytest.raises(ValueError, match="manifest.csv.*no label"):
        data.resolve_splits(Dataset(root))


# ---- pseudo-labels


def test_pseudo_labels(dataset, tmp_path):
    splits = data.resolve_splits(dataset)
    path = tmp_path / "pseudo.csv"
    path.write_text("clip_id,label,weight\nt00_1,2,0.5\nt00_3,0,\n")
    samples = data.read_pseudo_labels(path, dataset, splits, weight_scale=2.0)
    assert [(s.clip.clip_id, s.label, s.weight) for s in samples] == [("t00_1", 2, 1.0), ("t00_3", 0, 2.0)]
    bad = {
        "clip_id,label\nnope,1\n": "not in",
        f"clip_id,label\n{splits.val[0].clip_id},1\n": "val split",
        "clip_id,label\nt00_1,3\n": "class index",
        "clip_id,label\nt00_1,1\nt00_1,1\n": "twice",
        "clip_id,label,weight\nt00_1,1,-1\n": "non-negative",
        "id,class\nt00_1,1\n": "header",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            data.read_pseudo_labels(path, dataset, splits)


# ---- keypoint-space augmentation


def test_compact_box_matches_the_posec3d_formula():
    kp = np.zeros((2, 5, 3), np.float32)
    kp[..., 2] = 1
    kp[0, :, :2] = [[100, 50], [200, 110], [150, 80], [120, 60], [130, 70]]
    kp[1, :, :2] = [[110, 55], [190, 100], [140, 90], [0, 0], [np.nan, 3]]
    kp[1, 3:, 2] = 0  # undetected: must not widen the box
    kp = pose_aug.mark_missing(kp)
    # centre (150, 80), half extents 50 and 30, padded x1.25 -> 62.5 and 37.5, squared -> 62.5 both.
    assert pose_aug.compact_box(kp, padding=0.25) == (87, 17, 212, 142)
    assert pose_aug.compact_box(kp, padding=0.25, hw_ratio=None) == (87, 42, 212, 117)
    kp[..., :2] -= 95  # beyond the frame on the left/top: truncated toward zero like int()
    assert pose_aug.compact_box(kp, padding=0.25) == (-7, -77, 117, 47)
    small = kp.copy()
    small[..., 0] = 5 + 0.001 * np.arange(5)
    assert pose_aug.compact_box(small) is None
    assert pose_aug.compact_box(pose_aug.mark_missing(np.zeros((3, 4, 3)))) is None


def test_random_resized_crop_box_ranges_and_fallback():
    rng = np.random.default_rng(0)
    for _ in range(200):
        x0, y0, x1, y1 = pose_aug.random_resized_crop_box((64, 80), rng, area_range=(0.56, 1.0))
        w, h = x1 - x0, y1 - y0
        assert 0 <= x0 and x1 <= 80 and 0 <= y0 and y1 <= 64 and w > 0 and h > 0
        if (w, h) != (64, 64) or (x0, y0) != (8, 0):  # not the fallback square
            assert 0.56 * 64 * 80 - 80 - 64 <= w * h <= 64 * 80
            assert 3 / 4 - 0.05 <= w / h <= 4 / 3 + 0.05
    assert pose_aug.random_resized_crop_box((64, 80), rng, area_range=(0.9, 1.0), aspect_range=(10, 20)) == (8, 0, 72, 64)


def test_hflip_swaps_left_and_right_by_name():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 56, (4, 68, 3)).astype(np.float32)
    out = pose_aug.hflip(kp, 56, MG68.joint_flip_index())
    for j in range(68):
        partner = NAME_FLIP[j]
        assert np.array_equal(out[:, partner, 0], 55 - kp[:, j, 0])
        assert np.array_equal(out[:, partner, 1:], kp[:, j, 1:])


def _compact_box_by_hand(kp: np.ndarray, padding: float = 0.25) -> tuple[int, int, int, int]:
    valid = kp[..., 2] > 0
    x, y = kp[..., 0][valid], kp[..., 1][valid]
    cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
    half = max(x.max() - x.min(), y.max() - y.min()) / 2 * (1 + padding)
    return int(cx - half), int(cy - half), int(cx + half), int(cy + half)


def test_heatmap_test_pipeline_maps_the_compact_box_to_the_grid(dataset):
    clip = dataset.split("test")[1]
    inp = data.HeatmapInput(MG68, clip_len=6, test_size=40)
    out = inp.load(dataset, clip, train=False, num_clips=2, rng=None)["keypoints"]
    kp = pose_aug.mark_missing(dataset.keypoints(clip))[uniform_sample_indices(clip.frames, 6, num_clips=2, train=False)]
    x0, y0, x1, y1 = _compact_box_by_hand(kp)
    expected = kp.copy()
    expected[..., 0] = (kp[..., 0] - x0) * 40 / (x1 - x0)
    expected[..., 1] = (kp[..., 1] - y0) * 40 / (y1 - y0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    valid = out[..., 2] > 0
    assert np.isnan(out[~valid][:, :2]).all() and (out[~valid][:, 2] == 0).all()


def test_heatmap_saliency_box_maps_the_clip_box_to_the_grid(dataset):
    clip = dataset.split("test")[0]
    inp = data.HeatmapInput(MG68, clip_len=5, test_size=36, box="saliency")
    out = inp.load(dataset, clip, train=False, num_clips=1, rng=None)["keypoints"]
    kp = pose_aug.mark_missing(dataset.keypoints(clip))[uniform_sample_indices(clip.frames, 5, num_clips=1, train=False)]
    x0, y0, x1, y1 = clip.box
    expected = kp.copy()
    expected[..., 0] = (kp[..., 0] - x0) * 36 / (x1 - x0)
    expected[..., 1] = (kp[..., 1] - y0) * 36 / (y1 - y0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="heatmap box"):
        data.HeatmapInput(MG68, box="whole")


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_heatmap_train_pipeline_by_hand(dataset, flip):
    clip = dataset.split("train")[2]
    inp = data.HeatmapInput(MG68, clip_len=5, train_size=32, test_size=40, flip_prob=flip)
    out = inp.load(dataset, clip, train=True, num_clips=1, rng=np.random.default_rng(7))["keypoints"]
    rng = np.random.default_rng(7)
    kp = pose_aug.mark_missing(dataset.keypoints(clip))[uniform_sample_indices(clip.frames, 5, train=True, rng=rng)[0]]
    x0, y0, x1, y1 = _compact_box_by_hand(kp)
    side = x1 - x0  # square box: the short-side resize to 40 scales by 40 / side
    mid = int(side * 40 / side + 0.5)
    cx0, cy0, cx1, cy1 = pose_aug.random_resized_crop_box((mid, mid), rng, area_range=(0.56, 1.0))
    x = ((kp[..., 0] - x0) * 40 / side - cx0) * 32 / (cx1 - cx0)
    y = ((kp[..., 1] - y0) * 40 / (y1 - y0) - cy0) * 32 / (cy1 - cy0)
    expected = np.stack([x, y, kp[..., 2]], -1)
    if flip:
        expected = expected[:, np.argsort(NAME_FLIP)]
        expected[..., 0] = 31 - expected[..., 0]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


# ---- device-side batches equal per-clip references


def _batch(ds, clip_input, clips, *, train, num_clips=1, seed=0):
    samples = [data.Sample(c, -1 if c.label is None else c.label) for c in clips]
    loader = data.make_loader(data.ClipDataset(ds, samples, clip_input, train=train, num_clips=num_clips, seed=seed),
                              batch_size=len(clips))
    return next(iter(loader))


@pytest.mark.parametrize("mode", ["joints", "both"])
def test_heatmap_batches_equal_rendering_each_clip(dataset, mode):
    inp = data.HeatmapInput(MG68, clip_len=2, train_size=20, test_size=24, mode=mode, sigma=0.8)
    clips = dataset.split("train")[:2]
    batch = _batch(dataset, inp, clips, train=True)
    volume = inp.train_batch(batch, CPU, torch.float32)
    limbs = [list(MG68.limbs)] if mode == "both" else []
    for i in range(2):
        kp = batch["keypoints"][i].numpy()[None, None]
        expected = np.concatenate([reference.render_heatmaps(kp[..., :2], kp[..., 2], (20, 20), sigma=0.8, limbs=lb)
                                   for lb in [None] + limbs], 1)
        np.testing.assert_allclose(volume[i : i + 1].numpy(), expected, atol=1e-5)

    test = _batch(dataset, inp, clips, train=False, num_clips=2)
    views = list(inp.eval_views(test, CPU, torch.float32))
    assert len(views) == 2 == inp.views_per_clip(2) // 2
    for j, view in enumerate(views):
        assert view.shape[0] == 4  # two clips, then their flipped copies
        for i in range(2):
            kp = test["keypoints"][i, j].numpy()[None, None]
            parts = [reference.render_heatmaps(kp[..., :2], kp[..., 2], (24, 24), sigma=0.8, limbs=lb,
                                               flip_perm=list(MG68.limb_flip_index() if lb else MG68.joint_flip_index()))
                     for lb in [None] + limbs]
            expected = np.concatenate(parts, 1)  # [2, C, T, H, W]: the clip, then its flipped copy
            np.testing.assert_allclose(view[[i, 2 + i]].numpy(), expected, atol=1e-5)


def test_joint_input_normalises_to_the_box_and_flips(dataset):
    clip = dataset.split("train")[0]
    kp = pose_aug.mark_missing(dataset.keypoints(clip))
    rng_seed = 5
    plain = data.JointInput(MG68, clip_len=4, flip_prob=0.0).load(dataset, clip, train=True, num_clips=1,
                                                                  rng=np.random.default_rng(rng_seed))["keypoints"]
    flipped = data.JointInput(MG68, clip_len=4, flip_prob=1.0).load(dataset, clip, train=True, num_clips=1,
                                                                    rng=np.random.default_rng(rng_seed))["keypoints"]
    idx = uniform_sample_indices(clip.frames, 4, train=True, rng=np.random.default_rng(rng_seed))[0]
    x0, y0, x1, y1 = clip.box
    half = max(x1 - x0, y1 - y0) / 2
    sel = kp[idx]
    expected = np.stack([(sel[..., 0] - (x0 + x1) / 2) / half, (sel[..., 1] - (y0 + y1) / 2) / half, sel[..., 2]], -1)
    expected[~(sel[..., 2] > 0)] = 0
    np.testing.assert_allclose(plain, expected, atol=1e-6)
    mirrored = expected[:, np.argsort(NAME_FLIP)]
    mirrored[..., 0] *= -1
    np.testing.assert_allclose(flipped, mirrored, atol=1e-6)

    inp = data.JointInput(MG68, clip_len=4, box="compact")
    batch = _batch(dataset, inp, [clip], train=False, num_clips=3)
    views = list(inp.eval_views(batch, CPU, torch.float32))
    assert len(views) == 3 and all(v.shape == (2, 4, 68, 3) for v in views)
    valid = views[0][0, ..., 2] > 0
    assert views[0][0][valid][:, :2].abs().max() <= 1 / 1.25 + 1e-3  # compact box: padding 0.25 around the points
    torch.testing.assert_close(views[0][1], torch.from_numpy(data.joint.flip_normalised(views[0][0].numpy(), list(MG68.joint_flip_index()))))


def test_rgb_batches_equal_cropping_each_frame(dataset):
    inp = data.RGBInput(clip_len=3, train_size=12, test_size=10, area_range=(0.3, 1.0), mean=(10, 20, 30), std=(2, 3, 4))
    odd_clip, *clips = dataset.split("train")[:5]  # v00_1 has the odd crop size
    batch = _batch(dataset, inp, clips, train=True, seed=4)
    x = inp.train_batch(batch, CPU, torch.float32)
    assert x.shape == (4, 3, 3, 12, 12) and batch["flip"].any() and not batch["flip"].all()
    for i in range(4):
        frames = batch["frames"][i].numpy()
        boxes = np.repeat(batch["box"][i].numpy()[None], 3, 0)
        expected = reference.crop_resize(frames, boxes, (12, 12), mean=(10, 20, 30), std=(2, 3, 4)).transpose(1, 0, 2, 3)
        if batch["flip"][i]:
            expected = expected[..., ::-1]
        np.testing.assert_allclose(x[i].numpy(), expected, atol=1e-4)

    # The first clip's crop has another size: the batch keeps a list and crops clip by clip.
    odd = _batch(dataset, inp, [odd_clip, clips[0]], train=False, num_clips=2)
    assert isinstance(odd["frames"], list)
    views = list(inp.eval_views(odd, CPU, torch.float32))
    assert len(views) == 2 and views[0].shape == (4, 3, 3, 10, 10)
    frames = odd["frames"][0][1].numpy()
    h, w = frames.shape[1:3]
    expected = reference.crop_resize(frames, np.array([[0, 0, w, h]] * 3, np.float32), (10, 10), mean=(10, 20, 30),
                                     std=(2, 3, 4)).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(views[1][0].numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(views[1][2].numpy(), expected[..., ::-1], atol=1e-4)



def test_rgb_residual_is_each_frame_minus_the_clip_mean(dataset):
    kw = dict(clip_len=4, train_size=12, test_size=10, area_range=(0.3, 1.0), mean=(10, 20, 30), std=(2, 3, 4))
    inp = data.RGBInput(residual=True, **kw)
    odd_clip, *clips = dataset.split("train")[:5]
    batch = _batch(dataset, inp, clips, train=True, seed=4)
    x = inp.train_batch(batch, CPU, torch.float32)
    assert x.shape == (4, 3, 4, 12, 12) and batch["flip"].any() and not batch["flip"].all()
    for i in range(4):
        boxes = np.repeat(batch["box"][i].numpy()[None], 4, 0)
        crops = reference.crop_resize(batch["frames"][i].numpy(), boxes, (12, 12), mean=(10, 20, 30), std=(2, 3, 4))
        expected = (crops - crops.mean(0, keepdims=True)).transpose(1, 0, 2, 3)  # [3, T, 12, 12]
        if batch["flip"][i]:
            expected = expected[..., ::-1]
        np.testing.assert_allclose(x[i].numpy(), expected, atol=1e-4)
    # What is constant over a clip cancels: a uniformly brighter clip (no pixel saturating) gives the same input.
    darker = {**batch, "frames": batch["frames"].clamp(max=240)}
    brighter = {**darker, "frames": darker["frames"] + 15}
    torch.testing.assert_close(inp.train_batch(brighter, CPU, torch.float32), inp.train_batch(darker, CPU, torch.float32),
                               atol=1e-4, rtol=0)

    odd = _batch(dataset, inp, [odd_clip, clips[0]], train=False, num_clips=2)
    views = list(inp.eval_views(odd, CPU, torch.float32))
    frames = odd["frames"][0][1].numpy()
    h, w = frames.shape[1:3]
    crops = reference.crop_resize(frames, np.array([[0, 0, w, h]] * 4, np.float32), (10, 10), mean=(10, 20, 30),
                                  std=(2, 3, 4))
    expected = (crops - crops.mean(0, keepdims=True)).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(views[1][0].numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(views[1][2].numpy(), expected[..., ::-1], atol=1e-4)
    with pytest.raises(ValueError, match="clip_len >= 2"):
        data.RGBInput(clip_len=1, residual=True)


def test_rgb_cache_decodes_each_clip_once_and_stays_within_its_budget(dataset, monkeypatch):
    decoded: list = []

    def counting_read_clip(path):
        decoded.append(path)
        return rgb_read_clip(path)

    rgb_read_clip = rgb.read_clip
    monkeypatch.setattr(rgb, "read_clip", counting_read_clip)
    clips = dataset.split("train")[:6]
    sizes = [rgb_read_clip(dataset.crop_path(c)).nbytes for c in clips]
    plain, cached = data.RGBInput(clip_len=3), data.RGBInput(clip_len=3, cache_mb=sum(sizes) / 2**20)
    for epoch in range(3):
        for c in clips:
            a = plain.load(dataset, c, train=True, num_clips=1, rng=np.random.default_rng(epoch))
            b = cached.load(dataset, c, train=True, num_clips=1, rng=np.random.default_rng(epoch))
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
            b["frames"][...] = 0  # what load returns is the caller's to change: the cache must not see it
    assert len(decoded) == 3 * len(clips) + len(clips)  # plain decodes every time, cached once per clip
    assert cached._cached_bytes == sum(sizes)
    # Least recently used out first; a budget that fits clips 2 and 3 exactly keeps just them after 0..3.
    paths = [dataset.crop_path(c) for c in clips]
    small = data.RGBInput(clip_len=3, cache_mb=(sizes[2] + sizes[3]) / 2**20)
    for c in clips[:4]:
        small.load(dataset, c, train=False, num_clips=1, rng=None)
    assert list(small._cache) == paths[2:4] and small._cached_bytes == sizes[2] + sizes[3]
    small.load(dataset, clips[2], train=False, num_clips=1, rng=None)  # a hit: 2 becomes the most recent
    assert list(small._cache) == [paths[3], paths[2]]
    small.load(dataset, clips[4], train=False, num_clips=1, rng=None)
    kept = list(small._cache)
    assert paths[3] not in kept and kept[-1] == paths[4] and small._cached_bytes == sum(
        sizes[paths.index(p)] for p in kept) <= small.cache_bytes
    tiny = data.RGBInput(clip_len=3, cache_mb=(min(sizes) - 1) / 2**20)
    tiny.load(dataset, clips[0], train=False, num_clips=1, rng=None)
    assert not tiny._cache  # a clip larger than the whole budget is not kept
    assert not pickle.loads(pickle.dumps(cached))._cache  # workers start empty
    for bad in (-1.0, float("nan"), True, "64"):
        with pytest.raises(ValueError, match="cache_mb"):
            data.RGBInput(cache_mb=bad)


# ---- loaders


def test_batches_do_not_depend_on_workers_and_change_with_the_epoch(dataset):
    inp = data.HeatmapInput(MG68, clip_len=4, train_size=16, test_size=20)
    samples = [data.Sample(c, c.label) for c in dataset.split("train")]

    def epoch_batches(workers, epoch):
        loader = data.make_loader(data.ClipDataset(dataset, samples, inp, train=True, seed=9), batch_size=5,
                                  workers=workers)
        data.set_epoch(loader, epoch)
        return list(loader)

    a, b = epoch_batches(0, 1), epoch_batches(2, 1)
    assert len(a) == len(b) == 4  # 24 clips, batches of 5, the incomplete one dropped
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            torch.testing.assert_close(x[k], y[k], rtol=0, atol=0, equal_nan=True)
    c = epoch_batches(0, 2)
    assert not torch.equal(a[0]["index"], c[0]["index"])
    ds = data.ClipDataset(dataset, samples, inp, train=True, seed=9)
    again = ds[(1, 3)]["keypoints"]
    np.testing.assert_array_equal(ds[(1, 3)]["keypoints"], again)
    assert not np.array_equal(ds[(2, 3)]["keypoints"], again, equal_nan=True)  # augmented anew each epoch


def test_distributed_shards_cover_the_data(dataset):
    inp = data.JointInput(MG68, clip_len=2)
    samples = [data.Sample(c, -1) for c in dataset.split("test")[:3]]
    ds = data.ClipDataset(dataset, samples, inp, train=False)
    seen = [b["index"].tolist() for r in range(2) for b in data.make_loader(ds, batch_size=4, rank=r, world_size=2)]
    assert sorted(sum(seen, [])) == [0, 0, 1, 2]  # padded to an even split by repeating a clip


def test_keypoints_of_another_layout_are_rejected(dataset, tmp_path):
    clip = dataset.split("train")[0]
    bad = Dataset(make_dataset(tmp_path / "bad"))
    np.save(bad.root / clip.keypoints, np.zeros((5, 25, 3), np.float32))
    with pytest.raises(ValueError, match=rf"{clip.clip_id}\.npy.*\[T, 68, 3\]"):
        data.JointInput(MG68).load(bad, clip, train=False, num_clips=1, rng=None)


def test_unknown_modality_and_heatmap_mode():
    with pytest.raises(ValueError, match="--modality"):
        branches.branch("depth")
    with pytest.raises(ValueError, match="heatmap mode"):
        data.HeatmapInput(MG68, mode="bones")
