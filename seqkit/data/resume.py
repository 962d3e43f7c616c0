"""Resuming a run in the middle of an epoch, for data modules with a DurationBatchSampler.

Lightning stores a data module's ``state_dict()`` in every checkpoint and restores it
before building the data loaders.  The state is where training is to go on: the epoch and
how many of its batches were trained.  A mid-epoch checkpoint (``ModelCheckpoint(
every_n_train_steps=N)``) then resumes with the rest of that epoch, each remaining batch
exactly once, instead of replaying the epoch from its start (Lightning's default for a
loader that cannot resume, which it warns about).
"""

from __future__ import annotations

import warnings
from typing import Any

from torch.utils.data import DataLoader, Dataset

from seqkit.data.sampler import DurationBatchSampler, bucketed_loader

# Lightning looks for resumable state on the data loader only, so it warns on every
# mid-epoch resume of these data modules, whose state it restores all the same.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


class MidEpochResume:
    """Mixin for a ``LightningDataModule`` that builds its loaders with :meth:`split_loader`."""

    _resume_position: tuple[int, int] | None = None

    def state_dict(self) -> dict[str, Any]:
        trainer = getattr(self, "trainer", None)
        if trainer is None or not trainer.training:
            return {}
        # ``processed`` counts the batches trained in this epoch, the one being saved in
        # ``on_train_batch_end`` included (``completed`` is incremented only after the hooks).
        batches_done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if batches_done >= trainer.num_training_batches:  # saved at the end of the epoch
            return {"epoch": trainer.current_epoch + 1, "batches_done": 0}
        return {"epoch": trainer.current_epoch, "batches_done": batches_done}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            self._resume_position = (int(state_dict["epoch"]), int(state_dict["batches_done"]))

    def resume_sampler(self, sampler: DurationBatchSampler) -> DurationBatchSampler:
        # Kept for every training loader built (Lightning builds one to count the steps before
        # the real one); each sampler forgets it once its epoch moves past the resumed one.
        if self._resume_position is not None:
            sampler.resume_at(*self._resume_position)
        return sampler

    def split_loader(self, split: str, dataset: Dataset, sampler: DurationBatchSampler, collate_fn) -> DataLoader:
        """The loader of ``split``; the training split resumes where a mid-epoch checkpoint stopped."""
        if split == "fit":
            self.resume_sampler(sampler)
        return bucketed_loader(dataset, sampler, collate_fn, self.num_workers)
