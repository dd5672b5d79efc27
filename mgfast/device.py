"""Where mgfast computes: the one rule behind every command's ``--device`` (extraction, training, prediction).

``auto`` picks CUDA whenever torch sees a GPU, with or without mgfast's CUDA kernels: a build without nvcc
(the common pip case) runs the heatmap and crop ops in pure PyTorch on the GPU, with a one-time warning
that says how to build the kernels, and the models, which never needed the kernels, train at GPU speed. A
GPU is faster than the CPU even then, so the CPU is never picked silently over one. ``cuda`` / ``cuda:N``
ask for the GPU outright and fail when torch sees none.
"""

from __future__ import annotations

import torch

DEVICES_HELP = "auto, cpu, cuda or cuda:N"


def cuda_missing() -> str | None:
    """Why mgfast cannot compute on CUDA here, or None when it can."""
    if not torch.cuda.is_available():
        return "torch sees no CUDA GPU"
    return None


def resolve_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """The device for ``requested`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``); ``auto`` and a bare ``cuda``
    mean this process's GPU (``local_rank`` under torchrun). Raises ValueError naming what is missing."""
    if requested == "auto":
        return torch.device("cpu") if cuda_missing() else torch.device("cuda", local_rank)
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"device must be {DEVICES_HELP}, got {requested!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be {DEVICES_HELP}, got {requested!r}")
    if device.type == "cuda":
        missing = cuda_missing()
        if missing:
            raise ValueError(f"--device {requested}: {missing}; use --device cpu or auto")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device
