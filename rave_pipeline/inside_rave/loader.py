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

Used by `rave train` through rave_pipeline.inside_rave.rave_cli (RAVE_PIPELINE_LOADER=plain keeps RAVE's own loader).
"""

import random

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, get_worker_info
from torch.utils.data._utils.worker import _generate_state  # the numpy seed torch gives a fresh worker

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


class SeededItems(Dataset):
    """The dataset, read by a worker that reseeds itself when an epoch's base seed first reaches it."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.seeded = None

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, item):
        index, base_seed = item
        worker = get_worker_info()
        if base_seed is not None and worker is not None and base_seed != self.seeded:
            seed = base_seed + worker.id  # as torch seeds a worker it starts
            random.seed(seed)
            torch.manual_seed(seed)
            np.random.seed(_generate_state(base_seed, worker.id))
            self.seeded = base_seed
        return self.dataset[index]


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
        sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        super().__init__(
            SeededItems(dataset),
            batch_sampler=EpochSeeded(sampler, batch_size, drop_last),
            num_workers=num_workers,
            persistent_workers=kept,
            prefetch_factor=PREFETCH if kept else None,
            pin_memory=kept and torch.cuda.is_available(),
            **kwargs,
        )

    def __iter__(self):
        if self.persistent_workers and self._iterator is not None:
            # RAVE's loader would start a new iterator here, drawing its workers' base seed first
            self.batch_sampler.base_seed = int(torch.empty((), dtype=torch.int64).random_().item())
        return super().__iter__()


def install() -> None:
    """Make `rave train` (scripts/train.py of acids-rave) build its loaders as SteadyLoader."""
    import scripts.train as rave_train

    rave_train.DataLoader = SteadyLoader
