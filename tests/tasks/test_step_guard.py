"""Bad training steps are skipped with the weights untouched; too many in a row stop training.

Each failure is real: a NaN input frame makes the loss NaN; an exact zero under a learnt
square root makes a gradient NaN while the loss stays finite; a batch too long for a
pairwise (T, T) feature makes the allocator fail.
"""

from __future__ import annotations

import logging
from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor, nn
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


def _task(max_skipped_steps: int = 10, features: nn.Module | None = None) -> SequenceClassifier:
    torch.manual_seed(0)
    return SequenceClassifier(
        labels=["a", "b"], features=features or PrecomputedFeatures(input_size=2),
        encoder=partial(RNNEncoder, cell="gru", hidden_size=4, num_layers=1),
        optimizer=partial(torch.optim.AdamW, lr=0.1, weight_decay=0.1),  # decay alone would move weights
        warmup_steps=1, max_skipped_steps=max_skipped_steps,
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
    with pytest.raises(FloatingPointError, match=r"3 steps in a row were skipped \(the last: loss is nan, on batch \[b3-0, b3-1\]\)"):
        _trainer(tmp_path).fit(_task(max_skipped_steps=3), train_dataloaders=_batches({1, 2, 3}, count=6))


def test_a_finite_step_resets_the_run_of_skips(tmp_path) -> None:
    task = _task(max_skipped_steps=2)
    _trainer(tmp_path).fit(task, train_dataloaders=_batches({0, 2, 4}, count=6))  # never 2 in a row
    assert task.nonfinite_steps == 3


class ScaledRootFeatures(nn.Module):
    """sqrt(|scale * x|): finite everywhere, but d/d(scale) is 0 * inf = NaN where x == 0."""

    input_size = 2

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(2))
        self.output_size = 2

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return (inputs * self.scale).abs().sqrt(), lengths  # (B, T, 2)


def _zero_batches(poisoned: set[int], count: int) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    items = []
    for b in range(count):
        for k in range(2):
            inputs = torch.randn(5, 2, generator=generator)  # never exactly 0; equal lengths: no zero padding
            if b in poisoned:
                inputs[1, 0] = 0.0
            items.append({"id": f"b{b}-{k}", "inputs": inputs, "label": k})
    return DataLoader(items, batch_size=2, collate_fn=collate_sequences)


def test_a_nan_gradient_with_a_finite_loss_is_skipped(caplog, tmp_path) -> None:
    task, weights = _task(features=ScaledRootFeatures()), WeightsAfterEachStep()
    with caplog.at_level(logging.WARNING, logger="seqkit.tasks.step_guard"):
        _trainer(tmp_path, callbacks=[weights]).fit(task, train_dataloaders=_zero_batches({1, 3}, count=5))
    steps = weights.snapshots
    assert torch.equal(steps[1], steps[0]) and torch.equal(steps[3], steps[2])
    assert not torch.equal(steps[2], steps[1]) and not torch.equal(steps[4], steps[3])
    assert all(torch.isfinite(s).all() for s in steps)
    assert task.nonfinite_steps == 2
    assert "a gradient is not finite on this rank's batch [b3-0, b3-1]" in caplog.text


def test_nan_gradients_in_a_row_stop_training(tmp_path) -> None:
    with pytest.raises(FloatingPointError, match=r"2 steps in a row .*a gradient is not finite"):
        _trainer(tmp_path).fit(_task(max_skipped_steps=2, features=ScaledRootFeatures()),
                               train_dataloaders=_zero_batches({2, 3}, count=5))


class PairwiseFeatures(nn.Module):
    """Each frame with its mean similarity to all frames: a (B, T, T) matrix in forward."""

    input_size = 1

    def __init__(self) -> None:
        super().__init__()
        self.output_size = 2

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        similarity = inputs @ inputs.transpose(1, 2)  # (B, T, T)
        return torch.cat([inputs, similarity.mean(-1, keepdim=True)], dim=-1), lengths


class PairwiseInBackward(torch.autograd.Function):
    """Identity forward; a backward that needs a (B, T, T) buffer, as some do."""

    @staticmethod
    def forward(ctx, inputs: Tensor) -> Tensor:
        return inputs.clone()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad + (grad @ grad.transpose(1, 2)).mean(-1, keepdim=True)


class BackwardHeavyFeatures(nn.Module):
    """Keeps the first 8 frames (the GRU would take minutes over a huge batch on a CPU)."""

    input_size = 1

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(1, 2)
        self.output_size = 2

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return PairwiseInBackward.apply(self.project(inputs))[:, :8], lengths.clamp(max=8)


# 2**24 frames: the (T, T) float matrix is 2**50 bytes, beyond any address space.
HUGE = 2**24


def _batches_with_a_huge_one(huge: set[int], count: int) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    items = []
    for b in range(count):
        for k in range(2):
            frames = HUGE if b in huge and k == 0 else 5 + k
            items.append({"id": f"b{b}-{k}", "inputs": torch.randn(frames, 1, generator=generator), "label": k})
    return DataLoader(items, batch_size=2, collate_fn=collate_sequences)


@pytest.mark.parametrize("features", [PairwiseFeatures, BackwardHeavyFeatures], ids=["forward", "backward"])
def test_a_batch_that_does_not_fit_in_memory_is_skipped(features, caplog, tmp_path) -> None:
    task, weights = _task(features=features()), WeightsAfterEachStep()
    with caplog.at_level(logging.WARNING, logger="seqkit.tasks.step_guard"):
        _trainer(tmp_path, callbacks=[weights]).fit(task, train_dataloaders=_batches_with_a_huge_one({2}, count=4))
    steps = weights.snapshots
    assert len(steps) == 4
    assert torch.equal(steps[2], steps[1])
    assert not torch.equal(steps[1], steps[0]) and not torch.equal(steps[3], steps[2])
    assert task.out_of_memory_steps == 1 and task.nonfinite_steps == 0
    where = "the forward pass" if features is PairwiseFeatures else "backward"
    assert f"out of memory in {where} on this rank's batch [b2-0, b2-1]" in caplog.text
