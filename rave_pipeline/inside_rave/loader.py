"""RAVE's DataLoader kept fed: worker processes that live across epochs, pinned memory on a GPU and a deeper
prefetch, with the same examples in the same order as RAVE's own loader for a given seed.

Why: `rave train` builds `DataLoader(train, batch, True, drop_last=True, num_workers=W)`, whose workers are
started anew every epoch (and every validation). On a small database an epoch is a few batches, so the GPU
waits while W processes start and fill their first batches (measured on an H200: README).

Why the order stays the same: RAVE's loader draws, at the start of each epoch, a base seed for its workers
from torch's global generator, then the shuffle's seed; each fresh worker seeds `random`, `torch` and
`numpy` from that base seed and its id, and RAVE's random crops and phase mangling draw from them. Kept
workers would skip that draw, so every later shuffle and crop would change. Here each epoch draws the
base seed in the same place, every index carries it to its worker, and a worker meeting a new one seeds
itself exactly as a fresh worker would. The workers get the batches in the same turn as before (the
prefetch depth does not change which worker gets which batch).

Data-parallel training (several processes, rave_pipeline/inside_rave/ddp.py) reads through `Shards` instead:
each epoch one permutation seeded by the epoch alone, the same on every rank, cut into global batches of
BATCH x processes; rank r reads the r-th slice of each. The union of the ranks' batches is what one process
with the global batch reads, in the same order, and each example carries its own seed for its random crop and
augmentations, so it is also cut the same way whatever the number of processes.

Used by `rave train` through rave_pipeline.inside_rave.rave_cli (RAVE_PIPELINE_LOADER=plain keeps RAVE's own loader).
"""

import random

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    get_worker_info,
)
from torch.utils.data._utils.worker import _generate_state  # the numpy seed torch gives a fresh worker

from rave_pipeline.inside_rave import ddp

PREFETCH = 4  # batches each worker keeps ready (torch's default: 2)


class EpochSeeded(BatchSampler):
    """RAVE's batches, each index paired with the workers' base seed for this epoch (None in the first
    epoch: its workers are fresh, seeded by torch itself)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        super().__init__(sampler, batch_size, drop_last)
        self.base_seed = None

    def __iter__(self):
        for batch in super().__iter__():
            yield [(i, self.base_seed) for i in batch]


class Shards(Sampler):
    """Data-parallel batches of (index, seed): this rank's slice of each global batch (the training set,
    shuffled); every index in order, on every rank (validation: each rank validates the whole set)."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, drop_last: bool):
        self.n, self.batch_size, self.shuffle, self.drop_last, self.epoch = n, batch_size, shuffle, drop_last, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it at each epoch's start
        self.epoch = epoch

    def layout(self) -> tuple[int, int]:
        """(rank, ranks) among which the batches are shared; the ranks are known before the processes meet (RAVE
        counts its batches then)."""
        return (ddp.rank_world()[0], ddp.PROCS * ddp.NODES) if self.shuffle else (0, 1)

    def __len__(self) -> int:
        size = self.batch_size * self.layout()[1]
        return self.n // size if self.drop_last else -(-self.n // size)

    def __iter__(self):
        rank, world = self.layout()
        order = (
            torch.randperm(self.n, generator=torch.Generator().manual_seed(ddp.SEED + self.epoch))
            if self.shuffle
            else torch.arange(self.n)
        )
        size = self.batch_size * world
        for k in range(len(self)):
            mine = order[k * size : (k + 1) * size][rank * self.batch_size : (rank + 1) * self.batch_size]
            yield [(int(i), item_seed(self.epoch, int(i))) for i in mine]


def item_seed(epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([ddp.SEED, epoch, index]).generate_state(1)[0])


class SeededItems(Dataset):
    """The dataset, read by a worker that reseeds itself when an epoch's base seed first reaches it."""

    def __init__(self, dataset, own_seeds: bool = False):
        self.dataset, self.own_seeds = dataset, own_seeds
        self.seeded = None

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, item):
        index, base_seed = item
        if self.own_seeds:  # Shards: this example's own seed
            return self.cut(index, base_seed)
        worker = get_worker_info()
        if base_seed is not None and worker is not None and base_seed != self.seeded:
            seed = base_seed + worker.id  # as torch seeds a worker it starts
            random.seed(seed)
            torch.manual_seed(seed)
            np.random.seed(_generate_state(base_seed, worker.id))
            self.seeded = base_seed
        return self.dataset[index]

    def cut(self, index: int, seed: int):
        """The example drawn with its own seed, the process's generators (the model's noise) left as they were."""
        saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)  # the CPU's only: a GPU's generator is the model's
        try:
            return self.dataset[index]
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])


class SteadyLoader(DataLoader):
    """`DataLoader(dataset, batch_size, shuffle, drop_last=..., num_workers=W)` as RAVE calls it; with W > 0 the
    workers persist, memory is pinned when CUDA is there, and each worker prefetches PREFETCH batches."""

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        num_workers: int = 0,
        **kwargs,
    ):
        kept = num_workers > 0
        if ddp.data_parallel():
            batches = Shards(len(dataset), batch_size, shuffle, drop_last)
        else:
            sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
            batches = EpochSeeded(sampler, batch_size, drop_last)
        super().__init__(
            SeededItems(dataset, own_seeds=isinstance(batches, Shards)),
            batch_sampler=batches,
            num_workers=num_workers,
            persistent_workers=kept,
            prefetch_factor=PREFETCH if kept else None,
            pin_memory=kept and torch.cuda.is_available(),
            **kwargs,
        )

    def __iter__(self):
        if self.persistent_workers and self._iterator is not None and isinstance(self.batch_sampler, EpochSeeded):
            # RAVE's loader would start a new iterator here, drawing its workers' base seed first
            self.batch_sampler.base_seed = int(torch.empty((), dtype=torch.int64).random_().item())
        return super().__iter__()


def install() -> None:
    """Make `rave train` (scripts/train.py of acids-rave) build its loaders as SteadyLoader."""
    import scripts.train as rave_train

    rave_train.DataLoader = SteadyLoader
