"""A NaN or Inf loss skips its step with the weights untouched; too many in a row stop training."""

from __future__ import annotations

import logging
from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

from seqkit.data.sequences import collate_sequences
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.frames import PrecomputedFeatures
from seqkit.tasks.sequence_classification import SequenceClassifier

pytestmark = pytest.mark.usefixtures("one_thread")


def _batches(poisoned: set[int], count: int) -> DataLoader:
    """``count`` batches of 2 random sequences; those in ``poisoned`` hold a NaN frame."""
    generator = torch.Generator().manual_seed(0)
    items = []
    for b in range(count):
        for k in range(2):
            inputs = torch.randn(5 + k, 2, generator=generator)
            if b in poisoned:
                inputs[1, 0] = float("nan")
            items.append({"id": f"b{b}-{k}", "inputs": inputs, "label": k})
    return DataLoader(items, batch_size=2, collate_fn=collate_sequences)


def _task(max_nonfinite_steps: int = 10) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(
        labels=["a", "b"], features=PrecomputedFeatures(input_size=2),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=4, num_layers=1),
        optimizer=partial(torch.optim.AdamW, lr=0.1, weight_decay=0.1),  # decay alone would move weights
        warmup_steps=1, max_nonfinite_steps=max_nonfinite_steps,
    )


class WeightsAfterEachStep(Callback):
    def __init__(self) -> None:
        self.snapshots: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.snapshots.append(torch.cat([p.detach().flatten().clone() for p in pl_module.parameters()]))


def _trainer(root, **kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", max_epochs=1, logger=False, default_root_dir=root,
                     enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0, **kwargs)


def test_a_nan_step_is_skipped_with_the_weights_untouched(caplog, tmp_path) -> None:
    task, weights = _task(), WeightsAfterEachStep()
    with caplog.at_level(logging.WARNING, logger="seqkit.tasks.base"):
        _trainer(tmp_path, callbacks=[weights]).fit(task, train_dataloaders=_batches({2}, count=5))
    steps = weights.snapshots
    assert len(steps) == 5
    assert torch.equal(steps[2], steps[1])  # the poisoned batch changed nothing
    assert not torch.equal(steps[3], steps[2]) and not torch.equal(steps[1], steps[0])  # the others trained
    assert all(torch.isfinite(s).all() for s in steps)
    assert task.nonfinite_steps == 1
    assert "b2-0, b2-1" in caplog.text and "step skipped" in caplog.text


def test_too_many_nonfinite_steps_in_a_row_stop_training(tmp_path) -> None:
    with pytest.raises(FloatingPointError, match=r"3 steps in a row had a non-finite loss \(the last on batch \[b3-0, b3-1\]\)"):
        _trainer(tmp_path).fit(_task(max_nonfinite_steps=3), train_dataloaders=_batches({1, 2, 3}, count=6))


def test_a_finite_step_resets_the_run_of_skips(tmp_path) -> None:
    task = _task(max_nonfinite_steps=2)
    _trainer(tmp_path).fit(task, train_dataloaders=_batches({0, 2, 4}, count=6))  # never 2 in a row
    assert task.nonfinite_steps == 3
