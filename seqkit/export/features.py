"""Traceable equivalents of the spectral features, for export.

``torch.stft`` returns complex numbers, which the TorchScript-based ONNX exporter refuses
("STFT does not currently support complex types", torch 2.14), and MFCC's
per-utterance dB clamp is a Python loop.  Here the STFT is a strided ``conv1d`` whose
kernels are the windowed DFT basis (cos and sin rows), and the clamp is a masked max over
each utterance's valid frames: the same arithmetic as :mod:`seqkit.features.spectral`
(torchaudio backend), with weights copied from the trained module.

Output contract as the originals, ``(B, S), (B,) -> (B, T, F), (B,)``, with one
difference: the waveform is always padded with ``n_fft - 1`` zeros (a traced graph cannot
pad only when an input is short), so ``T`` can exceed the original's by up to
``(n_fft - 1) / hop`` frames.  Those frames are past every length and are zero.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit.features.spectral import MFCC, LogMelFilterbank, SpectralFeatures
from seqkit.masking import padding_mask

_LOG_FLOOR = 1e-6  # as in seqkit.features.spectral
_DB_FLOOR = 1e-10  # torchaudio's AmplitudeToDB amin


class DFTPowerSpectrum(nn.Module):
    """Power spectrum of uncentred frames, as a convolution: ``(B, S) -> (B, n_fft // 2 + 1, T)``."""

    def __init__(self, window: Tensor, n_fft: int, hop_length: int) -> None:
        super().__init__()
        # torchaudio zero-pads a shorter window to n_fft, centred.
        left = (n_fft - window.numel()) // 2
        window = F.pad(window.double(), (left, n_fft - window.numel() - left))
        bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64).unsqueeze(1)  # (K, 1)
        angle = 2 * math.pi * bins * torch.arange(n_fft, dtype=torch.float64) / n_fft  # (K, n_fft)
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window  # (2K, n_fft)
        self.register_buffer("basis", basis.float().unsqueeze(1))  # (2K, 1, n_fft)
        self.n_fft, self.hop_length, self.bins = n_fft, hop_length, n_fft // 2 + 1

    def forward(self, waveforms: Tensor) -> Tensor:
        # waveforms (B, S) -> power (B, K, T); padded so that even S < n_fft gives a frame
        padded = F.pad(waveforms, (0, self.n_fft - 1)).unsqueeze(1)  # (B, 1, S + n_fft - 1)
        spectrum = F.conv1d(padded, self.basis, stride=self.hop_length)  # (B, 2K, T)
        real, imag = spectrum[:, : self.bins], spectrum[:, self.bins :]
        return real * real + imag * imag


class ExportableSpectral(nn.Module):
    """Log-mel or MFCC features of a trained :class:`SpectralFeatures`, without ``torch.stft``."""

    def __init__(self, features: SpectralFeatures) -> None:
        super().__init__()
        if features.backend != "torchaudio":
            raise ValueError(f"only the torchaudio backend is exportable, not {features.backend!r}")
        self.features = features  # its frame arithmetic (frame_lengths)
        self.is_mfcc = isinstance(features, MFCC)
        if self.is_mfcc:
            spectrogram, mel = features.mfcc.MelSpectrogram.spectrogram, features.mfcc.MelSpectrogram.mel_scale
            self.register_buffer("dct", features.mfcc.dct_mat.clone())  # (n_mels, n_mfcc)
            self.top_db = float(features.mfcc.amplitude_to_DB.top_db)
        elif isinstance(features, LogMelFilterbank):
            spectrogram, mel = features.mel.spectrogram, features.mel.mel_scale
        else:
            raise TypeError(f"{type(features).__name__} is not a log-mel or MFCC feature")
        if spectrogram.power != 2.0 or spectrogram.normalized:
            raise ValueError("only an unnormalised power spectrogram is exportable")
        self.power = DFTPowerSpectrum(spectrogram.window, features.n_fft, features.hop_length)
        self.register_buffer("mel_fb", mel.fb.clone())  # (K, n_mels)

    def forward(self, waveforms: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # waveforms: (B, S), lengths: (B,) -> features (B, T, F), frame lengths (B,)
        mel = torch.matmul(self.power(waveforms.float()).transpose(1, 2), self.mel_fb)  # (B, T, n_mels)
        frames = self.features.frame_lengths(lengths)
        valid = padding_mask(frames, mel.shape[1]).unsqueeze(-1)  # (B, T, 1)
        if self.is_mfcc:
            db = 10.0 * torch.log10(mel.clamp(min=_DB_FLOOR))
            # Clamped top_db below the peak of the utterance's own valid frames (as the original).
            peak = db.masked_fill(~valid, float("-inf")).amax(dim=(1, 2), keepdim=True)  # (B, 1, 1)
            feats = torch.matmul(torch.maximum(db, peak - self.top_db), self.dct)
        else:
            feats = torch.log(mel + _LOG_FLOOR)
        return feats * valid.to(feats.dtype), frames
