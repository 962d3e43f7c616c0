"""TimedProgressBar redraws by time, and replaces only Lightning's default bar in seqkit's tasks."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from seqkit.callbacks.progress import TimedProgressBar
from seqkit.data.sequences import SequenceDataModule
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.frames import PrecomputedFeatures
from seqkit.tasks.sequence_classification import SequenceClassifier
from tiny_models import ListedSequences


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def redraws(bar: TimedProgressBar, clock: Clock, step_seconds: float, total: int) -> list[int]:
    drawn = []
    for batch in range(1, total + 1):
        clock.now += step_seconds
        if bar._should_update(batch, total):
            drawn.append(batch)
    return drawn


def test_fast_steps_redraw_by_time_and_at_the_end() -> None:
    clock = Clock()
    bar = TimedProgressBar(min_interval_s=0.5, clock=clock)
    assert redraws(bar, clock, 0.125, 23) == [1, 5, 9, 13, 17, 21, 23]  # binary-exact steps


def test_slow_steps_redraw_every_batch() -> None:
    clock = Clock()
    assert redraws(TimedProgressBar(min_interval_s=0.5, clock=clock), clock, 0.7, 5) == [1, 2, 3, 4, 5]


def test_a_disabled_bar_never_draws() -> None:
    bar = TimedProgressBar()
    bar.disable()
    assert not bar._should_update(1, 1)


class _NoiseData(SequenceDataModule):
    labels = ["a", "b"]
    input_size = 1

    def dataset(self, split: str) -> ListedSequences:
        generator = torch.Generator().manual_seed(0)
        return ListedSequences([{"id": f"x{i}", "inputs": torch.randn(5, 1, generator=generator), "label": i % 2}
                                for i in range(8)])


def _bar_after_fit(tmp_path, **trainer_kwargs):
    task = SequenceClassifier(
        labels=_NoiseData.labels,
        features=PrecomputedFeatures(input_size=1),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=4, num_layers=1),
        warmup_steps=1,
    )
    trainer = L.Trainer(max_steps=2, logger=False, default_root_dir=tmp_path, enable_model_summary=False, **trainer_kwargs)
    trainer.fit(task, _NoiseData(batch_size=4))
    return trainer.progress_bar_callback


@pytest.mark.usefixtures("one_thread")
def test_tasks_swap_only_lightnings_default_bar(tmp_path) -> None:
    assert type(_bar_after_fit(tmp_path / "a")) is TimedProgressBar
    assert _bar_after_fit(tmp_path / "b", enable_progress_bar=False) is None
    chosen = TQDMProgressBar(refresh_rate=5)  # the user's own setting stays
    assert _bar_after_fit(tmp_path / "c", callbacks=[chosen]) is chosen
