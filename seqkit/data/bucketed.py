"""Base of the data modules with a length-bucketed loader per split, resumable mid-epoch."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from seqkit.data.resume import MidEpochResume


def _strings(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


class BucketedDataModule(MidEpochResume, L.LightningDataModule):
    """Lightning's four loaders from one :meth:`_loader`; only training shuffles (and re-buckets).

    Batches are dicts of tensors and lists of strings (ids, texts, speakers).
    """

    def has_split(self, split: str) -> bool:
        raise NotImplementedError

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        """The split's loader, built with :meth:`split_loader` so that training can resume mid-epoch."""
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("fit", shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        # No validation data: no validation (Lightning skips an empty list).
        return self._loader("validate", shuffle=False) if self.has_split("validate") else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Move a batch's tensors to ``device``; its lists of strings stay where they are.

        Lightning's generic transfer visits every string of those lists, which costs host
        time in every step (`tools/bench_batch_transfer.py` measures both).
        """
        if not isinstance(batch, dict):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        non_blocking = device.type not in ("cpu", "mps")  # as Lightning's move_data_to_device
        return {
            key: value.to(device, non_blocking=non_blocking) if isinstance(value, Tensor)
            else value if _strings(value)
            else super(BucketedDataModule, self).transfer_batch_to_device(value, device, dataloader_idx)
            for key, value in batch.items()
        }
