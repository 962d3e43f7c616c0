"""Free Spoken Digit Dataset: isolated digits "0".."9", evaluated on a held-out speaker.

``ROOT/{digit}_{speaker}_{take}.wav`` (8 kHz mono; 4 speakers x 10 digits x 50 takes in
the shared copy).  FSDD has no standard split; recognising a *voice it has never heard*
is the task, so ``test_speaker``'s recordings are the test set and the other speakers'
the training set (a 4-fold protocol over the speakers: ``recipes/classification``).

Examples are raw waveforms ``inputs (S,)``, batched to ``(B, S)``: the model computes its
features (:class:`seqkit.features.spectral.MFCC`) on the batch's device.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile
from torch import Tensor

from seqkit.data.audio import AudioError, load_audio
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path, expand_data_paths
from seqkit.data.sequences import SequenceDataModule, SequenceDataset, stratified_holdout
from seqkit.data.speed_perturb import SpeedPerturbation
from seqkit.data.tempo_perturb import TempoPerturbation

FILE_NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav")
DIGITS = [str(digit) for digit in range(10)]
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    samples: int  # at the data module's sample rate (drives length bucketing)


def scan_recordings(root: Path, sample_rate: int) -> list[Recording]:
    """Every ``{digit}_{speaker}_{take}.wav`` in ``root``; any other ``.wav`` name is an error."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: expected FSDD's recordings/ folder")
    recordings = []
    for path in sorted(root.glob("*.wav")):
        match = FILE_NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path}: expected a file name {{digit}}_{{speaker}}_{{take}}.wav")
        try:
            info = soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{path}: unreadable audio ({err})") from None
        samples = round(info.frames * sample_rate / info.samplerate)
        recordings.append(Recording(path, int(match["digit"]), match["speaker"], samples))
    if not recordings:
        raise FileNotFoundError(f"{root} has no .wav recordings")
    return recordings


def digit_recordings(manifest: str, sample_rate: int) -> list[Recording]:
    """A manifest of isolated spoken digits ("zero" .. "nine") as recordings; other text is an error."""
    recordings = []
    for utt in read_manifest(manifest):
        if utt.text not in DIGIT_WORDS:
            raise ValueError(f"{utt.where}: expected one digit word ({', '.join(DIGIT_WORDS)}), got {utt.text!r}")
        if utt.segment is not None or utt.offset is not None:
            raise ValueError(f"{utt.where}: segments and shard members are not supported here")
        samples = round(utt.duration * sample_rate)
        recordings.append(Recording(Path(utt.audio), DIGIT_WORDS.index(utt.text), utt.speaker, samples))
    return recordings


class FSDDDataset(SequenceDataset):
    """Loads one recording as float32 mono at ``sample_rate``: ``inputs`` (S,)."""

    def __init__(
        self,
        recordings: list[Recording],
        sample_rate: int,
        perturbs: Sequence[Callable[[Tensor], Tensor]] = (),
    ) -> None:
        self.recordings = recordings
        self.sample_rate = sample_rate
        self.perturbs = perturbs  # applied in order to each loaded waveform
        self.lengths = [rec.samples for rec in recordings]

    def __len__(self) -> int:
        return len(self.recordings)

    def __getitem__(self, index: int) -> dict:
        rec = self.recordings[index]
        waveform = load_audio(str(rec.path), self.sample_rate)  # (S,)
        for perturb in self.perturbs:
            waveform = perturb(waveform)
        return {"id": rec.path.stem, "inputs": waveform, "label": rec.digit, "speaker": rec.speaker}


class FSDDDataModule(SequenceDataModule):
    """Train on every speaker but ``test_speaker``; test on ``test_speaker`` (also ``predict``).

    ``val_fraction > 0`` holds out that fraction of the training speakers' recordings of
    every (speaker, digit) pair, seeded by ``seed``.  It measures fitting, not
    generalisation to a new voice (the test speaker must stay unseen until the test); at
    0 there is no validation and the last checkpoint is the model.  ``sample_rate`` is
    linked from the model's features by the CLI.  ``input_size`` is 1: one sample a step.
    ``speed_factors`` (e.g. ``[0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]``) speed-perturbs
    training recordings, a new factor each time one is loaded: other voices for free.
    ``tempo_factors`` (e.g. ``[0.7, 0.85, 1.0, 1.2, 1.4]``) then changes their tempo alone,
    so that durations say less about the digit (:mod:`seqkit.data.tempo_perturb`).
    ``extra_train_manifest`` adds more training voices: a speech manifest (or a list of
    them) whose transcripts are single digit words ("zero" .. "nine"), such as isolated
    digits synthesised with ``tools/synth_digits.py --digits 1,1 --sample-rate 8000`` or
    ``tools/flite_digits.py``; every fold trains on them.
    """

    input_size = 1

    def __init__(
        self,
        test_speaker: str,
        root: str = "${SEQKIT_DATA}/fsdd/recordings",
        val_fraction: float = 0.0,
        sample_rate: int = 8000,
        speed_factors: list[float] | None = None,
        tempo_factors: list[float] | None = None,
        extra_train_manifest: list[str] | str | None = None,
        batch_size: int = 32,
        num_buckets: int = 10,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_buckets, num_workers, seed)
        self.labels = DIGITS
        self.sample_rate = sample_rate
        self.val_fraction = val_fraction
        self.perturbs = []
        if speed_factors:
            self.perturbs.append(SpeedPerturbation(speed_factors, sample_rate))
        if tempo_factors:
            self.perturbs.append(TempoPerturbation(tempo_factors, sample_rate))
        recordings = scan_recordings(Path(expand_data_path(root)), sample_rate)
        speakers = sorted({rec.speaker for rec in recordings})
        if test_speaker not in speakers:
            raise ValueError(f"test_speaker {test_speaker!r} has no recordings in {root}; speakers: {speakers}")
        if len(speakers) < 2:
            raise ValueError(f"{root} has only speaker {test_speaker!r}: none is left to train on")
        self.test_speaker = test_speaker
        self.train_speakers = [s for s in speakers if s != test_speaker]
        train = [rec for rec in recordings if rec.speaker != test_speaker]
        fit, held = stratified_holdout([(rec.speaker, rec.digit) for rec in train], val_fraction, seed)
        extra = [rec for m in expand_data_paths(extra_train_manifest) for rec in digit_recordings(m, sample_rate)]
        self._recordings = {
            "fit": [train[i] for i in fit] + extra,
            "validate": [train[i] for i in held],
            "test": [rec for rec in recordings if rec.speaker == test_speaker],
        }
        self._recordings["predict"] = self._recordings["test"]

    def has_split(self, split: str) -> bool:
        return split != "validate" or self.val_fraction > 0

    def dataset(self, split: str) -> FSDDDataset:
        return self._split_dataset(split, self.perturbs if split == "fit" else ())

    def unaugmented_dataset(self, split: str) -> FSDDDataset:
        return self._split_dataset(split, ())

    def _split_dataset(self, split: str, perturbs: Sequence[Callable[[Tensor], Tensor]]) -> FSDDDataset:
        if not self.has_split(split):
            raise ValueError("no 'validate' split: set data.init_args.val_fraction")
        return FSDDDataset(self._recordings[split], self.sample_rate, perturbs)
