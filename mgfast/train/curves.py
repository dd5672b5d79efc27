"""The training curves of a run: ``RUN/curves.png``, drawn from its per-epoch metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mgfast.io.figures import save_figure
from mgfast.runs import CURVES_FILE


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
    save_figure(fig, run_dir / CURVES_FILE, dpi=100)
    plt.close(fig)
