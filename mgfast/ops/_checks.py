"""Argument checks shared by the ops: each failure names the argument and what was expected."""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Iterator, Sequence

import torch

OUTPUT_DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
"""Output dtypes the kernels write, with their code in the native interface."""

MAX_SIDE = 1 << 15
"""The largest image side (pixels) an op takes or writes: larger ones are input garbage, and their index
arithmetic would leave the kernels' 32-bit ranges."""

MISSING_COORDINATE = 1e6
"""Coordinates beyond this many pixels are detector garbage and count as not detected (also in the kernels)."""


OutOfMemoryError = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


@contextlib.contextmanager
def memory_errors(op: str, shape: Sequence[int], dtype: torch.dtype) -> Iterator[None]:
    """Turns a failed allocation of an op's output or scratch space (torch's allocator error, or the native
    code's ``std::bad_alloc`` as MemoryError) into ``OutOfMemoryError`` naming the op and the output size."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        text = str(error)
        if not (isinstance(error, MemoryError) or "can't allocate memory" in text or "out of memory" in text):
            raise
        numel = math.prod(shape)
        gib = numel * torch.empty(0, dtype=dtype).element_size() / 2**30
        raise OutOfMemoryError(f"{op}: not enough memory for an output of shape {list(shape)} ({dtype}, "
                               f"{gib:.1f} GiB) and its working space; ask for a smaller size or batch") from None


def tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def floating(name: str, value: object) -> torch.Tensor:
    """A floating-point tensor as contiguous float32 (other float dtypes are converted), detached: the ops
    have no backward, so their outputs must not claim a gradient they cannot give."""
    t = tensor(name, value)
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    return t.detach().to(torch.float32).contiguous()


def same_device(name: str, t: torch.Tensor, reference_name: str, reference: torch.Tensor) -> None:
    if t.device != reference.device:
        raise ValueError(f"{name} is on {t.device} but {reference_name} is on {reference.device}; move both to one device")


def positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def finite_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _side(value: object) -> int | None:
    """A positive image side up to :data:`MAX_SIDE` (any integer type, numpy's included), else None."""
    if isinstance(value, bool):
        return None
    try:
        side = operator.index(value)
    except TypeError:
        return None
    return side if 0 < side <= MAX_SIDE else None


def non_negative_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return float(value)


def size2(name: str, value: object) -> tuple[int, int]:
    """``(height, width)`` from an int (square) or a pair of ints, each in [1, :data:`MAX_SIDE`]."""
    single = _side(value)
    pair = (single, single) if single is not None else value
    sides = [_side(v) for v in pair] if isinstance(pair, (Sequence, torch.Size)) and len(pair) == 2 else [None]
    if None in sides:
        raise ValueError(f"{name} must be an int or a (height, width) pair of ints, each from 1 to {MAX_SIDE}, "
                         f"got {value!r}")
    return sides[0], sides[1]


def output_dtype(name: str, value: object) -> torch.dtype:
    if value not in OUTPUT_DTYPES:
        allowed = ", ".join(str(d) for d in OUTPUT_DTYPES)
        raise TypeError(f"{name} must be one of {allowed}, got {value!r}")
    return value  # type: ignore[return-value]


def channel_stats(name: str, value: object, default: float) -> list[float]:
    """Three per-channel floats (mean or std), or ``default`` for each when None."""
    if value is None:
        return [default] * 3
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if (
        not isinstance(value, Sequence)
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise ValueError(f"{name} must be three finite numbers (one per RGB channel), got {value!r}")
    return [float(v) for v in value]


def index_pairs(name: str, value: object, num_joints: int) -> list[tuple[int, int]]:
    """Joint index pairs from a sequence of pairs or an ``[L, 2]`` integer tensor, each index in range."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.dim() != 2 or value.shape[1] != 2:
            raise ValueError(f"{name} must be an integer tensor of shape [L, 2], got {value.dtype} {tuple(value.shape)}")
        value = value.tolist()
    try:
        pairs = [(int(a), int(b)) for a, b in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of (a, b) joint index pairs, got {value!r}") from None
    for a, b in pairs:
        if not (0 <= a < num_joints and 0 <= b < num_joints):
            raise ValueError(f"{name}: pair ({a}, {b}) indexes outside the {num_joints} joints")
    return pairs
