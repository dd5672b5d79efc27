"""Fine-tuning a trained run on its labelled clips plus pseudo-labelled ones (a CMPL round, see mgfast.adapt)."""

from __future__ import annotations

from pathlib import Path

from mgfast.runs import RUN_FILE, Run, checkpoint_path
from mgfast.train.config import TrainConfig
from mgfast.train.loop import train


def fine_tune_config(source: Run, pseudo_csv: Path, out_dir: Path, *, epochs: int | None, lr_scale: float) -> TrainConfig:
    """The source run's settings, started from its best checkpoint, on its training clips plus ``pseudo_csv``
    (weights as the CSV gives them), for ``epochs`` (default a quarter of the source's, at least 1) at
    ``lr_scale`` times its learning rate; warm-up at most a quarter of the epochs, step milestones scaled."""
    base = TrainConfig.from_dict(source.config, str(source.path / RUN_FILE))
    n = epochs if epochs is not None else max(1, base.epochs // 4)
    config = TrainConfig.from_dict({
        **base.to_dict(),
        "dataset": str(source.dataset), "out": str(out_dir), "epochs": n, "lr": base.lr * lr_scale,
        "warmup_epochs": min(base.warmup_epochs, n / 4),
        "milestones": [max(1, round(m * n / base.epochs)) for m in base.milestones],
        "init_from": str(checkpoint_path(source.path, "best")), "pseudo_labels": str(pseudo_csv),
        "pseudo_weight": 1.0, "resume": (Path(out_dir) / RUN_FILE).is_file(),
    })
    return config.validate()


def fine_tune(source: Run, pseudo_csv: Path, out_dir: Path, adapt_config) -> Path:
    """Trains ``out_dir`` from ``source`` with ``adapt_config``'s epochs and learning-rate scale
    (:class:`mgfast.adapt.AdaptConfig`); an interrupted fine-tune resumes from its last checkpoint."""
    config = fine_tune_config(source, Path(pseudo_csv), Path(out_dir), epochs=adapt_config.epochs,
                              lr_scale=adapt_config.lr_scale)
    return train(config)
