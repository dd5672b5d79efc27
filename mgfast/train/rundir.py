"""The files of a run directory that training writes besides checkpoints and logits.

::

    RUN/run.json               {"modality", "dataset", "layout", "classes", "config"}
    RUN/checkpoints/{best,last}.pt
    RUN/metrics.jsonl          one JSON object per epoch
    RUN/curves.png             loss and validation metrics per epoch
    RUN/logits/<split>.npz     see mgfast.runs
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from mgfast.io.atomic import atomic_path, atomic_write_text
from mgfast.io.dataset import Clip, Dataset, layout_to_dict
from mgfast.runs import LOGITS_DIR, RUN_FILE

CHECKPOINTS = "checkpoints"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"


def checkpoint_path(run_dir: Path, name: str) -> Path:
    """``best`` or ``last`` within the run, or any other path as given."""
    return run_dir / CHECKPOINTS / f"{name}.pt" if name in ("best", "last") else Path(name)


def write_run_file(run_dir: Path, *, modality: str, dataset: Dataset, config: dict) -> None:
    info = {"modality": modality, "dataset": str(dataset.root.resolve()), "layout": layout_to_dict(dataset.layout),
            "classes": [asdict(c) for c in dataset.classes], "config": config}
    atomic_write_text(run_dir / RUN_FILE, json.dumps(info, indent=2) + "\n")


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    atomic_write_text(run_dir / METRICS_FILE, "".join(json.dumps(row) + "\n" for row in history))


def plot_curves(run_dir: Path, history: list[dict]) -> None:
    """Training and validation loss, and validation accuracy / macro-F1, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, score_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], label="train")
    if any("val_loss" in row for row in history):
        loss_ax.plot(epochs, [row.get("val_loss", np.nan) for row in history], label="val")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    score_ax.plot(epochs, [row["train_accuracy"] for row in history], label="train accuracy")
    for key, label in (("val_accuracy", "val accuracy (micro-F1)"), ("val_macro_f1", "val macro-F1")):
        if any(key in row for row in history):
            score_ax.plot(epochs, [row.get(key, np.nan) for row in history], label=label)
    score_ax.set(xlabel="epoch", ylim=(0, 1), title="scores")
    score_ax.legend()
    fig.tight_layout()
    with atomic_path(run_dir / CURVES_FILE) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def write_logits(run_dir: Path, split: str, clips: list[Clip], labels: np.ndarray, logits: np.ndarray) -> Path:
    """``RUN/logits/<split>.npz`` with the keys mgfast.runs.load_logits reads; returns its path."""
    path = run_dir / LOGITS_DIR / f"{split}.npz"
    hidden = np.array([-1 if c.hidden_label is None else c.hidden_label for c in clips], np.int64)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, clip_ids=np.array([c.clip_id for c in clips], dtype=str), logits=logits.astype(np.float32),
                 labels=labels.astype(np.int64), hidden_labels=hidden)
    return path
