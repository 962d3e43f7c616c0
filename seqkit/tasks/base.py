"""What every seqkit task shares: optimiser schedule, run directory, per-example records, checkpoints."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor

from seqkit.callbacks.epoch_length import EpochLength
from seqkit.callbacks.progress import TimedProgressBar
from seqkit.callbacks.run_info import FILE as RUN_INFO_FILE, RunInfo
from seqkit.tasks.optim import Decay, warmup_schedule
from seqkit.tasks.rng import ResumableRandomness
from seqkit.tasks.step_guard import StepGuard

log = logging.getLogger(__name__)

# The parts' configs are the hyper-parameters on purpose: they rebuild the model from a
# checkpoint.  Lightning's advice to ignore nn.Module hyper-parameters doesn't apply.
warnings.filterwarnings("ignore", message=r".*is an instance of `nn.Module` and is already saved.*")


class RunCheckpoint(ModelCheckpoint):
    """The checkpoints every run writes (last, best), told apart from the user's own."""


# What tells a ModelCheckpoint the user configured from the default one Lightning adds.
_CHECKPOINT_SETTINGS = ("dirpath", "filename", "monitor", "save_top_k", "save_last",
                        "_every_n_train_steps", "_every_n_epochs", "_train_time_interval")


def user_checkpoints(trainer: L.Trainer) -> list[ModelCheckpoint]:
    """The ``ModelCheckpoint`` callbacks given to the Trainer, save Lightning's default one.

    A module's ``configure_callbacks`` replaces every Trainer callback of a type it returns,
    so the task returns these again to keep them (``--trainer.callbacks+=ModelCheckpoint
    --trainer.callbacks.every_n_train_steps=500``: a checkpoint every 500 steps).
    """
    default = ModelCheckpoint()
    def is_default(callback: ModelCheckpoint) -> bool:
        return type(callback) is ModelCheckpoint and all(
            getattr(callback, name) == getattr(default, name) for name in _CHECKPOINT_SETTINGS
        )
    return [c for c in trainer.callbacks
            if isinstance(c, ModelCheckpoint) and not isinstance(c, RunCheckpoint) and not is_default(c)]


class SeqkitTask(ResumableRandomness, StepGuard):
    """Base of the tasks: guarded steps, AdamW-style optimiser with warmup and decay, run-directory outputs.

    Tasks implement ``train_loss(batch)``; :class:`StepGuard` turns it into a training step.
    """

    def __init__(self, optimizer: OptimizerCallable, warmup_steps: int, lr_decay: Decay, max_skipped_steps: int) -> None:
        super().__init__(max_skipped_steps)
        self.optimizer_factory = optimizer
        self.warmup_steps = warmup_steps
        self.lr_decay = lr_decay
        self._records: list[dict] = []  # per-example results of a test or predict epoch

    def batch_amounts(self, batch: dict) -> dict[str, float | Tensor]:
        """What a batch holds, for throughput in ``run_info.json``.

        Counts computed on the device stay tensors: summed there, read once at the end,
        instead of a host sync every step.
        """
        return {"examples": float(len(batch["ids"]))}

    def run_dir(self) -> Path | None:
        """The run's log directory (``ROOT/version_N`` or ``RUN/test``; without a logger the root).

        Read from this rank's first logger, as ``Trainer.log_dir`` does, but without its
        broadcast: that is a collective, and reports are written by rank 0 alone -- a
        rank-0-only call would wait forever for the other ranks (or crash when they exit).
        Evaluating into a directory a fit wrote (``trainer.test`` after ``trainer.fit`` in
        Python) goes to its ``<stage>/`` folder, where ``seqkit test`` writes, so the fit's
        ``run_info.json`` is kept.
        """
        if not self._trainer:
            return None
        if not self.trainer.loggers:
            log_dir = self.trainer.default_root_dir
        else:
            logger = self.trainer.loggers[0]
            log_dir = logger.log_dir if isinstance(logger, (TensorBoardLogger, CSVLogger)) else logger.save_dir
        if not log_dir:
            return None
        stage = self.trainer.state.fn
        if stage is not None and stage != TrainerFn.FITTING and _holds_a_fit(Path(log_dir)):
            return Path(log_dir) / stage.value
        return Path(log_dir)

    def gather_records(self) -> list[dict]:
        """This epoch's per-example records from every DDP rank."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self._records
        gathered: list[list[dict]] = [[] for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather_object(gathered, self._records)
        return [record for part in gathered for record in part]

    def on_test_epoch_start(self) -> None:
        self._records = []

    def on_predict_epoch_start(self) -> None:
        self._records = []

    def on_predict_epoch_end(self) -> None:
        records = self.gather_records()
        if self.global_rank != 0:
            return
        path = (self.run_dir() or Path.cwd()) / "predictions.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            for record in sorted(records, key=lambda r: r["id"]):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"\npredictions: {path}")

    def checkpoint_callbacks(self, has_validation: bool, monitor: str, mode: str) -> list:
        """``last.ckpt`` after every epoch, the best checkpoint by ``monitor`` when there is
        validation, and (with a logger) the learning rate and ``run_info.json``.  Lightning's
        default progress bar becomes a :class:`TimedProgressBar`.  Fitting re-counts each
        epoch's batches (:class:`EpochLength`).

        Since Lightning 2.6, ``save_last`` only writes when a top-k checkpoint is saved, so
        "last" would be the best; a second callback keeps the last epoch's weights instead.
        """
        callbacks = []
        # Only fit saves.  While evaluating, a checkpoint callback would get its state back
        # from the checkpoint and warn that its dirpath (now RUN/test/checkpoints) changed.
        if self.trainer.state.fn == TrainerFn.FITTING:
            callbacks.append(EpochLength())  # before the progress bar, which reads the count at the same hook
            callbacks.append(RunCheckpoint(filename="last", enable_version_counter=False))
            if has_validation:
                callbacks.append(RunCheckpoint(monitor=monitor, mode=mode, filename=f"best-{{epoch}}-{{{monitor}:.4f}}",
                                               auto_insert_metric_name=False))
        if self.trainer.loggers:
            # run_info.json: device, precision, versions, wall time and throughput, for `seqkit report`.
            callbacks += [LearningRateMonitor(logging_interval="step"), RunInfo()]
        bar = self.trainer.progress_bar_callback
        if type(bar) is TQDMProgressBar and bar.refresh_rate == 1:  # Lightning's default bar, as it comes
            callbacks.append(TimedProgressBar())  # replaces it (a subclass): no host sync every step
        return callbacks + user_checkpoints(self.trainer)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = warmup_schedule(optimizer, min(self.warmup_steps, max(1, total // 2)), total, self.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def bind_input_size(features, input_size: int) -> None:
    """Give features that size themselves from the data (``set_input_size``) the data's size.

    ``input_size`` comes from the data module (linked by the CLI).  A size typed in the
    features' config must agree with it.
    """
    if not hasattr(features, "set_input_size"):
        size = getattr(features, "input_size", None)
        if size is not None and input_size > 0 and size != input_size:
            raise ValueError(f"{type(features).__name__}.input_size={size} but the data has {input_size}")
        return
    if input_size <= 0:
        if features.input_size <= 0:
            raise ValueError(f"{type(features).__name__} needs an input size: the data module provides input_size")
        return
    if features.input_size not in (0, input_size):
        raise ValueError(f"{type(features).__name__}.input_size={features.input_size} but the data has {input_size}")
    if features.input_size != input_size:
        features.set_input_size(input_size)


def _holds_a_fit(folder: Path) -> bool:
    """Whether ``folder`` is a fit's run directory: checkpoints, or a fit's ``run_info.json``."""
    if (folder / "checkpoints").is_dir():
        return True
    try:
        return json.loads((folder / RUN_INFO_FILE).read_text(encoding="utf-8")).get("stage") == "fit"
    except (OSError, ValueError, AttributeError):
        return False
