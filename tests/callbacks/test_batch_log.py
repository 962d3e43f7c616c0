"""seqkit/callbacks/batch_log.py: one line per training batch, with the ids it held."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader

from seqkit.callbacks.batch_log import BatchLog


class Regression(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def training_step(self, batch: dict, batch_idx: int):
        return nn.functional.mse_loss(self.layer(batch["x"]), batch["x"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _collate(items: list[int]) -> dict:
    return {"ids": [f"u{i}" for i in items], "x": torch.tensor(items, dtype=torch.float32)[:, None]}


def test_every_batch_of_every_epoch_is_logged_in_order(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "batches.tsv"  # its folder is made
    loader = DataLoader(list(range(5)), batch_size=2, collate_fn=_collate)
    trainer = L.Trainer(max_epochs=2, callbacks=[BatchLog(str(path))], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(Regression(), loader)
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    assert lines == [
        ["0", "0", "u0,u1"], ["0", "1", "u2,u3"], ["0", "2", "u4"],
        ["1", "3", "u0,u1"], ["1", "4", "u2,u3"], ["1", "5", "u4"],
    ]


def test_each_rank_writes_its_own_file(tmp_path: Path) -> None:
    log = BatchLog(str(tmp_path / "batches.tsv"))
    for rank in (0, 1):
        trainer = SimpleNamespace(world_size=2, global_rank=rank, current_epoch=0, global_step=7)
        log.on_train_batch_start(trainer, None, {"ids": [f"r{rank}"]}, 0)
    assert (tmp_path / "batches.tsv.rank0").read_text() == "0\t7\tr0\n"
    assert (tmp_path / "batches.tsv.rank1").read_text() == "0\t7\tr1\n"
    assert not (tmp_path / "batches.tsv").exists()
