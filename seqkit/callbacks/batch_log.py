"""A log of the examples in every training batch, for auditing what a run trained on.

    seqkit fit --config C.yaml --trainer.callbacks+=seqkit.callbacks.batch_log.BatchLog \\
        --trainer.callbacks.path runs/batches.tsv

One line per batch, ``epoch<TAB>global_step<TAB>id,id,...``, appended and flushed to disk
before the step runs, so the log of a run that was killed ends with the batch it was on.
Under DDP each rank writes ``PATH.rankN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback


class BatchLog(Callback):
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def _file(self, trainer) -> Path:
        return self.path if trainer.world_size == 1 else self.path.with_name(f"{self.path.name}.rank{trainer.global_rank}")

    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        ids = batch.get("ids", []) if isinstance(batch, dict) else []
        path = self._file(trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{trainer.current_epoch}\t{trainer.global_step}\t{','.join(map(str, ids))}\n")
            handle.flush()
            os.fsync(handle.fileno())
