"""Fake training run directories in the documented format (run.json + logits/<split>.npz), written with plain
json and numpy so that tests of the readers do not depend on mgfast's own writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CODES = (3, 7, 11, 19, 99)


def class_list(codes=CODES) -> list[dict]:
    return [{"index": i, "code": c, "name": f"class {c}"} for i, c in enumerate(codes)]


def write_run(path: Path, modality: str, splits: dict[str, dict[str, np.ndarray]], classes=None) -> Path:
    """``splits[name]`` holds clip_ids, logits, labels and hidden_labels arrays, saved as given."""
    (path / "logits").mkdir(parents=True, exist_ok=True)
    run = {"modality": modality, "dataset": str(path.parent / "dataset"), "layout": {"name": "mg68"},
           "classes": class_list() if classes is None else classes, "config": {"epochs": 1}}
    (path / "run.json").write_text(json.dumps(run))
    for split, arrays in splits.items():
        np.savez(path / "logits" / f"{split}.npz", **arrays)
    return path


LABELLED = ("val", "calib")
"""Splits whose labels a run stores; the others' labels are hidden (labels -1)."""


def corpus(rng: np.random.Generator, n_val: int = 300, n_test: int = 200, num_classes: int = len(CODES),
           n_calib: int = 240):
    """Clip ids and true labels of a val, a calib and a test split."""
    def split(prefix: str, n: int):
        ids = np.asarray([f"{prefix}{v:03d}_{k}" for v, k in zip(rng.integers(0, 50, n), range(1, n + 1))])
        return ids, rng.integers(0, num_classes, n)

    return {"val": split("1", n_val), "calib": split("3", n_calib), "test": split("2", n_test)}


def modality_logits(rng: np.random.Generator, truth: np.ndarray, num_classes: int, skill: float,
                    overconfidence: float) -> np.ndarray:
    """Unit-normal noise plus ``skill`` on the true class, all multiplied by ``overconfidence`` (the larger,
    the sharper the probabilities and the higher the fitted temperature)."""
    z = rng.normal(0.0, 1.0, (truth.size, num_classes))
    z[np.arange(truth.size), truth] += skill
    return (overconfidence * z).astype(np.float32)


def make_runs(root: Path, specs=(("joint", 2.0, 3.0), ("heatmap", 1.5, 2.0), ("rgb", 1.0, 1.0)), seed: int = 0,
              shuffle: bool = True, test_clips: int = 200) -> tuple[list[Path], dict]:
    """One run per ``(modality, skill, overconfidence)``; each run stores its rows in its own random order
    when ``shuffle``. Returns the run directories and the corpus (split -> (clip_ids, truth))."""
    rng = np.random.default_rng(seed)
    data = corpus(rng, n_test=test_clips)
    paths = []
    for modality, skill, over in specs:
        splits = {}
        for split, (ids, truth) in data.items():
            z = modality_logits(rng, truth, len(CODES), skill, over)
            labels = truth if split in LABELLED else np.full(truth.size, -1)
            hidden = np.full(truth.size, -1) if split in LABELLED else truth
            order = rng.permutation(truth.size) if shuffle else np.arange(truth.size)
            splits[split] = {"clip_ids": ids[order], "logits": z[order], "labels": labels[order].astype(np.int64),
                             "hidden_labels": hidden[order].astype(np.int64)}
        paths.append(write_run(root / modality, modality, splits))
    return paths, data
