"""Vocal tract length perturbation (Jaitly & Hinton, 2013): warp the spectrum's frequency axis.

A longer or shorter vocal tract moves every formant by about the same factor.  In training,
each utterance's power spectrum is stretched by a factor ``alpha`` drawn uniformly from
``[min_factor, max_factor]``: frequencies below a boundary scale by ``alpha``, and above it
a straight line takes the rest of the band to the Nyquist frequency, so no content is
pushed out of the band and none is missing at its top.  Unlike speed perturbation, pitch
and tempo stay as they were.  Outside training it is the identity.

Applied by the spectral features between the STFT and the mel filterbank
(:class:`seqkit.features.spectral.MFCC` and ``LogMelFilterbank``, argument ``vtlp``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def source_frequencies(warped: Tensor, alpha: Tensor, boundary: float) -> Tensor:
    """Where each warped frequency comes from: the inverse of the piecewise-linear warp.

    Frequencies are fractions of the Nyquist frequency, in [0, 1].
    ``warped`` (F,) and ``alpha`` (B,) -> (B, F).
    """
    alpha = alpha.unsqueeze(-1)  # (B, 1)
    # The warp is f -> alpha * f up to f0, then linear from (f0, alpha * f0) to (1, 1).
    f0 = boundary * torch.clamp(alpha, max=1.0) / alpha
    g0 = alpha * f0
    below = warped / alpha
    above = 1.0 - (1.0 - warped) * (1.0 - f0) / (1.0 - g0)
    return torch.where(warped <= g0, below, above)


def warp_spectrum(power: Tensor, alpha: Tensor, boundary: float) -> Tensor:
    """Resample each spectrum on its warped frequency axis: ``(B, F, T), (B,) -> (B, F, T)``.

    The F bins are taken to span 0 .. Nyquist evenly (an STFT's one-sided spectrum); values
    between bins are interpolated linearly.
    """
    n_freqs = power.shape[-2]
    grid = torch.linspace(0.0, 1.0, n_freqs, device=power.device, dtype=power.dtype)
    position = source_frequencies(grid, alpha.to(power.dtype), boundary) * (n_freqs - 1)  # (B, F)
    position = position.clamp(0, n_freqs - 1)
    lower = position.floor().long().clamp(max=n_freqs - 2)
    weight = (position - lower).unsqueeze(-1)  # (B, F, 1)
    frames = power.shape[-1]
    below = power.gather(-2, lower.unsqueeze(-1).expand(-1, -1, frames))
    above = power.gather(-2, (lower + 1).unsqueeze(-1).expand(-1, -1, frames))
    return below * (1 - weight) + above * weight


class VocalTractLengthPerturbation(nn.Module):
    """``(B, F, T) -> (B, F, T)`` power spectra, one factor per utterance, in training only."""

    def __init__(self, min_factor: float = 0.9, max_factor: float = 1.1, boundary: float = 0.8) -> None:
        super().__init__()
        if not 0 < min_factor <= max_factor:
            raise ValueError(f"need 0 < min_factor <= max_factor, got {min_factor} and {max_factor}")
        if not 0 < boundary < 1:
            raise ValueError(f"boundary is a fraction of the Nyquist frequency in (0, 1), got {boundary}")
        # A factor above 1/boundary would map the boundary past the Nyquist frequency.
        if max_factor * boundary >= 1:
            raise ValueError(f"max_factor {max_factor} x boundary {boundary} must stay below 1")
        self.min_factor = min_factor
        self.max_factor = max_factor
        self.boundary = boundary

    def forward(self, power: Tensor) -> Tensor:
        if not self.training:
            return power
        alpha = torch.empty(power.shape[0], device=power.device).uniform_(self.min_factor, self.max_factor)
        return warp_spectrum(power, alpha, self.boundary)
