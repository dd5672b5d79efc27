"""torch datasets and loaders over a list of samples, for one branch's input pipeline.

Randomness is tied to the data, not to the workers: a training sample's augmentation draws from a
generator seeded with ``(seed, epoch, sample index)``, and the sampler passes the epoch along with each
index. The same seed therefore gives the same batches for any number of workers, in one process or under
DDP, and a run resumed at an epoch boundary continues exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, Sampler

from mgfast.data.inputs import ClipInput
from mgfast.data.splits import Sample
from mgfast.io.dataset import Dataset


class ClipDataset(torch.utils.data.Dataset):
    """Samples through a branch's worker-side pipeline; items are indexed by ``(epoch, index)``.

    Each item is the branch's arrays plus ``label`` (int64, -1 unlabelled), ``weight`` (float32) and
    ``index`` (int64, position in ``samples``).
    """

    def __init__(self, dataset: Dataset, samples: list[Sample], clip_input: ClipInput, *, train: bool,
                 num_clips: int = 1, seed: int = 0):
        self.dataset, self.samples, self.input = dataset, samples, clip_input
        self.train, self.num_clips, self.seed = train, num_clips, seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, np.ndarray]:
        epoch, index = key
        sample = self.samples[index]
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        item = self.input.load(self.dataset, sample.clip, train=self.train, num_clips=self.num_clips, rng=rng)
        item.update(label=np.int64(sample.label), weight=np.float32(sample.weight), index=np.int64(index))
        return item


class EpochSampler(Sampler):
    """Wraps a :class:`DistributedSampler`, yielding ``(epoch, index)`` pairs."""

    def __init__(self, inner: DistributedSampler):
        self.inner = inner
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, i) for i in self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def collate(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor | list[torch.Tensor]]:
    """Stacks each key's arrays; arrays of different shapes (crop clips of different sizes) stay a list."""
    batch: dict[str, torch.Tensor | list[torch.Tensor]] = {}
    for key in items[0]:
        tensors = [torch.from_numpy(np.asarray(item[key])) for item in items]
        same = all(t.shape == tensors[0].shape for t in tensors)
        batch[key] = torch.stack(tensors) if same else tensors
    return batch


def make_loader(data: ClipDataset, *, batch_size: int, workers: int = 0, rank: int = 0, world_size: int = 1,
                seed: int = 0, pin_memory: bool = False) -> DataLoader:
    """A loader over this process's share of ``data``: shuffled with ``seed`` and the epoch when training
    (call ``loader.batch_sampler.sampler.set_epoch``); training drops the last incomplete batch when there is
    at least one full batch (batch norm cannot train on a single clip)."""
    inner = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=data.train, seed=seed,
                               drop_last=False)
    per_rank = len(inner)
    drop_last = data.train and per_rank >= batch_size
    sampler = BatchSampler(EpochSampler(inner), batch_size, drop_last=drop_last)
    return DataLoader(data, batch_sampler=sampler, num_workers=workers, collate_fn=collate, pin_memory=pin_memory,
                      persistent_workers=workers > 0)


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Selects the epoch of ``loader``'s shuffling and augmentation."""
    loader.batch_sampler.sampler.set_epoch(epoch)
