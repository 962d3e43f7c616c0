"""SeqkitTask's own behaviour (the steps are tested in test_step_guard.py)."""

from __future__ import annotations

from functools import partial

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from seqkit.data.tokenizer import CharTokenizer
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.spectral import LogMelFilterbank
from seqkit.tasks.speech_to_text import SpeechToText


def make_task() -> SpeechToText:
    encoder = partial(RNNEncoder, cell="gru", hidden_size=8, num_layers=1)
    return SpeechToText(CharTokenizer().fit(["ab"]).state(), LogMelFilterbank(sample_rate=8000, n_mels=8), encoder)


def test_batch_transfer_moves_tensors_and_keeps_string_lists() -> None:
    task = make_task()
    batch = {
        "waveforms": torch.randn(2, 80), "lengths": torch.tensor([80, 60]),
        "ids": ["u1", "u2"], "texts": ("ab", "b"), "skipped": [],
        "extra": {"frames": torch.zeros(2, 3)}, "mixed": [torch.ones(1), "x"],  # anything else: Lightning's transfer
    }
    device = torch.device("meta")  # a device that is not the CPU, on any machine
    moved = task.transfer_batch_to_device(batch, device, 0)
    expected = move_data_to_device(batch, device)
    assert moved.keys() == batch.keys()
    for key in ("waveforms", "lengths"):
        assert moved[key].device == device and moved[key].shape == batch[key].shape
        assert moved[key].dtype == batch[key].dtype
    for key in ("ids", "texts", "skipped"):
        assert moved[key] is batch[key] and moved[key] == expected[key]
    assert moved["extra"]["frames"].device == device
    assert moved["mixed"][0].device == device and moved["mixed"][1] == "x"


def test_batch_transfer_of_other_batches_is_lightnings() -> None:
    task = make_task()
    moved = task.transfer_batch_to_device((torch.ones(2), ["a"]), torch.device("meta"), 0)
    assert moved[0].device == torch.device("meta") and moved[1] == ["a"]
