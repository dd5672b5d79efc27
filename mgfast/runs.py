"""The run directory: the one module that writes and reads what ``mgfast train`` leaves behind.

::

    RUN/run.json                {"modality", "dataset", "layout", "classes", "config"}
    RUN/checkpoints/{best,last}.pt
    RUN/metrics.jsonl           one JSON object per epoch
    RUN/curves.png              loss and validation metrics per epoch (mgfast.train.curves)
    RUN/logits/<split>.npz      clip_ids (str [N]), logits (float32 [N, C]), labels (int64 [N], -1 = unlabelled),
                                hidden_labels (int64 [N], -1 = unknown; evaluation only, never for training)

Fusion and pseudo-labelling combine several runs; :func:`align_logits` checks that they score the same
clips over the same classes and puts every run's rows in one clip order.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mgfast import metrics
from mgfast.io.atomic import atomic_path, atomic_write_text
from mgfast.io.dataset import ClassInfo, Clip, Dataset, layout_to_dict
from mgfast.io.names import check_name

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"
LOGITS_DIR = "logits"
LOGITS_KEYS = ("clip_ids", "logits", "labels", "hidden_labels")


@dataclass(frozen=True)
class Run:
    """The contents of ``run.json``; ``path`` is the run directory."""

    path: Path
    modality: str
    dataset: Path
    layout: dict
    classes: list[ClassInfo]
    config: dict


@dataclass(frozen=True)
class Logits:
    """One split's logits of one run (see the module docstring for shapes); ``path`` is the npz file."""

    path: Path
    clip_ids: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    hidden_labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return self.logits.shape[1]

    def take(self, rows: np.ndarray) -> Logits:
        """The same file's data restricted to (or reordered by) ``rows``."""
        return Logits(self.path, self.clip_ids[rows], self.logits[rows], self.labels[rows], self.hidden_labels[rows])


# ---- writing


def checkpoint_path(run_dir: Path, name: str) -> Path:
    """``best`` or ``last`` within the run, or any other path as given."""
    return run_dir / CHECKPOINTS / f"{name}.pt" if name in ("best", "last") else Path(name)


def logits_path(run_dir: str | Path, split: str) -> Path:
    """``RUN/logits/<split>.npz``."""
    return Path(run_dir) / LOGITS_DIR / f"{split}.npz"


def write_run_file(run_dir: Path, *, modality: str, dataset: Dataset, config: dict) -> None:
    info = {"modality": modality, "dataset": str(dataset.root.resolve()), "layout": layout_to_dict(dataset.layout),
            "classes": [asdict(c) for c in dataset.classes], "config": config}
    atomic_write_text(run_dir / RUN_FILE, json.dumps(info, indent=2) + "\n")


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    atomic_write_text(run_dir / METRICS_FILE, "".join(json.dumps(row) + "\n" for row in history))


def write_logits(run_dir: Path, split: str, clips: list[Clip], labels: np.ndarray, logits: np.ndarray) -> Path:
    """``RUN/logits/<split>.npz`` with the keys :func:`load_logits` reads; returns its path."""
    path = logits_path(run_dir, split)
    hidden = np.array([-1 if c.hidden_label is None else c.hidden_label for c in clips], np.int64)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, clip_ids=np.array([c.clip_id for c in clips], dtype=str), logits=logits.astype(np.float32),
                 labels=labels.astype(np.int64), hidden_labels=hidden)
    return path


# ---- reading


def read_run(run_dir: str | Path) -> Run:
    """Reads ``run_dir/run.json``; raises FileNotFoundError / ValueError naming the file and what is wrong."""
    root = Path(run_dir)
    path = root / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not an mgfast run directory (no {RUN_FILE}); create runs with `mgfast train`")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: invalid JSON ({error.msg}); rerun `mgfast train` to rewrite it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with keys modality, dataset, layout, classes, config")
    missing = [k for k in ("modality", "dataset", "layout", "classes", "config") if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}; rerun `mgfast train` to rewrite it")
    if not isinstance(data["modality"], str) or not data["modality"]:
        raise ValueError(f"{path}: 'modality' must be a non-empty string, got {data['modality']!r}")
    check_name(data["modality"], "modality", str(path))  # adaptation and fusion name folders and files after it
    try:
        classes = [ClassInfo(int(c["index"]), int(c["code"]), str(c["name"])) for c in data["classes"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: 'classes' must be a list of {{index, code, name}} objects") from None
    if [c.index for c in classes] != list(range(len(classes))) or not classes:
        raise ValueError(f"{path}: 'classes' must list indices 0..C-1 in order, got {[c.index for c in classes]}")
    if len({c.code for c in classes}) != len(classes):
        raise ValueError(f"{path}: class codes must be unique")
    return Run(root, data["modality"], Path(data["dataset"]), data["layout"], classes, data["config"])


def load_logits(run_dir: str | Path, split: str) -> Logits:
    """Reads ``run_dir/logits/<split>.npz`` and checks its keys, shapes, dtypes and label ranges."""
    path = logits_path(run_dir, split)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; `mgfast train` writes logits for every split it predicts")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in LOGITS_KEYS if k not in npz.files]
            if missing:
                raise ValueError(f"{path}: missing array(s) {', '.join(missing)}; expected {', '.join(LOGITS_KEYS)}")
            arrays = {k: npz[k] for k in LOGITS_KEYS}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(f"{path}: holds object arrays; save clip_ids as a str array (np.asarray(ids, dtype=str))") from None
        raise
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}); rerun `mgfast train` to rewrite it") from None
    ids, z, y, h = (arrays[k] for k in LOGITS_KEYS)
    n = len(ids)
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise ValueError(f"{path}: clip_ids must be a 1-D str array, got {ids.dtype} {ids.shape}")
    if z.ndim != 2 or z.shape[0] != n or z.shape[1] == 0 or z.dtype.kind != "f":
        raise ValueError(f"{path}: logits must be float [{n}, C] (one row per clip id), got {z.dtype} {z.shape}")
    if not np.isfinite(z).all():
        rows = np.flatnonzero(~np.isfinite(z).all(1))
        raise ValueError(f"{path}: logits of {rows.size} clip(s) hold NaN/inf, first {ids[rows[0]]}; the run diverged")
    for name, labels in (("labels", y), ("hidden_labels", h)):
        if labels.shape != (n,) or labels.dtype.kind not in "iu":
            raise ValueError(f"{path}: {name} must be an integer array [{n}], got {labels.dtype} {labels.shape}")
        if n and (labels.min() < -1 or labels.max() >= z.shape[1]):
            raise ValueError(f"{path}: {name} must lie in [-1, {z.shape[1]}) (-1 = none)")
    if len(set(ids.tolist())) != n:
        raise ValueError(f"{path}: clip ids are not unique")
    return Logits(path, ids, z.astype(np.float32), y.astype(np.int64), h.astype(np.int64))


def hidden_label_scores(logits: Logits) -> dict[str, float] | None:
    """Accuracy (= micro-F1) and macro-F1 against the hidden labels, where the corpus has them."""
    known = logits.hidden_labels >= 0
    if not known.any():
        return None
    truth, predicted = logits.hidden_labels[known], logits.logits[known].argmax(1)
    return {"micro_f1": metrics.accuracy(truth, predicted),
            "macro_f1": metrics.macro_f1(truth, predicted, logits.num_classes), "clips": int(known.sum())}


def run_names(runs: list[Run]) -> list[str]:
    """One name per run: its modality, or the run directory's name where several runs share a modality."""
    modalities = [r.modality for r in runs]
    names = [m if modalities.count(m) == 1 else r.path.name for m, r in zip(modalities, runs)]
    if len(set(names)) != len(names):
        raise ValueError(f"runs {', '.join(str(r.path) for r in runs)} cannot be told apart: "
                         "give runs of one modality distinct directory names")
    return names


def background_class(run: Run) -> int | None:
    """The index of the run's "no gesture" class (the last one, ``mgfast train --background-class``), or None."""
    return len(run.classes) - 1 if run.config.get("background_class") else None


def check_same_classes(runs: list[Run]) -> list[ClassInfo]:
    """The runs' common class list; ValueError naming the first run that differs (first in whether it has a
    background class)."""
    if not runs:
        raise ValueError("no runs given")
    first = runs[0]
    for run in runs[1:]:
        if (background_class(run) is None) != (background_class(first) is None):
            with_it, without = (run, first) if background_class(run) is not None else (first, run)
            raise ValueError(f"{with_it.path} was trained with a background class (--background-class) and "
                             f"{without.path} without; combine runs that agree on it (retrain one of them)")
        if run.classes != first.classes:
            raise ValueError(f"{run.path / RUN_FILE} lists different classes from {first.path / RUN_FILE}; "
                             "combine only runs trained on the same dataset")
    return first.classes


def align_logits(items: list[Logits]) -> list[Logits]:
    """The same logits with every item's rows in the first item's clip order.

    Raises ValueError when the items do not cover the same clip ids, differ in class count, or disagree on
    a clip's label or hidden label (they then come from different datasets or validation carvings).
    """
    if not items:
        raise ValueError("no logits given")
    first = items[0]
    order = {cid: i for i, cid in enumerate(first.clip_ids.tolist())}
    aligned = [first]
    for item in items[1:]:
        ids = set(item.clip_ids.tolist())
        if ids != order.keys():
            only_here = sorted(ids - order.keys())
            only_first = sorted(order.keys() - ids)
            raise ValueError(
                f"{item.path} and {first.path} cover different clips ({len(only_here)} only in the former, e.g. "
                f"{only_here[:3]}; {len(only_first)} only in the latter, e.g. {only_first[:3]}); train every "
                "modality on the same dataset with the same validation split")
        if item.num_classes != first.num_classes:
            raise ValueError(f"{item.path} has {item.num_classes} classes but {first.path} has {first.num_classes}")
        rows = np.argsort([order[cid] for cid in item.clip_ids.tolist()], kind="stable")
        item = item.take(rows)
        for name in ("labels", "hidden_labels"):
            differ = np.flatnonzero(getattr(item, name) != getattr(first, name))
            if differ.size:
                raise ValueError(f"{item.path} and {first.path} disagree on {name} of {differ.size} clip(s), first "
                                 f"{first.clip_ids[differ[0]]}; were they extracted from the same data?")
        aligned.append(item)
    return aligned
