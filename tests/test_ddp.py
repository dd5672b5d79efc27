"""DDP with Gloo on two CPU processes: the same gradients as one process, and a full distributed run."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from ddp_worker import BATCH, config, frozen_norms, worker
from mgfast import data
from mgfast.data.splits import SPLIT_NAMES
from mgfast.io.dataset import Dataset
from mgfast.runs import load_logits
from mgfast.train import predict
from mgfast.train.config import config_splits
from mgfast.train.engine import Objective, build_network, make_input
from tiny_dataset import make_dataset

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one(tmp_path):
    root = make_dataset(tmp_path / "ds", subjects=4, clips_per_subject=4)
    mp.spawn(worker, args=(2, _free_port(), str(root), str(tmp_path)), nprocs=2, join=True)

    # One process on the union of both ranks' first batches gives the same gradients.
    union = torch.cat([torch.load(tmp_path / f"indices_{r}.pt") for r in range(2)])
    ds = Dataset(root)
    cfg = config(root, tmp_path / "unused")
    clip_input = make_input(cfg, ds.layout)
    torch.manual_seed(0)
    objective = frozen_norms(Objective(build_network(cfg, ds.layout, ds.num_classes, clip_input), None, 0.0, None, 0.0).train())
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
    for split in SPLIT_NAMES:
        logits = load_logits(run, split)
        clips = config_splits(ds, cfg).get(split)
        assert sorted(logits.clip_ids.tolist()) == sorted(c.clip_id for c in clips)
    distributed_test = load_logits(run, "test")
    predict(run, "test", "best", device="cpu")
    single = load_logits(run, "test")
    assert single.clip_ids.tolist() == distributed_test.clip_ids.tolist()
    np.testing.assert_allclose(single.logits, distributed_test.logits, rtol=1e-4, atol=1e-5)
