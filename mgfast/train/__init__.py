"""Training and prediction for the three branches.

Python API::

    from mgfast.train import make_config, train, predict
    config = make_config("data/ds", "heatmap", "runs/heatmap", preset="tiny", epochs=3)
    run_dir = train(config)                    # RUN/checkpoints, metrics.jsonl, curves.png, logits/*.npz
    predict(run_dir, "test", checkpoint="last")  # RUN/logits/test.npz
    fine_tune(source_run, pseudo_csv, out_dir, adapt_config)  # one CMPL round (mgfast.adapt)

Launched by ``torchrun --nproc_per_node=N``, the same calls train with DDP (see
:mod:`mgfast.train.distributed`).
"""

from mgfast.train.config import TrainConfig, make_config, presets
from mgfast.train.engine import OutOfMemory
from mgfast.train.finetune import fine_tune
from mgfast.train.loop import train
from mgfast.train.predict import predict

__all__ = ["TrainConfig", "make_config", "presets", "train", "predict", "fine_tune", "OutOfMemory"]
