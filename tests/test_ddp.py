"""DDP with Gloo on two CPU processes: the same gradients as one process, and a full distributed run."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mgfast import data
from mgfast.io.dataset import Dataset
from mgfast.runs import load_logits
from mgfast.train import make_config, predict, train
from mgfast.train import distributed
from mgfast.train.engine import Objective, build_network, make_input
from tiny_dataset import make_dataset

BATCH = 3  # per process


def _config(root: Path, out: Path):
    return make_config(root, "joint", out, preset="tiny", epochs=1, batch_size=BATCH, clip_len=6, num_clips=2,
                       workers=0, progress=False, class_weights="none",
                       model={"dims": 8, "num_blocks": 1, "heads": 1, "dropout": 0.0})


def _frozen_norms(module: nn.Module) -> nn.Module:
    """Batch norm on running statistics: each process then computes what one process would on the union."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return module


def _step_gradients(root: Path, rank: int, world_size: int, batch_size: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Gradients of one training step on the first batch this rank's loader yields, and that batch's indices."""
    context = distributed.setup("cpu")
    cfg = _config(root, root.parent / "unused")
    ds = Dataset(root)
    clip_input = make_input(cfg, ds.layout)
    torch.manual_seed(0)
    objective = Objective(build_network(cfg, ds.layout, ds.num_classes, clip_input), None, 0.0, None, 0.0)
    model = DistributedDataParallel(objective) if context.distributed else objective
    _frozen_norms(model.train())
    samples = [data.Sample(c, c.label) for c in data.resolve_splits(ds).train]
    loader = data.make_loader(data.ClipDataset(ds, samples, clip_input, train=True, seed=1), batch_size=batch_size,
                              rank=rank, world_size=world_size, seed=1)
    batch = next(iter(loader))
    loss, _ = model(clip_input.train_batch(batch, context.device, torch.float32), batch["label"], batch["weight"])
    loss.backward()
    return {name: p.grad.clone() for name, p in objective.named_parameters()}, batch["index"]


def _worker(rank: int, world_size: int, port: int, root: str, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    grads, indices = _step_gradients(Path(root), rank, world_size, BATCH)
    if rank == 0:
        torch.save({"grads": grads}, Path(out) / "ddp_grads.pt")
    torch.save(indices, Path(out) / f"indices_{rank}.pt")
    train(_config(Path(root), Path(out) / "run"))  # joins the existing group, leaves it to this worker
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one(tmp_path):
    root = make_dataset(tmp_path / "ds", subjects=4, clips_per_subject=4)
    mp.spawn(_worker, args=(2, _free_port(), str(root), str(tmp_path)), nprocs=2, join=True)

    # One process on the union of both ranks' first batches gives the same gradients.
    union = torch.cat([torch.load(tmp_path / f"indices_{r}.pt") for r in range(2)])
    ds = Dataset(root)
    cfg = _config(root, tmp_path / "unused")
    clip_input = make_input(cfg, ds.layout)
    torch.manual_seed(0)
    objective = _frozen_norms(Objective(build_network(cfg, ds.layout, ds.num_classes, clip_input), None, 0.0, None, 0.0).train())
    samples = [data.Sample(c, c.label) for c in data.resolve_splits(ds).train]
    items = data.ClipDataset(ds, samples, clip_input, train=True, seed=1)
    batch = data.collate([items[(0, int(i))] for i in union])
    loss, _ = objective(clip_input.train_batch(batch, torch.device("cpu"), torch.float32), batch["label"], batch["weight"])
    loss.backward()
    ddp = torch.load(tmp_path / "ddp_grads.pt")["grads"]
    assert len(set(union.tolist())) == 2 * BATCH
    for name, p in objective.named_parameters():
        torch.testing.assert_close(ddp[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)

    # The distributed run wrote one row per clip, scored as one process scores them.
    run = tmp_path / "run"
    for split in ("train", "val", "test"):
        logits = load_logits(run, split)
        clips = data.resolve_splits(ds).get(split)
        assert sorted(logits.clip_ids.tolist()) == sorted(c.clip_id for c in clips)
    distributed_test = load_logits(run, "test")
    predict(run, "test", "best", device="cpu")
    single = load_logits(run, "test")
    assert single.clip_ids.tolist() == distributed_test.clip_ids.tolist()
    np.testing.assert_allclose(single.logits, distributed_test.logits, rtol=1e-4, atol=1e-5)
