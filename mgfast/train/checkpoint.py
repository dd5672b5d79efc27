"""Checkpoints: atomic save, checked load, and the random-number-generator states that make resuming exact.

A checkpoint holds only tensors and plain Python values, so it loads with ``torch.load(weights_only=True)``:
nothing in it can run code.
"""

from __future__ import annotations

import errno
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgfast.io.atomic import atomic_path
from mgfast.io.dataset import layout_to_dict
from mgfast.layout import Layout

FORMAT = "mgfast-checkpoint"
FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """The global generators' states (Python, NumPy, torch CPU and CUDA) as tensors and plain values."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Writes ``state`` (plus the format tag) atomically: a reader sees the old file or the new one."""
    with atomic_path(path) as tmp:
        try:
            torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, tmp)
        except RuntimeError as error:  # torch's writer reports a failed write without the cause or the path
            if "write" not in str(error).lower():
                raise
            raise OSError(errno.EIO, "could not write the checkpoint (is the disk full or the folder read-only?)",
                          str(path)) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Reads a checkpoint onto the CPU; raises FileNotFoundError / ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train a run first (`mgfast train`)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for truncated or foreign files
        raise ValueError(f"{path}: not a readable mgfast checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not an mgfast checkpoint; pass a checkpoint written by `mgfast train`")
    return state


def check_compatible(state: dict[str, Any], path: Path, *, modality: str, layout: Layout, classes: list[dict],
                     dataset: Path) -> None:
    """Raises ValueError when the checkpoint was trained for another modality, layout or class list."""
    if state["modality"] != modality:
        raise ValueError(f"{path} is a {state['modality']} checkpoint but this run trains {modality}; "
                         f"pass --modality {state['modality']} or a {modality} checkpoint")
    theirs = state["layout"]
    if theirs != layout_to_dict(layout):
        raise ValueError(
            f"{path} was trained on keypoint layout {theirs['name']!r} ({len(theirs['names'])} joints) but {dataset} "
            f"uses {layout.name!r} ({layout.num_joints} joints, or other limbs/flip pairs); use a dataset extracted "
            "with the checkpoint's layout, or train from scratch")
    if state["classes"] != classes:
        raise ValueError(f"{path} was trained on {len(state['classes'])} classes that differ from the "
                         f"{len(classes)} classes of {dataset}; use the dataset it was trained on, or train from scratch")
