"""The worker of tests/test_ddp.py, in its own top-level module: spawned processes unpickle the worker
function by module name, and tests/ (on the test path) is importable there, the test package is not."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mgfast import data
from mgfast.io.dataset import Dataset
from mgfast.train import distributed, make_config, train
from mgfast.train.engine import Objective, build_network, make_input

BATCH = 3  # per process


def config(root: Path, out: Path):
    return make_config(root, "joint", out, preset="tiny", epochs=1, batch_size=BATCH, clip_len=6, num_clips=2,
                      workers=0, progress=False, class_weights="none",
                      model={"dims": 8, "num_blocks": 1, "heads": 1, "dropout": 0.0})


def frozen_norms(module: nn.Module) -> nn.Module:
    """Batch norm on running statistics: each process then computes what one process would on the union."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return module


def _step_gradients(root: Path, rank: int, world_size: int, batch_size: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Gradients of one training step on the first batch this rank's loader yields, and that batch's indices."""
    context = distributed.setup("cpu")
    cfg = config(root, root.parent / "unused")
    ds = Dataset(root)
    clip_input = make_input(cfg, ds.layout)
    torch.manual_seed(0)
    objective = Objective(build_network(cfg, ds.layout, ds.num_classes, clip_input), None, 0.0, None, 0.0)
    model = DistributedDataParallel(objective) if context.distributed else objective
    frozen_norms(model.train())
    samples = [data.Sample(c, c.label) for c in data.resolve_splits(ds).train]
    loader = data.make_loader(data.ClipDataset(ds, samples, clip_input, train=True, seed=1), batch_size=batch_size,
                              rank=rank, world_size=world_size, seed=1)
    batch = next(iter(loader))
    loss, _ = model(clip_input.train_batch(batch, context.device, torch.float32), batch["label"], batch["weight"])
    loss.backward()
    return {name: p.grad.clone() for name, p in objective.named_parameters()}, batch["index"]


def worker(rank: int, world_size: int, port: int, root: str, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    grads, indices = _step_gradients(Path(root), rank, world_size, BATCH)
    if rank == 0:
        torch.save({"grads": grads}, Path(out) / "ddp_grads.pt")
    torch.save(indices, Path(out) / f"indices_{rank}.pt")
    train(config(Path(root), Path(out) / "run"))  # joins the existing group, leaves it to this worker
    torch.distributed.destroy_process_group()
