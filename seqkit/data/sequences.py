"""Labelled sequences for classification: dataset contract, padding collate, data module base.

Every classification source (UEA ``.ts`` files, ``.npy`` frame features, video, audio,
text) yields examples as plain dicts::

    {"id": str, "inputs": Tensor (T, *F), "label": int, "group": str (optional), "speaker": str (optional)}

``group`` names the item several examples come from (the video of a clip); video-level
accuracy averages the clip probabilities of a group.  ``speaker`` names who spoke a
recording (per-speaker normalisation needs it).  A batch is a plain dict::

    inputs (B, T_max, *F) zero-padded, lengths (B,) int64 on CPU, labels (B,) int64,
    ids / groups: lists of B strings, speakers: list of B strings (when the examples have them)
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from seqkit.data.bucketed import BucketedDataModule
from seqkit.data.sampler import DurationBatchSampler


class SequenceDataset(Dataset):
    """Base for classification datasets: ``lengths`` (time steps per example) drive bucketing."""

    lengths: Sequence[int]


def collate_sequences(items: list[dict]) -> dict:
    """Pad ``inputs`` along time to the longest in the batch (see module docstring)."""
    lengths = torch.tensor([item["inputs"].shape[0] for item in items], dtype=torch.long)
    first = items[0]["inputs"]
    inputs = first.new_zeros((len(items), int(lengths.max()), *first.shape[1:]))
    for row, item in enumerate(items):
        inputs[row, : item["inputs"].shape[0]] = item["inputs"]
    batch = {
        "inputs": inputs,
        "lengths": lengths,
        "labels": torch.tensor([item["label"] for item in items], dtype=torch.long),
        "ids": [item["id"] for item in items],
        "groups": [item.get("group", item["id"]) for item in items],
    }
    if all("speaker" in item for item in items):
        batch["speakers"] = [item["speaker"] for item in items]
    return batch


class SequenceDataModule(BucketedDataModule):
    """Length-bucketed batches of labelled sequences.

    Subclasses implement :meth:`dataset` for each split they have and set ``labels`` (class
    names; the index is the label id) and ``input_size`` (feature size, vocabulary size or
    image channels).  Both are linked into the model by the CLI, never typed twice.
    Batches hold at most ``batch_size`` examples of similar length; under DDP the sampler
    gives every rank disjoint batches.
    """

    labels: list[str]
    input_size: int

    def __init__(self, batch_size: int = 32, num_buckets: int = 10, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.num_buckets = num_buckets
        self.num_workers = num_workers
        self.seed = seed
        self._datasets: dict[str, SequenceDataset] = {}

    def dataset(self, split: str) -> SequenceDataset:
        raise NotImplementedError

    def has_split(self, split: str) -> bool:
        return True

    def unaugmented_dataset(self, split: str) -> SequenceDataset:
        """The split's examples as recorded, for statistics (a module that augments overrides this)."""
        return self._dataset(split)

    def statistics_loader(self, split: str) -> DataLoader:
        """The split unaugmented, in a fixed order, for per-speaker statistics (SpeakerCMVN)."""
        # Its own generator: the pass must not move the global RNG that training draws from.
        return DataLoader(self.unaugmented_dataset(split), batch_size=32, collate_fn=collate_sequences,
                          num_workers=self.num_workers, generator=torch.Generator())

    def _dataset(self, split: str) -> SequenceDataset:
        if split not in self._datasets:
            self._datasets[split] = self.dataset(split)
        return self._datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self._dataset(split)
        sampler = DurationBatchSampler(
            dataset.lengths,
            max_batch_seconds=float("inf"),  # lengths are time steps; the cap is the example count
            max_batch_items=self.batch_size,
            num_buckets=self.num_buckets if shuffle else 1,
            shuffle=shuffle,
            seed=self.seed,
        )
        return self.split_loader(split, dataset, sampler, collate_sequences)


def stratified_holdout(labels: Sequence[Hashable], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of indices into (kept, held out), holding out ``fraction`` of every label.

    Each label with at least two examples gives at least one to the hold-out and keeps at
    least one, so the held-out set has every class the kept set has.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the hold-out fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    by_label: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    held: list[int] = []
    for label in sorted(by_label, key=str):  # a fixed order, so the split depends on the seed only
        indices = by_label[label]
        count = min(len(indices) - 1, max(1, round(fraction * len(indices)))) if fraction > 0 else 0
        held.extend(int(i) for i in rng.permutation(indices)[:count])
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)
