"""Training steps that cannot kill a run: non-finite losses or gradients, and out-of-memory batches.

A bad step is skipped with the weights untouched, counted, and logged with its batch's ids;
``max_skipped_steps`` bad steps in a row stop training with a clear error (a run that
only skips has diverged).  Three things make a step bad:

- the loss or a gradient is NaN or Inf (the optimizer step is skipped; DDP has averaged the
  gradients, so every rank decides alike).  Both are read in one host sync after backward,
  so the host never waits for the forward pass.  Under fp16 mixed precision the gradient
  scaler already skips steps with non-finite gradients and lowers its scale, which is
  normal operation, so only the loss is checked there;
- the batch does not fit in memory, in the forward pass (skipped on every DDP rank) or in
  backward (single-process runs only: under DDP the other ranks are already waiting in
  backward's all-reduce, so the error is raised instead of hanging them).
"""

from __future__ import annotations

import gc
import logging

import lightning as L
import torch
from torch import Tensor

log = logging.getLogger(__name__)


def is_out_of_memory(err: BaseException) -> bool:
    """A CUDA (``torch.OutOfMemoryError``) or host allocator failure."""
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "can't allocate memory" in str(err)
    )


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _any_rank(flags: list[bool], device: torch.device) -> list[bool]:
    """Each flag OR-ed over the DDP ranks (a collective: every rank must call it)."""
    if not _distributed():
        return flags
    values = torch.tensor([float(f) for f in flags], device=device)
    torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
    return [bool(v > 0) for v in values.tolist()]


class StepGuard(L.LightningModule):
    """Base for tasks: they compute ``train_loss(batch)``; this class runs the step safely."""

    def __init__(self, max_skipped_steps: int) -> None:
        super().__init__()
        if max_skipped_steps < 1:
            raise ValueError("max_skipped_steps must be >= 1")
        self.max_skipped_steps = max_skipped_steps
        self.nonfinite_steps = 0  # skipped for a NaN/Inf loss or gradient, in this run
        self.out_of_memory_steps = 0  # skipped for a batch that did not fit in memory
        self._bad_in_a_row = 0
        self._batch_ids: list = []
        self._loss_skipped = False
        self._loss: Tensor | None = None  # this step's loss, detached
        self._backward_out_of_memory = False

    def train_loss(self, batch: dict) -> Tensor | None:
        """The batch's training loss; None when the batch has nothing to train on."""
        raise NotImplementedError

    def on_step_skipped(self) -> None:
        """Called when a step is skipped (a task with state carried between steps drops it)."""

    def training_step(self, batch: dict, batch_idx: int) -> Tensor | None:
        self._batch_ids = list(batch.get("ids", []))
        self._backward_out_of_memory = False
        reason = None
        try:
            loss = self.train_loss(batch)
        except Exception as err:  # noqa: BLE001 -- only memory errors are handled, the rest re-raised
            if not is_out_of_memory(err):
                raise
            release_memory()
            loss, reason = None, "out of memory in the forward pass"
        # A rank without backward would hang DDP's all-reduce, so ranks without a loss skip
        # together.  A NaN/Inf loss is not checked here: that would stop the host until the
        # forward pass is done; its gradients are not finite, which the one check before the
        # optimizer step sees.
        self._loss_skipped, out_of_memory_anywhere = _any_rank([loss is None, reason is not None], self.device)
        if not self._loss_skipped:
            self._loss = loss.detach()
            return loss
        if out_of_memory_anywhere:  # (an empty batch is no failure)
            self._count_bad_step(reason or "out of memory on another rank", out_of_memory=True)
        self.on_step_skipped()
        return None

    def backward(self, loss: Tensor, *args, **kwargs) -> None:
        try:
            super().backward(loss, *args, **kwargs)
        except Exception as err:  # noqa: BLE001
            if not is_out_of_memory(err) or _distributed():
                raise
            release_memory()
            self._backward_out_of_memory = True
            # The scaler of fp16 mixed precision needs a gradient to unscale before it steps.
            for param in self.parameters():
                if param.requires_grad and param.grad is None:
                    param.grad = torch.zeros_like(param)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self._loss_skipped:
            return
        if self._backward_out_of_memory:
            reason = "out of memory in backward"
        else:
            finite = torch.isfinite(self._loss)
            if getattr(self.trainer.precision_plugin, "scaler", None) is None:
                finite = finite & self._gradients_finite()
            if finite:  # the step's one host sync
                self._bad_in_a_row = 0
                return
            # The same on every rank: DDP has averaged the gradients.
            reason = "a gradient is not finite" if torch.isfinite(self._loss) else f"loss is {self._loss.item()}"
        # No gradient, no update: optimizers skip parameters whose .grad is None.
        for param in self.parameters():
            param.grad = None
        self._count_bad_step(reason, out_of_memory=self._backward_out_of_memory)
        self.on_step_skipped()

    def _gradients_finite(self) -> Tensor:
        """A 0-dim bool tensor, on the device: no gradient is NaN or Inf (the largest |g| is finite)."""
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if not grads:
            return torch.tensor(True, device=self.device)
        return torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=float("inf")))

    def _count_bad_step(self, reason: str, out_of_memory: bool) -> None:
        if out_of_memory:
            self.out_of_memory_steps += 1
            self.log("train_out_of_memory_steps", float(self.out_of_memory_steps), reduce_fx="max", on_step=True, on_epoch=False)
        else:
            self.nonfinite_steps += 1
            self.log("train_nonfinite_steps", float(self.nonfinite_steps), reduce_fx="max", on_step=True, on_epoch=False)
        self._bad_in_a_row += 1
        ids = self._batch_ids
        shown = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        log.warning("step %d: %s on this rank's batch [%s]; step skipped, weights unchanged (%d in a row; "
                    "%d non-finite and %d out-of-memory steps in this run)", self.global_step, reason, shown,
                    self._bad_in_a_row, self.nonfinite_steps, self.out_of_memory_steps)
        if self._bad_in_a_row >= self.max_skipped_steps:
            message = f"{self._bad_in_a_row} steps in a row were skipped (the last: {reason}, on batch [{shown}]): "
            if out_of_memory:
                raise MemoryError(message + "lower data.max_batch_seconds")
            raise FloatingPointError(
                message + "training diverged; lower the learning rate, check gradient_clip_val, or run `seqkit check-data`"
            )
