"""Background speech: another training recording, much quieter, mixed under an utterance.

A model trained on clean read speech may take any faint voice for a word.  Mixing, in
training only, a random other recording of the training set at a signal-to-noise ratio
drawn from ``snr_db`` shows it faint speech that carries no label: babble noise built from
the corpus itself (as MUSAN's babble is built from speech), so no noise corpus is needed.
"""

from __future__ import annotations

import random

import torch
from torch import Tensor


class BackgroundSpeech:
    """Mixes a background recording under an utterance with probability ``probability``.

    Args:
        probability: share of training utterances that get a background.
        snr_db: range of the utterance-to-background power ratio in dB, drawn uniformly
            per utterance (15-30 dB: the background is 6-30 times quieter in amplitude).
    """

    def __init__(self, probability: float = 0.5, snr_db: tuple[float, float] = (15.0, 30.0)) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        low, high = snr_db
        if low > high:
            raise ValueError(f"snr_db must be (low, high) with low <= high, got {snr_db}")
        self.probability = probability
        self.snr_db = (float(low), float(high))

    def wanted(self) -> bool:
        """Whether the next utterance gets a background (drawn with Python's ``random``, which
        the DataLoader seeds per worker, as speed perturbation does)."""
        return random.random() < self.probability

    def mix(self, waveform: Tensor, background: Tensor) -> Tensor:
        """(S,) utterance and (S_b,) background -> (S,) mixture.

        The background is tiled when shorter, starts at a random sample, and is scaled so
        that the utterance's power over the background's is the drawn SNR.  A silent
        utterance or background is returned unchanged: no ratio can be set.
        """
        length = waveform.numel()
        if length == 0 or background.numel() == 0:
            return waveform
        repeats = -(-length // background.numel())  # ceil: enough to cover the utterance from any start
        tiled = background.repeat(repeats + 1)
        start = random.randrange(background.numel())
        segment = tiled[start : start + length]
        signal_power, background_power = waveform.pow(2).mean(), segment.pow(2).mean()
        if signal_power <= 0 or background_power <= 0:
            return waveform
        snr = random.uniform(*self.snr_db)
        gain = torch.sqrt(signal_power / (background_power * 10 ** (snr / 10)))
        return waveform + gain * segment
