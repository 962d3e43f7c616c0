"""Tiny real models for the inference-command tests (``seqkit transcribe``, ``seqkit classify``), trained in-process.

Each is built from the same ``class_path``/``init_args`` config ``seqkit fit`` stores, trained
with a plain loop (no Trainer: its start-up costs more than these trainings), and saved as a
checkpoint ``load_task`` rebuilds: ``hyper_parameters`` (with ``_class_path``) + ``state_dict``.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from lightning.pytorch.cli import instantiate_module
from torch.nn.utils.rnn import pad_sequence

from seqkit.data.audio import load_audio
from seqkit.data.sequences import SequenceDataset
from seqkit.data.tokenizer import CharTokenizer, Tokenizer

STT = "seqkit.tasks.speech_to_text.SpeechToText"
CLASSIFIER = "seqkit.tasks.sequence_classification.SequenceClassifier"


def _save(class_path: str, init_args: dict, task: torch.nn.Module, path: Path) -> Path:
    torch.save({"hyper_parameters": {"_class_path": class_path, **init_args}, "state_dict": task.state_dict()}, path)
    return path


def _build(class_path: str, init_args: dict):
    module = __import__(class_path.rpartition(".")[0], fromlist=["x"])
    return instantiate_module(getattr(module, class_path.rpartition(".")[2]), {"_class_path": class_path, **init_args})


def _write_cmvn(path: Path, waves: list[torch.Tensor]) -> None:
    from seqkit.features.spectral import LogMelFilterbank

    features = LogMelFilterbank(sample_rate=16000, n_mels=40)
    with torch.no_grad():
        feats = torch.cat([features(w[None], torch.tensor([w.numel()]))[0][0] for w in waves[:50]])  # (N, F)
    path.write_text(json.dumps({"mean": feats.mean(0).tolist(), "std": feats.std(0).tolist()}))


def train_digits_ctc(manifest: Path, out: Path, steps: int = 180, seed: int = 0, hidden: int = 64, layers: int = 2, batch: int = 8,
                     tokenizer: Tokenizer | None = None) -> Path:
    """A BiGRU-CTC on log-mel stacked x3 (the digits recipe, smaller), trained on ``manifest``.

    Each example is two utterances joined by a pause, their texts by a space: so the model
    learns that a pause between utterances is a word boundary, and meets speech that does not
    start at the recording's start -- as a window of a long recording does.  CMVN is global
    (statistics of the training features, kept in the checkpoint): per-utterance statistics
    would depend on where a window falls.  ``tokenizer`` (unfitted; characters by default)
    sets the targets.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    tokenizer = (tokenizer or CharTokenizer()).fit(r["text"] for r in records)
    waves = [load_audio(str(manifest.parent / r["audio"]), 16000) for r in records]  # (S,) each
    stats = out.with_suffix(".cmvn.json")
    _write_cmvn(stats, waves)
    init_args = {
        "tokenizer": tokenizer.state(),
        "features": {"class_path": "seqkit.features.spectral.LogMelFilterbank", "init_args": {"sample_rate": 16000, "n_mels": 40}},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder",
                    "init_args": {"cell": "gru", "hidden_size": hidden, "num_layers": layers, "stack_frames": 3}},
        "normalizer": {"class_path": "seqkit.features.cmvn.GlobalCMVN", "init_args": {"stats_file": str(stats)}},
        "head": {"class_path": "seqkit.heads.ctc.CTCHead"},
        "warmup_steps": 0,
    }
    task = _build(STT, init_args)
    targets = [torch.tensor(tokenizer.encode(r["text"])) for r in records]
    space = torch.tensor([tokenizer.tokens.index(" ")])
    optimizer = torch.optim.AdamW(task.parameters(), lr=6e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / max(steps, 1))  # linear decay: settles
    task.train()
    for _ in range(steps):
        pairs = [rng.sample(range(len(records)), 2) for _ in range(batch)]
        joined = [torch.cat([waves[a], torch.zeros(rng.randint(1600, 8000)), waves[b]]) for a, b in pairs]  # (S,)
        texts = [torch.cat([targets[a], space, targets[b]]) for a, b in pairs]
        wav = pad_sequence(joined, batch_first=True)  # (B, S)
        log_probs, out_lengths = task(wav, torch.tensor([w.numel() for w in joined]))  # (B, T', V)
        tgt = pad_sequence(texts, batch_first=True)
        loss = task.head.loss(log_probs, out_lengths, tgt, torch.tensor([len(t) for t in texts]))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.parameters(), 5.0)
        optimizer.step()
        schedule.step()
    return _save(STT, init_args, task, out)


def train_ramps_classifier(root: Path, out: Path, steps: int = 60, seed: int = 0) -> Path:
    """A GRU classifier of ``.npy`` series (T, 2): rising vs falling ramps (written under ``root``)."""
    torch.manual_seed(seed)
    series, labels = write_ramps(root, 64, seed)
    init_args = {
        "labels": ["down", "up"],
        "input_size": 2,
        "features": {"class_path": "seqkit.features.frames.PrecomputedFeatures"},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {"cell": "gru", "hidden_size": 16, "num_layers": 1}},
        "head": {"class_path": "seqkit.heads.classification.ClassificationHead"},
        "warmup_steps": 0,
    }
    task = _build(CLASSIFIER, init_args)
    _fit_classifier(task, series, labels, steps, seed)
    return _save(CLASSIFIER, init_args, task, out)


def write_ramps(root: Path, count: int, seed: int) -> tuple[list[torch.Tensor], list[int]]:
    """``root/{i}_{label}.npy``: noisy ramps of random length, label 1 ("up") when rising."""
    gen = torch.Generator().manual_seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    series, labels = [], []
    for index in range(count):
        label = index % 2
        length = int(torch.randint(10, 30, (1,), generator=gen))
        t = torch.arange(length, dtype=torch.float32)
        ramp = (0.2 if label else -0.2) * t + torch.randn(1, generator=gen)
        values = torch.stack([ramp, torch.randn(length, generator=gen) * 0.1], dim=1) + torch.randn(length, 2, generator=gen) * 0.1
        np.save(root / f"{index:03d}_{('down', 'up')[label]}.npy", values.numpy())
        series.append(values)
        labels.append(label)
    return series, labels


def train_tones_classifier(root: Path, out: Path, steps: int = 40, seed: int = 0, by_speaker: bool = False) -> Path:
    """An MFCC + GRU classifier of 8 kHz WAV files: a low (200-300 Hz) or high (1-2 kHz) tone.

    ``by_speaker``: with per-speaker CMVN, every training file one speaker ("lab"), so the
    statistics pool both tones (per recording they would remove the tone's own spectrum)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    waves, labels = [], []
    for index in range(40):
        label = index % 2
        freq = rng.uniform(1000, 2000) if label else rng.uniform(200, 300)
        t = np.arange(int(rng.uniform(0.3, 0.8) * 8000)) / 8000
        wave = (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
        sf.write(root / f"{index:03d}_{('low', 'high')[label]}.wav", wave, 8000)
        waves.append(torch.from_numpy(wave))
        labels.append(label)
    init_args = {
        "labels": ["low", "high"],
        "features": {"class_path": "seqkit.features.spectral.MFCC", "init_args": {"sample_rate": 8000, "n_mfcc": 13, "n_mels": 40}},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {"cell": "gru", "hidden_size": 16, "num_layers": 1, "stack_frames": 2}},
        "head": {"class_path": "seqkit.heads.classification.ClassificationHead"},
        "warmup_steps": 0,
    }
    if by_speaker:
        init_args["normalizer"] = {"class_path": "seqkit.features.cmvn.SpeakerCMVN"}
    task = _build(CLASSIFIER, init_args)
    if by_speaker:
        with torch.no_grad():
            for wave in waves:
                task.normalizer.accumulate(*task.features(wave.unsqueeze(0), torch.tensor([wave.numel()])), ["lab"])
        task.normalizer.finish()
    _fit_classifier(task, waves, labels, steps, seed, "lab" if by_speaker else None)
    return _save(CLASSIFIER, init_args, task, out)


def _fit_classifier(task, inputs: list[torch.Tensor], labels: list[int], steps: int, seed: int, speaker: str | None = None) -> None:
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-2)
    task.train()
    for _ in range(steps):
        batch = rng.sample(range(len(inputs)), 16)
        x = pad_sequence([inputs[i] for i in batch], batch_first=True)  # (B, T, ...)
        speakers = None if speaker is None else [speaker] * len(batch)
        logits = task(x, torch.tensor([inputs[i].shape[0] for i in batch]), speakers)  # (B, C)
        loss = task.head.loss(logits, torch.tensor([labels[i] for i in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def untrained_speech_task(normalizer: torch.nn.Module | None = None, backend: str = "torchaudio", seed: int = 0,
                          **encoder) -> torch.nn.Module:
    """A random-weight 8 kHz log-mel CTC task in evaluation mode (as ``load_task`` returns it), for the export tests.
    ``encoder``: RNNEncoder arguments over a 2-layer LSTM of 8 units, frames stacked x2."""
    from seqkit.encoders.rnn import RNNEncoder
    from seqkit.features.spectral import LogMelFilterbank
    from seqkit.tasks.speech_to_text import SpeechToText

    torch.manual_seed(seed)
    encoder = {"cell": "lstm", "hidden_size": 8, "num_layers": 2, "stack_frames": 2, **encoder}
    tokenizer = CharTokenizer().fit(["abc cab"]).state()
    features = LogMelFilterbank(8000, n_mels=16, backend=backend)
    return SpeechToText(tokenizer, features, partial(RNNEncoder, **encoder), normalizer=normalizer).eval()


def untrained_classifier(features: torch.nn.Module, input_size: int = 0, seed: int = 0, **init_args) -> torch.nn.Module:
    """A random-weight 3-class GRU classifier of ``features`` in evaluation mode, for the export tests."""
    from seqkit.encoders.rnn import RNNEncoder
    from seqkit.tasks.sequence_classification import SequenceClassifier

    torch.manual_seed(seed)
    encoder = partial(RNNEncoder, cell="gru", hidden_size=6, num_layers=2)
    return SequenceClassifier(["a", "b", "c"], features, encoder, input_size=input_size, **init_args).eval()


class ListedSequences(SequenceDataset):
    """Examples held in a list (dicts with ``inputs`` (T, ...), ``label``, ``id``), for in-memory data modules."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items
        self.lengths = [int(item["inputs"].shape[0]) for item in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


@contextmanager
def one_thread_only():
    """Tiny models: intra-op threads only add spin-wait overhead on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def write_ts(path: Path, cases: int, seed: int, labels: tuple[str, ...] = ("up", "down")) -> None:
    """Noisy ramps of random length; class k of n has slope 0.3 - 0.6 k / (n - 1) (up: 0.3, down: -0.3)."""
    rng = random.Random(seed)
    lines = ["@problemName Ramps", "@timeStamps false", "@missing false", "@univariate true",
             "@equalLength false", f"@classLabel true {' '.join(labels)}", "@data"]
    for index in range(cases):
        k = index % len(labels)
        label = labels[k]
        slope = 0.3 - 0.6 * k / (len(labels) - 1)
        length = rng.randint(10, 30)
        start = rng.gauss(0, 1)
        values = [start + slope * t + rng.gauss(0, 0.1) for t in range(length)]
        lines.append(",".join(f"{v:.4f}" for v in values) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
