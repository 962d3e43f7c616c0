"""BucketedDataModule: the batch transfer its data modules share."""

from __future__ import annotations

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from seqkit.data.bucketed import BucketedDataModule

META = torch.device("meta")  # a device that is not the CPU, on any machine


def test_batch_transfer_moves_tensors_and_keeps_string_lists() -> None:
    batch = {
        "waveforms": torch.randn(2, 80), "lengths": torch.tensor([80, 60]),
        "ids": ["u1", "u2"], "texts": ("ab", "b"), "skipped": [],
        "extra": {"frames": torch.zeros(2, 3)}, "mixed": [torch.ones(1), "x"],  # anything else: Lightning's transfer
    }
    moved = BucketedDataModule().transfer_batch_to_device(batch, META, 0)
    expected = move_data_to_device(batch, META)
    assert moved.keys() == batch.keys()
    for key in ("waveforms", "lengths"):
        assert moved[key].device == META and moved[key].shape == batch[key].shape
        assert moved[key].dtype == batch[key].dtype
    for key in ("ids", "texts", "skipped"):
        assert moved[key] is batch[key] and moved[key] == expected[key]  # not copied string by string
    assert moved["extra"]["frames"].device == META
    assert moved["mixed"][0].device == META and moved["mixed"][1] == "x"


def test_batch_transfer_of_other_batches_is_lightnings() -> None:
    moved = BucketedDataModule().transfer_batch_to_device((torch.ones(2), ["a"]), META, 0)
    assert moved[0].device == META and moved[1] == ["a"]
