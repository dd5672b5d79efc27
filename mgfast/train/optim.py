"""Optimizer and per-iteration learning-rate schedule of a run."""

from __future__ import annotations

import math

import torch
from torch import nn

from mgfast.train.config import TrainConfig


def scaled_lr(config: TrainConfig, world_size: int) -> float:
    """The peak learning rate: ``lr`` for ``lr_batch`` clips, scaled linearly to the global batch."""
    return config.lr * config.batch_size * world_size / config.lr_batch


def build_optimizer(module: nn.Module, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """SGD (weight decay on every parameter, as PoseC3D and DSTA-Net) or AdamW (no decay on biases and
    normalisation weights, i.e. parameters with one dimension, as Video Swin)."""
    params = [p for p in module.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay,
                               nesterov=config.nesterov and config.momentum > 0)
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(config.betas))


def lr_factor(step: int, *, steps_per_epoch: int, config: TrainConfig) -> float:
    """Multiplier of the peak lr before iteration ``step`` (0-based): linear warm-up, then cosine to
    ``min_lr`` or steps of ``gamma`` at the ``milestones`` (epochs)."""
    total = config.epochs * steps_per_epoch
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "cosine":
        progress = (step - warmup) / max(total - warmup, 1)
        return config.min_lr + (1 - config.min_lr) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    epoch = step / steps_per_epoch
    return config.gamma ** sum(epoch >= m for m in config.milestones)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps_per_epoch=steps_per_epoch, config=config))
