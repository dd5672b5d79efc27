"""Pieces shared by the model families: argument checks and the pooled-feature classifier head."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def int_tuple(name: str, value: object, length: int | None = None, minimum: int = 1) -> tuple[int, ...]:
    """A tuple of ints >= ``minimum`` (of ``length`` items when given) from any sequence of ints."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a sequence of ints, got {value!r}")
    items = tuple(value)
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in items):
        raise ValueError(f"{name} must be a non-empty sequence of ints >= {minimum}, got {value!r}")
    if length is not None and len(items) != length:
        raise ValueError(f"{name} must have {length} items, got {len(items)}: {value!r}")
    return items


def probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_input(x: object, shape: tuple[int | None, ...], what: str) -> torch.Tensor:
    """Checks a model input against ``shape`` (None = any size) and returns it; the error names the layout."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} input must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{what} input must be a floating-point tensor, got {x.dtype}")
    if x.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape)):
        expected = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{what} input must have shape {expected}, got {list(x.shape)}")
    return x


class ClassifierHead(nn.Module):
    """Dropout then a linear layer, applied to pooled features ``[B, D]``."""

    def __init__(self, feature_dim: int, num_classes: int, dropout: float, init_std: float | None = None) -> None:
        super().__init__()
        self.dropout = nn.Dropout(probability("dropout", dropout))
        self.fc = nn.Linear(feature_dim, num_classes)
        if init_std is not None:
            nn.init.normal_(self.fc.weight, std=init_std)
            nn.init.zeros_(self.fc.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features))
