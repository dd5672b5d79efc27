"""Distributed data parallel set-up from ``torchrun``'s environment, and the few collectives training needs.

``torchrun --nproc_per_node=N ...`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``) makes the same training command run as one process per device: NCCL on
GPUs, Gloo on CPUs. Without those variables everything runs in one process and the collectives are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mgfast.device import resolve_device


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank, the world size, and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool = False  # this set-up created the process group, so teardown destroys it

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer; launch with torchrun") from None


def setup(requested_device: str = "auto") -> Context:
    """Joins the process group when launched by torchrun (idempotent), and picks this process's device."""
    world_size = _env_int("WORLD_SIZE") or 1
    rank = _env_int("RANK") or 0
    local_rank = _env_int("LOCAL_RANK") or 0
    device = resolve_device(requested_device, local_rank)
    owns_group = world_size > 1 and not dist.is_initialized()
    if owns_group:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size,
                                device_id=device if device.type == "cuda" else None)
    return Context(rank, world_size, local_rank, device, owns_group)


def teardown(context: Context) -> None:
    """Leaves the process group if :func:`setup` created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def all_gather_objects(context: Context, value: object) -> list[object]:
    """Every rank's ``value``, in rank order (``[value]`` in one process)."""
    if not context.distributed:
        return [value]
    gathered: list[object] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_object(context: Context, value: object) -> object:
    """Rank 0's ``value`` on every rank."""
    if not context.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(context: Context, values: torch.Tensor) -> torch.Tensor:
    """Elementwise sum over ranks (a copy in one process)."""
    values = values.clone()
    if context.distributed:
        dist.all_reduce(values)
    return values
