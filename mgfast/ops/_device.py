"""Where a native kernel runs: on the CPU, or on the CUDA device of its inputs in torch's current stream."""

from __future__ import annotations

import torch

from mgfast._native import _C


def cuda_available() -> bool:
    """Whether the CUDA kernels were compiled in and a CUDA device is visible."""
    return bool(_C.cuda_compiled) and torch.cuda.is_available()


def launch_target(t: torch.Tensor) -> tuple[int, int]:
    """(device index, stream handle) for the native call: (-1, 0) on CPU."""
    if t.device.type == "cpu":
        return -1, 0
    if t.device.type != "cuda":
        raise ValueError(f"mgfast ops run on CPU or CUDA tensors, got a tensor on {t.device}")
    if not _C.cuda_compiled:
        raise RuntimeError(
            "got CUDA tensors, but this mgfast build has no CUDA kernels; reinstall with nvcc on PATH "
            "(see README: Building for a GPU) or move the inputs to the CPU"
        )
    index = t.device.index if t.device.index is not None else torch.cuda.current_device()
    return index, torch.cuda.current_stream(index).cuda_stream
