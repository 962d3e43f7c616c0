"""Duration-bucketed batch sampler, sharded across DDP ranks.

Utterances of similar length go in the same batch (little padding); a batch holds at most
``max_batch_seconds`` of *padded* audio and, if set, ``max_batch_items`` utterances (for
sequences that are not audio, "durations" are any lengths, e.g. time steps).  Each epoch reshuffles within buckets and the
order of batches.  Under DDP every rank builds the same batch list from the same seed and
takes every ``world_size``-th batch, so ranks are disjoint and together see every utterance
exactly once per epoch.  The batch count is made divisible by the world size by splitting
the largest batches, never by repeating or dropping utterances.
"""

from __future__ import annotations

import math
import random
from typing import Iterator, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class DurationBatchSampler(Sampler[list[int]]):
    def __init__(
        self,
        durations: Sequence[float],
        max_batch_seconds: float,
        num_buckets: int = 20,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        max_batch_items: int | None = None,
    ) -> None:
        if max_batch_seconds <= 0:
            raise ValueError("max_batch_seconds must be positive")
        if max_batch_items is not None and max_batch_items < 1:
            raise ValueError("max_batch_items must be at least 1")
        self.durations = list(durations)
        self.max_batch_seconds = max_batch_seconds
        self.max_batch_items = max_batch_items
        self.num_buckets = max(1, num_buckets)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        # Resolved lazily: the data loader is built after DDP has initialised the process group.
        self._num_replicas = num_replicas
        self._rank = rank
        self._resume: tuple[int, int] | None = None  # (epoch, batches already trained)

    @property
    def num_replicas(self) -> int:
        return self._num_replicas if self._num_replicas is not None else _world()[0]

    @property
    def rank(self) -> int:
        return self._rank if self._rank is not None else _world()[1]

    def set_epoch(self, epoch: int) -> None:
        if self._resume is not None and epoch != self._resume[0]:
            self._resume = None  # the resumed epoch is over
        self.epoch = epoch

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """In ``epoch``, yield only this rank's batches after the first ``batches_done``.

        The batch order is a function of (seed, epoch), so the rest of an interrupted epoch
        is exactly the batches not yet trained on.  The sampler moves to ``epoch`` at once:
        a resumed Lightning run iterates before it calls ``set_epoch``.  Any number of passes
        over ``epoch`` skip the trained batches; a ``set_epoch`` to another epoch ends that.
        """
        self._resume = (epoch, batches_done)
        self.epoch = epoch

    @property
    def sampler(self) -> "DurationBatchSampler":
        # Lightning reshuffles by calling ``dataloader.batch_sampler.sampler.set_epoch(epoch)``.
        return self

    def _order(self, rng: random.Random) -> list[int]:
        order = list(range(len(self.durations)))
        if self.shuffle:
            # Ties in length are broken at random: a dataset sorted by class must not give
            # one-class buckets when every example has the same length.
            rng.shuffle(order)
        order.sort(key=self.durations.__getitem__)
        if not self.shuffle:
            return order
        # Shuffle within equal-size buckets of the sorted order: similar lengths stay together.
        size = math.ceil(len(order) / self.num_buckets)
        shuffled: list[int] = []
        for start in range(0, len(order), size):
            bucket = order[start : start + size]
            rng.shuffle(bucket)
            shuffled.extend(bucket)
        return shuffled

    def all_batches(self) -> list[list[int]]:
        """Every rank's batches for this epoch, in order (rank r takes ``[r::world]``)."""
        rng = random.Random(f"{self.seed}:{self.epoch}")  # distinct streams for every (seed, epoch)
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0.0
        for index in self._order(rng):
            duration = self.durations[index]
            full = self.max_batch_items is not None and len(current) >= self.max_batch_items
            if current and (full or max(longest, duration) * (len(current) + 1) > self.max_batch_seconds):
                batches.append(current)
                current, longest = [], 0.0
            current.append(index)
            longest = max(longest, duration)
        if current:
            batches.append(current)
        world = self.num_replicas
        while len(batches) % world:
            largest = max(range(len(batches)), key=lambda i: len(batches[i]))
            if len(batches[largest]) < 2:
                raise ValueError(
                    f"{len(self.durations)} utterances cannot be split into a multiple of {world} batches"
                )
            half = len(batches[largest]) // 2
            batches[largest:largest + 1] = [batches[largest][:half], batches[largest][half:]]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.all_batches()[self.rank :: self.num_replicas]
        if self._resume is not None and self._resume[0] == self.epoch:
            batches = batches[self._resume[1] :]
        return iter(batches)

    def __len__(self) -> int:
        # The whole epoch, also when resuming: Lightning counts the trained batches itself.
        return len(self.all_batches()) // self.num_replicas


def bucketed_loader(dataset: Dataset, sampler: DurationBatchSampler, collate_fn, num_workers: int) -> DataLoader:
    """A DataLoader over ``sampler``'s batches; workers persist across epochs.

    Batches are pinned when CUDA is present, so the copy to the GPU is a fast DMA that
    Lightning issues without blocking (a pageable 15 MB batch of audio is a blocking copy).
    The workers' seeds come from the loader's own generator: drawn from the global one, they
    would shift dropout's random stream at each epoch start, and a run resumed from an
    epoch-end checkpoint would not train as the uninterrupted run did.
    """
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(sampler.seed),
    )
