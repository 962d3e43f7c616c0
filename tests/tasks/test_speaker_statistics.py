"""SpeakerStatistics: before each stage a per-speaker normalizer gets the statistics of that
stage's speakers, from one unaugmented pass over its recordings (tones written in memory)."""

from __future__ import annotations

import math
from functools import partial

import lightning as L
import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from seqkit.data.sequences import SequenceDataModule, collate_sequences
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.cmvn import SpeakerCMVN, UtteranceCMVN
from seqkit.features.spectral import MFCC
from seqkit.features.vtlp import VocalTractLengthPerturbation
from seqkit.tasks.sequence_classification import SequenceClassifier
from tiny_models import ListedSequences

pytestmark = pytest.mark.usefixtures("one_thread")

SPEAKERS = {"fit": ["ann", "bob"], "validate": ["cid"], "test": ["dee"], "predict": ["eve"]}


def _voices(speakers: list[str], named: bool) -> ListedSequences:
    """Three tones (0.1-0.2 s at 8 kHz) per speaker; each speaker louder than the one before."""
    generator = torch.Generator().manual_seed(len(speakers[0]) + ord(speakers[0][0]))
    items = []
    for speaker in speakers:
        gain = 0.05 * (1 + "abcde".index(speaker[0]))
        for take in range(3):
            samples = int(torch.randint(800, 1600, (1,), generator=generator))
            tone = torch.sin(2 * math.pi * 300 * (1 + take) * torch.arange(samples) / 8000)
            wave = gain * tone + 0.01 * torch.randn(samples, generator=generator)
            items.append({"id": f"{speaker}{take}", "inputs": wave, "label": take % 2,
                          **({"speaker": speaker} if named else {})})
    return ListedSequences(items)


class _VoiceData(SequenceDataModule):
    labels = ["low", "high"]

    def __init__(self, validate: bool = True, named: bool = True) -> None:
        super().__init__(batch_size=4)
        self.validate, self.named = validate, named

    def has_split(self, split: str) -> bool:
        return split != "validate" or self.validate

    def dataset(self, split: str) -> ListedSequences:
        return _voices(SPEAKERS[split], self.named)


class _OneUnnamed(_VoiceData):
    """A recording whose manifest line has an empty speaker."""

    def dataset(self, split: str) -> ListedSequences:
        voices = super().dataset(split)
        voices.items[1]["speaker"] = ""
        return voices


def _task(normalizer=None) -> SequenceClassifier:
    torch.manual_seed(0)
    # VTLP warps the spectra in training only: statistics taken in training mode would differ.
    features = MFCC(sample_rate=8000, n_mfcc=13, n_mels=40, vtlp=VocalTractLengthPerturbation(0.8, 1.2))
    return SequenceClassifier(labels=_VoiceData.labels, features=features, normalizer=normalizer or SpeakerCMVN(),
                              encoder=partial(RNNEncoder, cell="gru", hidden_size=8, num_layers=1), warmup_steps=1)


def _trainer(root, **kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", default_root_dir=root, logger=False, enable_checkpointing=False,
                     enable_model_summary=False, num_sanity_val_steps=0, **{"enable_progress_bar": False, **kwargs})


def _frames_by_speaker(task: SequenceClassifier, splits: list[str], training: bool = False) -> dict[str, Tensor]:
    """Every valid feature frame of each speaker of ``splits``, each recording alone.  # (N, F)"""
    task.train(training)
    frames: dict[str, list[Tensor]] = {}
    with torch.no_grad():
        for split in splits:
            for item in _voices(SPEAKERS[split], named=True).items:
                feats, count = task.features(item["inputs"][None], torch.tensor([item["inputs"].numel()]))
                frames.setdefault(item["speaker"], []).append(feats[0, : int(count)])
    task.eval()
    return {speaker: torch.cat(parts).double() for speaker, parts in frames.items()}


def _assert_statistics_of(task: SequenceClassifier, splits: list[str]) -> None:
    expected = _frames_by_speaker(task, splits)
    assert sorted(task.normalizer.stats) == sorted(expected)
    for speaker, frames in expected.items():
        mean, std = task.normalizer.stats[speaker]
        torch.testing.assert_close(mean.double(), frames.mean(0), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(std.double(), frames.std(0, unbiased=False), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("validate", [True, False])
def test_fit_takes_the_training_and_validation_speakers_unaugmented(tmp_path, validate: bool) -> None:
    task = _task()
    # Two epochs: training after the first validation still finds the training speakers.
    _trainer(tmp_path, max_epochs=2).fit(task, _VoiceData(validate=validate))
    _assert_statistics_of(task, ["fit", "validate"] if validate else ["fit"])
    augmented = _frames_by_speaker(task, ["fit"], training=True)["ann"]
    assert not torch.allclose(task.normalizer.stats["ann"][0].double(), augmented.mean(0), atol=1e-2)  # the premise


@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_each_evaluation_stage_has_its_own_speakers_only(tmp_path, stage: str) -> None:
    task = _task()
    task.normalizer.accumulate(torch.ones(1, 5, 13), torch.tensor([5]), ["dee"])  # left by an earlier stage
    task.normalizer.finish()
    getattr(_trainer(tmp_path), stage)(task, _VoiceData())
    _assert_statistics_of(task, [stage])


def test_the_pass_leaves_a_training_model_training(tmp_path) -> None:
    task = _task()
    _trainer(tmp_path, max_epochs=1).fit(task, _VoiceData(validate=False))
    task.train()  # as it is when fit starts
    task.collect_speaker_statistics(["fit"])  # the trainer and its data module are still attached
    assert task.training and task.features.vtlp.training
    _assert_statistics_of(task, ["fit"])


@pytest.mark.parametrize(("data", "message"), [
    (_VoiceData(named=False), "_VoiceData's test examples name no speaker: SpeakerCMVN needs them"),
    (_OneUnnamed(), r"SpeakerCMVN: utterance 'dee1' of the test data names no speaker \(empty 'speaker'"),
])
def test_recordings_without_a_speaker_are_refused(tmp_path, data: _VoiceData, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _trainer(tmp_path).test(_task(), data)


def test_plain_dataloaders_cannot_name_speakers(tmp_path) -> None:
    loader = DataLoader(_voices(SPEAKERS["test"], named=True).items, batch_size=4, collate_fn=collate_sequences)
    with pytest.raises(TypeError, match=r"SpeakerCMVN needs a data module .* \(NoneType has no statistics_loader\)"):
        _trainer(tmp_path).test(_task(), loader)


def test_other_normalizers_need_no_speakers(tmp_path) -> None:
    task = _task(UtteranceCMVN())
    [result] = _trainer(tmp_path).test(task, _VoiceData(named=False))
    assert 0 <= result["test_acc"] <= 1


def test_the_pass_shows_a_progress_bar_only_when_the_trainer_does(tmp_path, capsys) -> None:
    _trainer(tmp_path).test(_task(), _VoiceData())
    assert "speaker statistics" not in capsys.readouterr().err
    _trainer(tmp_path, enable_progress_bar=True).test(_task(), _VoiceData())
    assert "speaker statistics (test)" in capsys.readouterr().err


def test_normalize_gives_each_row_its_speakers_statistics() -> None:
    task = _task()
    feats, frames = torch.randn(2, 4, 13) * 3 + 1, torch.tensor([4, 2])  # (B, T, F), (B,)
    task.normalizer.stats = {"a": (torch.full((13,), 1.0), torch.full((13,), 2.0)),
                             "b": (torch.full((13,), -1.0), torch.full((13,), 0.5))}
    by_speaker = task.normalize(feats, frames, ["b", "a"])
    torch.testing.assert_close(by_speaker[0], (feats[0] + 1) / 0.5)
    torch.testing.assert_close(by_speaker[1, :2], (feats[1, :2] - 1) / 2)
    assert not by_speaker[1, 2:].any()  # padding stays zero
    # Other normalizers take no speakers; without one the features pass as they are.
    assert torch.equal(_task(UtteranceCMVN()).normalize(feats, frames, ["b", "a"]), UtteranceCMVN()(feats, frames))
    task.normalizer = None
    assert task.normalize(feats, frames, None) is feats
