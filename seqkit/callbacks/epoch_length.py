"""Re-count the training batches at the start of every epoch.

Lightning reads the training loader's length once, when it sets the loader up (the first
epoch, or a resumed one), and ends every later epoch after that many batches.  Duration-
bucketed batches are re-packed from a new shuffle each epoch, so an epoch can hold a batch
more or fewer than the first: without a re-count, the utterances of an extra batch go
unseen that epoch, and an epoch one batch short never reaches the batch that runs
validation.  The sampler knows each epoch's count once Lightning has called its
``set_epoch``, which happens before ``on_train_epoch_start``.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback


class EpochLength(Callback):
    """Sets Lightning's batches-per-epoch (and its validation batch) from this epoch's loader length."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        limit = trainer.limit_train_batches
        if not (isinstance(limit, float) and limit == 1.0):
            return  # the user's limit stands
        loop = trainer.fit_loop
        # Lightning's wrapper of the loader: its ``limits`` cut each epoch's iteration, and the
        # loop's ``max_batches`` ends the epoch; both hold the count of the epoch it was set up in.
        combined = getattr(loop, "_combined_loader", None)
        if combined is None or len(combined.flattened) != 1:
            return
        try:
            batches = len(combined.flattened[0])
        except TypeError:  # unsized (iterable) loaders: Lightning runs them to exhaustion anyway
            return
        if combined.limits == [batches] and loop.max_batches == batches:
            return
        combined.limits = [batches]
        loop.max_batches = batches
        # As Lightning derives it when it sets up the loader (val_check_interval a fraction of the epoch).
        interval = trainer.val_check_interval
        if isinstance(interval, float) and trainer.val_check_batch not in (None, float("inf")):
            trainer.val_check_batch = max(1, int(batches * interval))
