"""Every utterance once per epoch through Lightning, although bucketed epochs differ in batch count."""

from __future__ import annotations

import random

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from seqkit.callbacks.epoch_length import EpochLength
from seqkit.data.sampler import DurationBatchSampler

_rng = random.Random(5)
DURATIONS = [_rng.uniform(1.0, 10.0) for _ in range(120)]
MAX_BATCH_SECONDS = 30.0  # with these durations: 31, 31, 31, 32, 30, 31 batches in epochs 0-5
EPOCHS = 6


def sampler() -> DurationBatchSampler:
    return DurationBatchSampler(DURATIONS, MAX_BATCH_SECONDS, num_buckets=2, shuffle=True, seed=0)


class Recorder(L.LightningModule):
    """Records which examples each epoch trains on and at which batch validation runs."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[int, list[int]] = {}
        self.validated_after: list[tuple[int, int]] = []
        self._batches = 0

    def training_step(self, batch, batch_idx):
        self.seen.setdefault(self.current_epoch, []).extend(batch.tolist())
        self._batches = batch_idx + 1
        return (self.weight * batch.float().mean()).sum()

    def validation_step(self, batch, batch_idx):
        pass

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.validated_after.append((self.current_epoch, self._batches))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(tmp_path, callbacks: list) -> tuple[Recorder, list[int]]:
    counts = []
    for epoch in range(EPOCHS):
        probe = sampler()
        probe.set_epoch(epoch)
        counts.append(len(probe))
    assert max(counts) > counts[0] > min(counts), counts  # the premise: later epochs have more and fewer batches
    module = Recorder()
    train = DataLoader(list(range(len(DURATIONS))), batch_sampler=sampler())
    val = DataLoader(list(range(4)), batch_size=2)
    trainer = L.Trainer(max_epochs=EPOCHS, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    trainer.fit(module, train, val)
    return module, counts


def test_every_example_is_trained_once_per_epoch_and_validation_follows_the_last_batch(tmp_path):
    module, counts = fit(tmp_path, [EpochLength()])
    for epoch in range(EPOCHS):
        assert sorted(module.seen[epoch]) == list(range(len(DURATIONS))), epoch
    assert module.validated_after == list(enumerate(counts))


def test_without_it_lightning_keeps_the_first_epochs_count(tmp_path):
    # What EpochLength is for: Lightning drops batches of longer epochs, and skips validation of shorter ones.
    module, counts = fit(tmp_path, [])
    trained = [len(module.seen[epoch]) for epoch in range(EPOCHS)]
    assert any(count > counts[0] for count in counts)
    assert trained != [len(DURATIONS)] * EPOCHS


@pytest.mark.parametrize("limit", [2, 0.5])
def test_a_user_limit_on_training_batches_stands(tmp_path, limit):
    module = Recorder()
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[EpochLength()],
                        limit_train_batches=limit, limit_val_batches=0)
    trainer.fit(module, DataLoader(list(range(len(DURATIONS))), batch_sampler=sampler()))
    first = sampler()
    expected = 2 if limit == 2 else int(len(first) * 0.5)
    assert [len(module.seen[e]) > 0 for e in range(2)] == [True, True]
    assert trainer.fit_loop.epoch_loop.batch_progress.current.completed == expected
