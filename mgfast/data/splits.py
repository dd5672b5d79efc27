"""Train / validation / calibration / test clip lists from a dataset directory, and pseudo-labelled clips.

When the manifest has no validation clips, validation is carved out of the training clips by subject (or
by video): whole groups move to validation, so it measures generalisation to unseen people, as the
challenge's test split does. A calibration split is then carved the same way from the training groups
left: no checkpoint selection, early stopping or adaptation step reads it, so the temperatures and weights
that fusion fits on it are not fooled by the optimism of the split that checkpoints were chosen on, and,
being held-out subjects, it sees the subject shift the test split has. The carving depends only on the group
names and ``split_seed`` (each group's rank is a hash of both and the split's name), never on the modality
or the order of the manifest, so every branch trained on one dataset with one ``split_seed`` validates and
calibrates on the same clips.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from mgfast.io.csvfile import csv_rows, header_key, is_number, parse_int
from mgfast.io.dataset import BACKGROUND, MANIFEST_FILE, Clip, Dataset

SplitBy = Literal["subject", "video"]
SPLIT_BY: tuple[str, ...] = get_args(SplitBy)
SPLIT_NAMES = ("train", "val", "calib", "test")
"""Every split a run scores: ``val`` selects checkpoints, ``calib`` fits fusion (see the module docstring)."""


@dataclass(frozen=True)
class Sample:
    """A clip as training sees it: ``label`` -1 when unlabelled, ``weight`` its loss weight."""

    clip: Clip
    label: int
    weight: float = 1.0


@dataclass(frozen=True)
class Splits:
    """Clips per split; ``carved`` tells whether validation was carved out of the manifest's train split."""

    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    carved: bool
    calib: list[Clip]

    def get(self, name: str) -> list[Clip]:
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)


def _group_rank(group: str, split_seed: int, salt: str) -> str:
    return hashlib.sha256(f"{split_seed}\0{salt}{group}".encode()).hexdigest()


def carve_validation(clips: list[Clip], *, val_fraction: float, split_by: str = "subject",
                     split_seed: int = 0, split: str = "val") -> tuple[list[Clip], list[Clip]]:
    """Splits ``clips`` into ``(rest, carved)`` by whole groups (subjects or videos).

    Groups are visited in hash order (of ``split_seed``, the group name and, for any ``split`` but ``val``,
    the split's name, so the calibration split is drawn independently of validation); the first always goes
    to the carved split, each later one when it brings the carved clip count closer to ``val_fraction`` of
    the clips. The last group in that order always stays in ``rest``.
    """
    if split_by not in SPLIT_BY:
        raise ValueError(f"split_by must be one of {', '.join(SPLIT_BY)}, got {split_by!r}")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"{split}_fraction must lie in [0, 1), got {val_fraction!r}")
    if val_fraction == 0 or not clips:
        return list(clips), []
    salt = "" if split == "val" else f"{split}\0"  # "val" keeps the ranks of datasets carved before calib existed
    group_of = {c.clip_id: (c.subject if split_by == "subject" else c.video) for c in clips}
    groups = sorted(set(group_of.values()), key=lambda g: _group_rank(g, split_seed, salt))
    if len(groups) < 2:
        raise ValueError(
            f"cannot carve a {split} split by {split_by} from {len(groups)} {split_by}: the training clips left all "
            f"share {split_by} {groups[0]!r}; use --split-by video, give the dataset more subjects, or "
            f"--{split}-fraction 0"
        )
    size = {g: 0 for g in groups}
    for group in group_of.values():
        size[group] += 1
    target = val_fraction * len(clips)
    chosen: set[str] = set()
    count = 0
    for group in groups[:-1]:  # the last group in hash order always stays in training
        if not chosen or abs(count + size[group] - target) < abs(count - target):
            chosen.add(group)
            count += size[group]
    val = [c for c in clips if group_of[c.clip_id] in chosen]
    return [c for c in clips if group_of[c.clip_id] not in chosen], val


def resolve_splits(dataset: Dataset, *, val_fraction: float = 0.2, calib_fraction: float = 0.0,
                   split_by: str = "subject", split_seed: int = 0) -> Splits:
    """The dataset's splits: validation carved from train when the manifest has none, then the calibration
    split carved from the training clips left (``calib_fraction`` of the labelled training clips; 0: none).

    Background clips (in :meth:`Dataset.with_background_class`'s view) join the split of their video's segments.

    Raises ValueError (naming the manifest) when a train or val clip has no label.
    """
    manifest = dataset.root / MANIFEST_FILE
    train, val, test = (dataset.split(name) for name in ("train", "val", "test"))
    background = [c for c in train + val if c.kind == BACKGROUND]
    train, val = ([c for c in clips if c.kind != BACKGROUND] for clips in (train, val))
    for name, clips in (("train", train), ("val", val)):
        unlabelled = [c.clip_id for c in clips if c.label is None]
        if unlabelled:
            raise ValueError(f"{manifest}: {len(unlabelled)} {name} clip(s) have no label (first {unlabelled[0]}); "
                             "unlabelled clips belong to the test split")
    carved = not val
    labelled = len(train)
    if carved:
        train, val = carve_validation(train, val_fraction=val_fraction, split_by=split_by, split_seed=split_seed)
    calib: list[Clip] = []
    if calib_fraction > 0 and train:
        # The fraction is of all labelled training clips, so a carved validation split does not shrink it.
        share = min(calib_fraction * labelled / len(train), 0.99)
        train, calib = carve_validation(train, val_fraction=share, split_by=split_by, split_seed=split_seed,
                                        split="calib")
    if background:
        train, val, calib = _with_background(background, train, val, calib)
    return Splits(train, val, test, carved, calib)


def _with_background(background: list[Clip], *splits: list[Clip]) -> list[list[Clip]]:
    """``splits`` with each background clip added to the one holding its video's segments. The splits are
    carved from the segments alone, so a run with a background class validates and calibrates on the same
    videos as one without; a video with no labelled segment left has its background clips dropped."""
    home = {c.video: i for i, clips in enumerate(splits) for c in clips}
    out = [list(clips) for clips in splits]
    for clip in background:
        if clip.video in home:
            out[home[clip.video]].append(clip)
    return out


def read_pseudo_labels(path: str | Path, dataset: Dataset, splits: Splits, *, weight_scale: float = 1.0) -> list[Sample]:
    """Pseudo-labelled clips from a CSV with a header ``clip_id,label[,weight]``.

    ``label`` is a class index (0..C-1, as in the manifest), ``weight`` a non-negative loss weight (default
    1), multiplied by ``weight_scale``. Clips must be unlabelled clips of the dataset (the test split):
    pseudo-labelling a training or validation clip would overwrite or leak its true label.
    """
    path = Path(path)
    rows = csv_rows(path)
    try:
        line, header = next(rows)
    except StopIteration:
        raise ValueError(f"{path}: empty file; expected a header clip_id,label,weight") from None
    keys = [header_key(h) for h in header]
    if "clip_id" not in keys or "label" not in keys:
        raise ValueError(f"{path}:{line}: header must name the columns clip_id,label[,weight], got {','.join(header)}")
    col = {k: keys.index(k) for k in ("clip_id", "label", "weight") if k in keys}
    by_id = {c.clip_id: c for c in dataset.clips}
    labelled = {c.clip_id: name for name in ("train", "val", "calib") for c in splits.get(name)}
    samples: list[Sample] = []
    seen: set[str] = set()
    for line, cells in rows:
        cells = cells + [""] * (len(header) - len(cells))
        clip_id = cells[col["clip_id"]]
        label = parse_int(cells[col["label"]])
        weight_text = cells[col["weight"]] if "weight" in col else ""
        if clip_id not in by_id:
            raise ValueError(f"{path}:{line}: clip {clip_id!r} is not in {dataset.root / MANIFEST_FILE}; "
                             "pseudo-labels must come from the same dataset")
        if clip_id in labelled:
            raise ValueError(f"{path}:{line}: clip {clip_id!r} is in the {labelled[clip_id]} split; only unlabelled "
                             "(test) clips can be pseudo-labelled")
        if clip_id in seen:
            raise ValueError(f"{path}:{line}: clip {clip_id!r} is listed twice")
        if label is None or not 0 <= label < dataset.num_classes:
            raise ValueError(f"{path}:{line}: label must be a class index in [0, {dataset.num_classes}), "
                             f"got {cells[col['label']]!r}")
        if weight_text and not (is_number(weight_text) and 0 <= float(weight_text) < math.inf):
            raise ValueError(f"{path}:{line}: weight must be a finite non-negative number, got {weight_text!r}")
        seen.add(clip_id)
        weight = float(weight_text) if weight_text else 1.0
        samples.append(Sample(by_id[clip_id], label, weight * weight_scale))
    return samples
