"""A tiny dataset directory written directly with the dataset API, for the data and training tests.

Each class moves the right hand along its own direction over the clip and tints the crop frames with its
own colour, so a few steps of training can find the signal. Subjects differ by their base pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_save_npy
from mgfast.io.dataset import ClassInfo, Clip, write_manifest, write_meta
from mgfast.layout import MG68

WIDTH, HEIGHT = 320, 240


def class_keypoints(rng: np.random.Generator, base: np.ndarray, label: int, frames: int, num_classes: int) -> np.ndarray:
    """float32 [T, 68, 3]: the subject's pose with the right hand moving in the class's direction."""
    angle = 2 * np.pi * label / num_classes
    t = np.linspace(0, 1, frames, dtype=np.float32)[:, None]
    kp = np.repeat(base[None], frames, 0).astype(np.float32)
    hand = list(range(46, 67)) + [4]
    kp[:, hand, 0] += 40 * t * np.cos(angle)
    kp[:, hand, 1] += 40 * t * np.sin(angle)
    kp[..., :2] += rng.normal(0, 1.0, kp[..., :2].shape).astype(np.float32)
    kp[..., 2] = rng.uniform(0.5, 1.0, kp.shape[:2]).astype(np.float32)
    # Some undetected points, as a detector writes them.
    missing = rng.random(kp.shape[:2]) < 0.03
    kp[missing] = 0.0
    return kp


def crop_frames(rng: np.random.Generator, label: int, frames: int, size: int, num_classes: int) -> np.ndarray:
    colour = np.array([255 * label / max(num_classes - 1, 1), 128, 255 - 255 * label / max(num_classes - 1, 1)])
    noise = rng.normal(0, 20, (frames, size, size, 3))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def make_dataset(root: Path, *, subjects: int = 6, clips_per_subject: int = 4, test_clips: int = 4,
                 num_classes: int = 3, frames: tuple[int, int] = (12, 30), crop_size: int = 24,
                 odd_crop: bool = False, val_subjects: int = 0, seed: int = 0) -> Path:
    """Writes the dataset; ``val_subjects`` subjects go to a manifest val split; ``odd_crop`` gives one
    clip a crop of another size. Returns ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    classes = [ClassInfo(i, i + 1, f"class {i + 1}") for i in range(num_classes)]
    write_meta(root, layout=MG68, classes=classes, params={"test": True})
    clips: list[Clip] = []

    def add(clip_id: str, subject: str, label: int | None, split: str, hidden: int | None, base: np.ndarray) -> None:
        n = int(rng.integers(frames[0], frames[1] + 1))
        cls = label if label is not None else hidden
        kp = class_keypoints(rng, base, cls, n, num_classes)
        size = crop_size + 8 if odd_crop and not clips else crop_size
        atomic_save_npy(root / "keypoints" / f"{clip_id}.npy", kp)
        atomic_save_npy(root / "crops" / f"{clip_id}.npy", crop_frames(rng, cls, n, size, num_classes))
        valid = kp[..., 2] > 0
        x, y = kp[..., 0][valid], kp[..., 1][valid]
        box = (float(x.min()) - 5, float(y.min()) - 5, float(x.max()) + 5, float(y.max()) + 5)
        clips.append(Clip(clip_id=clip_id, video=clip_id.rsplit("_", 1)[0], subject=subject, start=0, end=n - 1,
                          label=label, split=split, frames=n, fps=30.0, width=WIDTH, height=HEIGHT, box=box,
                          keypoints=f"keypoints/{clip_id}.npy", crop=f"crops/{clip_id}.npy", hidden_label=hidden))

    for s in range(subjects):
        base = np.zeros((MG68.num_joints, 3), np.float32)
        base[:, 0] = rng.uniform(100, 220, MG68.num_joints)
        base[:, 1] = rng.uniform(60, 180, MG68.num_joints)
        split = "val" if s < val_subjects else "train"
        for k in range(clips_per_subject):
            add(f"v{s:02d}_{k + 1}", f"s{s}", int((s + k) % num_classes), split, None, base)
    base = np.zeros((MG68.num_joints, 3), np.float32)
    base[:, 0], base[:, 1] = rng.uniform(100, 220, MG68.num_joints), rng.uniform(60, 180, MG68.num_joints)
    for k in range(test_clips):
        add(f"t00_{k + 1}", "test", None, "test", k % num_classes, base)
    write_manifest(root / "manifest.csv", clips)
    return root
