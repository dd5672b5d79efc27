"""Scoring a split with a trained run: ``predict(run_dir, split, checkpoint) -> logits file``.

Each clip is scored on ``num_clips`` fixed temporal samplings (and their flipped copies when the run's
``test_flip`` is on) and the logits averaged, then written to ``RUN/logits/<split>.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from mgfast.data import ClipInput
from mgfast.data.splits import Sample
from mgfast.io.dataset import Clip, Dataset
from mgfast.runs import RUN_FILE, checkpoint_path, logits_path, read_run, write_logits
from mgfast.train import checkpoint as ckpt
from mgfast.train import distributed
from mgfast.train.config import TrainConfig, config_splits, open_dataset
from mgfast.train.engine import (OutOfMemory, amp_enabled, build_network, inference_loader, infer, make_input,
                                    oom_message)


def write_split_logits(run_dir: Path, split: str, clips: list[Clip], model: nn.Module, clip_input: ClipInput,
                       config: TrainConfig, dataset: Dataset, context: distributed.Context, *,
                       batch_size: int | None = None, workers: int | None = None) -> Path:
    """Scores ``clips`` with test-time augmentation and writes ``RUN/logits/<split>.npz`` (rank 0)."""
    labels = np.array([-1 if c.label is None else c.label for c in clips], np.int64)
    samples = [Sample(c, int(y)) for c, y in zip(clips, labels)]
    loader = inference_loader(dataset, samples, clip_input, num_clips=config.num_clips,
                              batch_size=batch_size or config.eval_batch_size or config.batch_size,
                              workers=config.workers if workers is None else workers, context=context)
    with tqdm(total=len(loader.batch_sampler.sampler), desc=f"scoring {split}", unit="clip", leave=False,
              disable=not (config.progress and context.is_main)) as bar:
        logits = infer(model, loader, clip_input, len(samples), dataset.num_classes,
                       amp=amp_enabled(config, context.device), context=context, progress=bar)
    path = logits_path(run_dir, split)
    if context.is_main:
        write_logits(run_dir, split, clips, labels, logits)
    distributed.barrier(context)
    return path


def predict(run_dir: str | Path, split: str = "test", checkpoint: str = "best", *, dataset: str | Path | None = None,
            batch_size: int | None = None, workers: int | None = None, device: str | None = None) -> Path:
    """Writes ``run_dir/logits/<split>.npz`` from a checkpoint (``best``, ``last`` or a path); returns its path.

    ``dataset`` overrides the dataset directory recorded in ``run.json`` (e.g. after moving it); it must have
    the run's layout and classes.
    """
    run = read_run(run_dir)
    run_dir = Path(run_dir)
    config = TrainConfig.from_dict(run.config, str(run_dir / RUN_FILE))
    data = open_dataset(config, dataset if dataset is not None else run.dataset)
    splits = config_splits(data, config)
    clips = splits.get(split)
    if not clips:
        raise ValueError(f"split {split!r} of {data.root} has no clips; choose another --split")
    path = checkpoint_path(run_dir, checkpoint)
    state = ckpt.load_checkpoint(path)
    ckpt.check_compatible(state, path, modality=run.modality, layout=data.layout,
                          classes=[{"index": c.index, "code": c.code, "name": c.name} for c in data.classes],
                          dataset=data.root)
    context = distributed.setup(device or config.device)
    try:
        clip_input = make_input(config, data.layout)
        model = build_network(config, data.layout, data.num_classes, clip_input, pretrained=False)
        model.load_state_dict(state["model"])
        model.to(context.device)
        return write_split_logits(run_dir, split, clips, model, clip_input, config, data, context,
                                  batch_size=batch_size, workers=workers)
    except torch.cuda.OutOfMemoryError as error:
        raise OutOfMemory(oom_message(config, batch_size or config.eval_batch_size or config.batch_size)) from error
    finally:
        distributed.teardown(context)
