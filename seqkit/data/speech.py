"""Speech data: a manifest-backed dataset, padding collate, and the Lightning data module.

A batch is a plain dict of tensors and lists (never a PackedSequence):

    waveforms (B, S) float32, lengths (B,) int64, targets (sum L,) int64 concatenated,
    target_lengths (B,) int64, ids / texts / speakers: lists of B strings,
    skipped: why each unreadable utterance was left out (only under ``on_bad="skip"``).
"""

from __future__ import annotations

import logging
import random
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset

from seqkit.data.audio import AudioError, load_audio
from seqkit.data.background import BackgroundSpeech
from seqkit.data.manifest import ManifestError, Utterance, read_manifest
from seqkit.data.paths import expand_data_path, expand_data_paths
from seqkit.data.bucketed import BucketedDataModule
from seqkit.data.sampler import DurationBatchSampler
from seqkit.data.speed_perturb import SpeedPerturbation
from seqkit.data.tokenizer import CharTokenizer, Tokenizer

log = logging.getLogger(__name__)
BadPolicy = Literal["error", "skip"]
# Lightning stage -> the data module argument naming its manifest.
MANIFEST_ARGS = {"fit": "train_manifest", "validate": "val_manifest", "test": "test_manifest", "predict": "predict_manifest"}


class SpeechDataset(Dataset):
    """Loads one utterance's audio and token ids; ``None`` for an unreadable file under ``skip``."""

    def __init__(
        self,
        utterances: list[Utterance],
        tokenizer: Tokenizer,
        sample_rate: int,
        on_bad: BadPolicy,
        perturb: SpeedPerturbation | None = None,
        background: BackgroundSpeech | None = None,
    ) -> None:
        self.utterances = utterances
        self.tokenizer = tokenizer
        self.sample_rate = sample_rate
        self.on_bad = on_bad
        self.perturb = perturb
        self.background = background

    def __len__(self) -> int:
        return len(self.utterances)

    def _load(self, utt: Utterance) -> torch.Tensor:
        return load_audio(utt.audio, self.sample_rate, where=utt.where, offset=utt.offset, size=utt.size,
                          segment=utt.segment)

    def __getitem__(self, index: int) -> dict | None:
        utt = self.utterances[index]
        try:
            waveform = self._load(utt)
        except AudioError as err:
            if self.on_bad == "error":
                raise
            log.warning("skipping bad utterance: %s", err)
            return {"skipped": str(err)}
        if self.perturb is not None:
            waveform = self.perturb(waveform)
        if self.background is not None and len(self.utterances) > 1 and self.background.wanted():
            waveform = self._with_background(waveform, index)
        return {
            "waveform": waveform,
            "targets": torch.tensor(self.tokenizer.encode(utt.text), dtype=torch.long),
            "id": utt.id,
            "text": self.tokenizer.normalize(utt.text),
            "speaker": utt.speaker,
        }

    def _with_background(self, waveform: torch.Tensor, index: int) -> torch.Tensor:
        other = random.randrange(len(self.utterances) - 1)
        other += other >= index  # any recording but this one
        try:
            background = self._load(self.utterances[other])
        except AudioError as err:
            if self.on_bad == "error":
                raise
            log.warning("no background from a bad utterance: %s", err)
            return waveform
        return self.background.mix(waveform, background)


def collate_speech(items: list[dict]) -> dict:
    """Pad waveforms to the longest and concatenate CTC targets (see module docstring)."""
    skipped = [item["skipped"] for item in items if "skipped" in item]  # error messages naming file and line
    items = [item for item in items if "skipped" not in item]
    lengths = torch.tensor([item["waveform"].numel() for item in items], dtype=torch.long)
    waveforms = torch.zeros(len(items), int(lengths.max()) if items else 0)
    for row, item in enumerate(items):
        waveforms[row, : item["waveform"].numel()] = item["waveform"]
    return {
        "waveforms": waveforms,
        "lengths": lengths,
        "targets": torch.cat([item["targets"] for item in items]) if items else torch.zeros(0, dtype=torch.long),
        "target_lengths": torch.tensor([item["targets"].numel() for item in items], dtype=torch.long),
        "ids": [item["id"] for item in items],
        "texts": [item["text"] for item in items],
        "speakers": [item["speaker"] for item in items],
        "skipped": skipped,
    }


class SpeechDataModule(BucketedDataModule):
    """Manifests in, duration-bucketed batches out; fits the tokenizer on the training texts.

    ``on_bad`` decides what happens to a bad utterance (unreadable audio, empty or
    out-of-vocabulary transcript, label longer than the encoder's output): ``error`` stops
    with a message naming the manifest line; ``skip`` drops it, counts it, and lists it
    in the run directory.  Nothing is dropped silently.
    """

    def __init__(
        self,
        train_manifest: str | None = None,
        val_manifest: str | None = None,
        test_manifest: str | None = None,
        predict_manifest: str | None = None,
        data_root: str | None = None,  # audio paths are relative to it; ${SEQKIT_DATA} is expanded
        tokenizer: Tokenizer | None = None,
        sample_rate: int = 16000,
        max_batch_seconds: float = 120.0,
        num_buckets: int = 30,
        num_workers: int = 2,
        on_bad: BadPolicy = "error",
        speed_factors: list[float] | None = None,
        background_speech: BackgroundSpeech | None = None,
        extra_train_manifest: list[str] | str | None = None,
        seed: int = 0,
    ) -> None:
        """``speed_factors`` (e.g. ``[0.9, 1.0, 1.1]``) speed-perturbs training audio only.
        ``background_speech`` mixes other training recordings, quietly, under training audio.
        ``extra_train_manifest`` (one manifest or a list, as FSDD's data module takes) adds
        training utterances from other corpora, such as ``tools/tts_corpus.py``'s synthetic
        speech; their audio paths are relative to their own manifest's folder, not to ``data_root``.

        Batches are formed from the manifest durations, so a batch of slowed-down audio can
        be up to 1 / min(speed_factors) times ``max_batch_seconds``.
        """
        super().__init__()
        paths = (train_manifest, val_manifest, test_manifest, predict_manifest)
        self.manifests = {split: expand_data_path(p) if p else None for split, p in zip(MANIFEST_ARGS, paths)}
        self.extra_train_manifests = expand_data_paths(extra_train_manifest)
        if self.extra_train_manifests and train_manifest is None:
            raise ValueError("extra_train_manifest adds to a train_manifest; set data.init_args.train_manifest too")
        self.data_root = expand_data_path(data_root) if data_root else None
        self.sample_rate = sample_rate
        self.max_batch_seconds = max_batch_seconds
        self.num_buckets = num_buckets
        self.num_workers = num_workers
        self.on_bad = on_bad
        self.perturb = SpeedPerturbation(speed_factors, sample_rate) if speed_factors else None
        self.background_speech = background_speech
        self.seed = seed
        self.tokenizer = tokenizer or CharTokenizer()
        self._utterances: dict[str, list[Utterance]] = {}
        if not self.tokenizer.fitted:
            if train_manifest is None:
                raise ValueError("a train_manifest is needed to fit the tokenizer")
            self.tokenizer.fit(utt.text for utt in self.utterances("fit"))

    @property
    def tokenizer_state(self) -> dict:
        """Plain-data tokenizer, linked into the model so the checkpoint carries it."""
        return self.tokenizer.state()

    def utterances(self, split: str) -> list[Utterance]:
        if split not in self._utterances:
            path = self.manifests[split]
            if path is None:
                raise ValueError(f"no manifest given for {split!r}; set data.init_args.{MANIFEST_ARGS[split]}")
            utterances = read_manifest(path, self.data_root)
            if split == "fit":
                utterances = _joined(utterances, [read_manifest(extra) for extra in self.extra_train_manifests])
            self._utterances[split] = utterances
        return self._utterances[split]

    def set_utterances(self, split: str, utterances: list[Utterance]) -> None:
        """Replace a split's utterances (after the task's data checks have dropped bad ones)."""
        self._utterances[split] = utterances

    def has_split(self, split: str) -> bool:
        return self.manifests.get(split) is not None

    def statistics_loader(self, split: str) -> DataLoader:
        """The split without speed perturbation, in manifest order, for per-speaker statistics (SpeakerCMVN)."""
        dataset = SpeechDataset(self.utterances(split), self.tokenizer, self.sample_rate, self.on_bad)
        # One replica: under DDP every rank needs every speaker's statistics.
        sampler = DurationBatchSampler([u.duration for u in dataset.utterances], self.max_batch_seconds, num_buckets=1,
                                       shuffle=False, num_replicas=1, rank=0)
        # Its own generator: iterating must not draw from the global RNG that training draws from.
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_speech, num_workers=self.num_workers,
                          generator=torch.Generator())

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        utterances = self.utterances(split)
        training = split == "fit"
        dataset = SpeechDataset(utterances, self.tokenizer, self.sample_rate, self.on_bad,
                                self.perturb if training else None, self.background_speech if training else None)
        sampler = DurationBatchSampler(
            [u.duration for u in utterances],
            self.max_batch_seconds,
            num_buckets=self.num_buckets if shuffle else 1,
            shuffle=shuffle,
            seed=self.seed,
        )
        return self.split_loader(split, dataset, sampler, collate_speech)


def _joined(first: list[Utterance], others: list[list[Utterance]]) -> list[Utterance]:
    """Concatenate manifests' utterances; an id must not repeat across them (reports and batch logs go by id)."""
    seen = {utt.id: utt for utt in first}
    joined = list(first)
    for utterances in others:
        for utt in utterances:
            if utt.id in seen:
                before = seen[utt.id]
                raise ManifestError(f"{utt.manifest}:{utt.line}: id {utt.id!r} is already used at {before.manifest}:{before.line}")
            seen[utt.id] = utt
            joined.append(utt)
    return joined
