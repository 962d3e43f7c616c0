"""Speed perturbation (Ko et al., 2015): play a recording faster or slower.

Resampling by a factor f and reading the result at the original rate changes tempo *and*
pitch by f, which imitates other speaking rates and vocal-tract lengths.  Training sees each
utterance at a factor drawn afresh each time it is loaded.
"""

from __future__ import annotations

import random

import torch
import torchaudio.functional as AF


def speed_perturb(waveform: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """(S,) -> (about S / factor,): ``factor`` > 1 is faster and higher."""
    if factor == 1.0:
        return waveform
    # Integer rates: a rounded source rate keeps the polyphase filter small.
    source_rate = int(round(sample_rate * factor / 100)) * 100
    return AF.resample(waveform, orig_freq=source_rate, new_freq=sample_rate)


class RandomFactorPerturbation:
    """Applies ``transform`` at a factor drawn uniformly from ``factors`` per call.

    The draw uses Python's ``random``, which the DataLoader seeds per worker.
    """

    kind = "perturbation"

    def __init__(self, factors: list[float], sample_rate: int) -> None:
        if not factors or any(f <= 0 for f in factors):
            raise ValueError(f"{self.kind} factors must be positive, got {factors}")
        self.factors = factors
        self.sample_rate = sample_rate

    @staticmethod
    def transform(waveform: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:  # (S,) -> (about S / factor,)
        return self.transform(waveform, self.sample_rate, random.choice(self.factors))


class SpeedPerturbation(RandomFactorPerturbation):
    kind = "speed"
    transform = staticmethod(speed_perturb)
