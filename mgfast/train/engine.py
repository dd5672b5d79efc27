"""Pieces shared by training and prediction: the branch's input pipeline and network from a config, the
training objective, mixed precision, and test-time inference with view averaging."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import torch
from torch import nn

from mgfast.branches import branch
from mgfast.data import ClipDataset, ClipInput, make_loader
from mgfast.data.splits import Sample
from mgfast.io.dataset import Dataset
from mgfast.layout import Layout
from mgfast.losses import OSELoss, WeightedCrossEntropy
from mgfast.train.config import TrainConfig
from mgfast.train.distributed import Context, all_gather_objects


class OutOfMemory(RuntimeError):
    """CUDA ran out of memory; the message says what to change."""


def oom_message(config: TrainConfig, batch_size: int) -> str:
    hint = "" if config.amp else " or turn on mixed precision (--amp)"
    return (f"CUDA out of memory at batch size {batch_size} ({config.modality}, clip_len {config.clip_len}): "
            f"lower --batch-size (e.g. {max(batch_size // 2, 1)}){hint}")


def make_input(config: TrainConfig, layout: Layout) -> ClipInput:
    """The branch's input pipeline with the config's sizes, augmentation and ``input`` table."""
    return branch(config.modality).make_input(layout, dataclasses.asdict(config), config.input)


def build_network(config: TrainConfig, layout: Layout, num_classes: int, clip_input: ClipInput, *,
                  pretrained: bool = True) -> nn.Module:
    """The branch's network; ``pretrained=False`` skips the ``weights`` file of the model options (the caller
    loads a checkpoint over them)."""
    options = {**clip_input.network_options(), **config.model}
    if not pretrained:
        options.pop("weights", None)
    return branch(config.modality).build_network(layout, num_classes, options)


class Objective(nn.Module):
    """The network and its training loss in one module, so DDP synchronises every trained parameter
    (the OSE projection head included): ``forward(x, target, weight) -> (loss, logits)``."""

    def __init__(self, model: nn.Module, class_weight: torch.Tensor | None, label_smoothing: float,
                 ose: OSELoss | None, ose_weight: float):
        super().__init__()
        self.model = model
        self.ce = WeightedCrossEntropy(class_weight, label_smoothing)
        self.ose = ose
        self.ose_weight = ose_weight

    def forward(self, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, features = self.model(x)
        loss = self.ce(logits.float(), target, weight)
        if self.ose is not None:
            loss = loss + self.ose_weight * self.ose(features.float(), target, weight)
        return loss, logits


def amp_enabled(config: TrainConfig, device: torch.device) -> bool:
    """Mixed precision runs on CUDA only (float16 with loss scaling)."""
    return config.amp and device.type == "cuda"


def autocast(enabled: bool, device: torch.device):
    return torch.autocast(device.type, dtype=torch.float16) if enabled else contextlib.nullcontext()


def input_dtype(enabled: bool) -> torch.dtype:
    """Inputs are rendered / cropped straight into half precision under mixed precision: half the bytes."""
    return torch.float16 if enabled else torch.float32


def inference_loader(dataset: Dataset, samples: list[Sample], clip_input: ClipInput, *, num_clips: int,
                     batch_size: int, workers: int, context: Context):
    data = ClipDataset(dataset, samples, clip_input, train=False, num_clips=num_clips)
    return make_loader(data, batch_size=batch_size, workers=workers, rank=context.rank,
                       world_size=context.world_size, pin_memory=context.device.type == "cuda")


@torch.no_grad()
def infer(model: nn.Module, loader, clip_input: ClipInput, num_samples: int, num_classes: int, *, amp: bool,
          context: Context, progress=None) -> np.ndarray:
    """float32 ``[num_samples, C]``: per sample, the logits averaged over its test-time views, gathered from
    every rank (each rank scores its shard; padding repeats are dropped)."""
    model.eval()
    rows: list[np.ndarray] = []
    values: list[np.ndarray] = []
    dtype = input_dtype(amp)
    for batch in loader:
        b = len(batch["index"])
        total, views = None, 0
        with autocast(amp, context.device):
            for x in clip_input.eval_views(batch, context.device, dtype):
                logits = model(x)[0].float().view(-1, b, num_classes)
                total = logits.sum(0) if total is None else total + logits.sum(0)
                views += logits.shape[0]
        rows.append(batch["index"].numpy())
        values.append((total / views).cpu().numpy())
        if progress is not None:
            progress.update(b)
    local = (np.concatenate(rows) if rows else np.zeros(0, np.int64),
             np.concatenate(values) if values else np.zeros((0, num_classes), np.float32))
    out = np.full((num_samples, num_classes), np.nan, np.float32)
    for index, logits in all_gather_objects(context, local):
        out[index] = logits
    return out
