"""Tempo perturbation: a recording spoken faster or slower, at the same pitch and formants.

Speed perturbation (:mod:`seqkit.data.speed_perturb`) changes tempo, pitch and formants by
one factor, so a voice's speaking rate stays tied to its timbre; stretching time alone
varies the rate by itself.  On FSDD it was measured on two folds only (recipes/classification
README): duration turned out to be at most a small cue there.  The phase vocoder
(``librosa.effects.time_stretch``) runs with a ~32 ms window, a speech-sized one.
"""

from __future__ import annotations

import librosa
import torch

from seqkit.data.speed_perturb import RandomFactorPerturbation


def change_tempo(waveform: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """(S,) -> (about S / factor,): ``factor`` > 1 is faster; pitch is kept."""
    if factor == 1.0:
        return waveform
    n_fft = 1 << (int(0.032 * sample_rate) - 1).bit_length()
    stretched = librosa.effects.time_stretch(waveform.numpy(), rate=factor, n_fft=n_fft, hop_length=n_fft // 4)
    return torch.from_numpy(stretched).to(waveform.dtype)


class TempoPerturbation(RandomFactorPerturbation):
    kind = "tempo"
    transform = staticmethod(change_tempo)
