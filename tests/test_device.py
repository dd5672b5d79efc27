"""One rule picks the device for every command: CUDA whenever torch sees a GPU, kernels built or not (without
them the ops run in pure PyTorch there)."""

from __future__ import annotations

import pytest
import torch

from mgfast import device, ops
from mgfast.train import distributed


@pytest.fixture
def gpu_without_kernels(monkeypatch):
    """A GPU machine whose mgfast build has no CUDA kernels (pip install without nvcc)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ops, "cuda_available", lambda: False)


@pytest.fixture
def gpu_with_kernels(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ops, "cuda_available", lambda: True)


def test_auto_takes_the_gpu_even_when_the_kernels_are_missing(gpu_without_kernels):
    # The models need no kernels and the ops fall back to PyTorch: a GPU is still the faster place.
    assert device.resolve_device("auto") == torch.device("cuda", 0)
    assert device.resolve_device("cuda", local_rank=2) == torch.device("cuda", 2)
    assert device.cuda_missing() is None
    # training asks the same question (no process group is formed in one process)
    assert distributed.setup("auto").device == torch.device("cuda", 0)


def test_auto_takes_this_process_gpu_when_both_are_there(gpu_with_kernels):
    assert device.resolve_device("auto", local_rank=3) == torch.device("cuda", 3)
    assert device.resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert device.resolve_device("cuda:2", local_rank=1) == torch.device("cuda", 2)


def test_explicit_requests(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_device("cpu") == torch.device("cpu")
    assert device.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        device.resolve_device("cuda:0")
    for bad in ("tpu", "gpu", "mps"):
        with pytest.raises(ValueError, match="auto, cpu, cuda or cuda:N"):
            device.resolve_device(bad)
