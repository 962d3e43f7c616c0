"""Resuming mid-epoch from a checkpoint: the rest of the epoch, each batch exactly once."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import soundfile
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from seqkit.data.speech import SpeechDataModule
from seqkit.data.tokenizer import CharTokenizer
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.spectral import LogMelFilterbank
from seqkit.tasks.speech_to_text import SpeechToText

RATE = 8000
TEXTS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero", "oh", "ten", "yes", "no"]


class BatchRecorder(Callback):
    """The utterance ids of every training batch, with the epoch it belongs to."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, list[str]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append((trainer.current_epoch, list(batch["ids"])))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    lines = []
    for i, text in enumerate(TEXTS):
        seconds = 0.3 + 0.05 * i
        t = np.arange(int(seconds * RATE)) / RATE
        soundfile.write(tmp_path / f"u{i}.wav", (0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t)).astype(np.float32), RATE)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": seconds, "text": text, "speaker": "s"}))
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fit(manifest: Path, root: Path, max_epochs: int, ckpt_path: Path | None = None, every_n_steps: int | None = None) -> BatchRecorder:
    datamodule = SpeechDataModule(train_manifest=str(manifest), tokenizer=CharTokenizer(), sample_rate=RATE,
                                  max_batch_seconds=1.5, num_buckets=3, num_workers=0, seed=3)
    datamodule.setup("fit")
    torch.manual_seed(0)
    task = SpeechToText(datamodule.tokenizer_state, LogMelFilterbank(sample_rate=RATE, n_mels=8),
                        partial(RNNEncoder, cell="gru", hidden_size=8, num_layers=1))
    recorder = BatchRecorder()
    callbacks: list[Callback] = [recorder]
    if every_n_steps:
        callbacks.append(ModelCheckpoint(dirpath=root / "steps", filename="{epoch}-{step}", every_n_train_steps=every_n_steps, save_top_k=-1))
    trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=root, callbacks=callbacks)
    # Built in Python, the task's hyper-parameters hold modules, which only a full unpickle
    # restores (``seqkit fit`` stores them as plain config and loads with weights_only=True).
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=False)
    return recorder


def test_resuming_mid_epoch_trains_on_the_rest_of_the_epoch_once(manifest: Path, tmp_path: Path) -> None:
    full = _fit(manifest, tmp_path / "full", max_epochs=3, every_n_steps=2)
    per_epoch = {e: [ids for epoch, ids in full.batches if epoch == e] for e in range(3)}
    assert len(per_epoch[1]) >= 4  # enough batches that a checkpoint falls inside the epoch
    done_before_epoch_1 = len(per_epoch[0])
    # A checkpoint 2 or 3 batches into epoch 1 (``every_n_train_steps=2``).
    step = next(s for s in range(2, 100, 2) if s > done_before_epoch_1 + 1)
    checkpoint = next((tmp_path / "full" / "steps").glob(f"epoch=1-step={step}.ckpt"))
    trained_in_epoch = step - done_before_epoch_1

    resumed = _fit(manifest, tmp_path / "resumed", max_epochs=3, ckpt_path=checkpoint)
    rest_of_epoch_1 = [ids for epoch, ids in resumed.batches if epoch == 1]
    # Exactly the batches the interrupted run had not trained on yet, in the same order ...
    assert rest_of_epoch_1 == per_epoch[1][trained_in_epoch:]
    # ... so the epoch as a whole saw every utterance once.
    seen = [i for ids in per_epoch[1][:trained_in_epoch] + rest_of_epoch_1 for i in ids]
    assert sorted(seen) == sorted(f"u{i}" for i in range(len(TEXTS)))
    # The next epoch is whole again, as in the uninterrupted run.
    assert [ids for epoch, ids in resumed.batches if epoch == 2] == per_epoch[2]


def test_checkpoint_at_the_end_of_an_epoch_resumes_with_a_whole_epoch(manifest: Path, tmp_path: Path) -> None:
    _fit(manifest, tmp_path / "full", max_epochs=2)
    checkpoint = tmp_path / "full" / "checkpoints" / "last.ckpt"  # written after epoch 0, then 1
    state = torch.load(checkpoint, weights_only=False)["SpeechDataModule"]  # hparams hold modules, as above
    assert state == {"epoch": 2, "batches_done": 0}  # epoch 1 was over: go on with a whole epoch 2
    resumed = _fit(manifest, tmp_path / "resumed", max_epochs=3, ckpt_path=checkpoint)
    assert {epoch for epoch, _ in resumed.batches} == {2}
    assert sorted(i for _, ids in resumed.batches for i in ids) == sorted(f"u{i}" for i in range(len(TEXTS)))
