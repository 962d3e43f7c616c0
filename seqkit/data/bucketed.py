"""Base of the data modules with a length-bucketed loader per split, resumable mid-epoch."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from seqkit.data.resume import MidEpochResume


class BucketedDataModule(MidEpochResume, L.LightningDataModule):
    """Lightning's four loaders from one :meth:`_loader`; only training shuffles (and re-buckets)."""

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
