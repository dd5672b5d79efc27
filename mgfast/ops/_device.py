"""Where an op runs: its native kernel (CPU, or the CUDA device of its inputs in torch's current stream), or
its pure-PyTorch implementation on a device this build has no kernel for.

A pip install without a CUDA compiler has CPU kernels only; on its GPU the ops still work, in PyTorch,
with a one-time :class:`MissingKernelWarning` per device type that says how to build the kernels.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from mgfast._native import _C

_forced = False
_warned: set[str] = set()


class MissingKernelWarning(UserWarning):
    """mgfast's ops run in pure PyTorch on a device because this build has no native kernel for it."""


def cuda_available() -> bool:
    """Whether the CUDA kernels were compiled in and a CUDA device is visible."""
    return bool(_C.cuda_compiled) and torch.cuda.is_available()


def native_kernels(device: torch.device) -> bool:
    """Whether this build has native kernels for tensors on ``device``."""
    return device.type == "cpu" or (device.type == "cuda" and bool(_C.cuda_compiled))


@contextlib.contextmanager
def pure_pytorch() -> Iterator[None]:
    """Runs the ops in their pure-PyTorch implementation on every device while the block runs (to compare
    it with the native kernels, or to rule a kernel out). Process-wide, not per thread."""
    global _forced
    previous, _forced = _forced, True
    try:
        yield
    finally:
        _forced = previous


def _missing_message(device: torch.device) -> str:
    if device.type == "cuda":
        cuda = f"{torch.version.cuda or '13.0'}.*"  # the wheels of torch's own CUDA version
        how = ("this mgfast build has no CUDA kernels (it was built without nvcc); to build them, install NVIDIA's "
               f"compiler wheels, pip install nvidia-cuda-nvcc=={cuda} nvidia-nvvm=={cuda} nvidia-cuda-crt=={cuda} "
               f"nvidia-cuda-runtime=={cuda}, then reinstall mgfast from its source, pip install --no-deps "
               "--force-reinstall . (see README: Building for a GPU)")
    else:
        how = f"mgfast has native kernels for CPU and CUDA only, not for {device.type}"
    return f"mgfast ops on {device.type} run in pure PyTorch (same results, slower): {how}"


def runs_native(t: torch.Tensor) -> bool:
    """Whether an op on ``t``'s device runs its native kernel; if not, warns once per device type."""
    if _forced:
        return False
    if native_kernels(t.device):
        return True
    if t.device.type not in _warned:
        _warned.add(t.device.type)
        warnings.warn(_missing_message(t.device), MissingKernelWarning, stacklevel=2)
    return False


def launch_target(t: torch.Tensor) -> tuple[int, int]:
    """(device index, stream handle) for the native call: (-1, 0) on CPU. Only for devices with kernels."""
    if t.device.type == "cpu":
        return -1, 0
    index = t.device.index if t.device.index is not None else torch.cuda.current_device()
    return index, torch.cuda.current_stream(index).cuda_stream
