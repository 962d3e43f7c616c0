"""Log-mel filterbank and MFCC features, computed inside the model on the batch's device.

Both take padded waveforms and return padded frames with their lengths:
``(B, S), (B,) -> (B, T, F), (B,)``.  Frames are not centred, so every valid frame is made
of real samples only and an utterance's features are the same alone or in a batch.
The ``librosa`` backend gives the same output contract (and, for MFCC, the same values
within a tolerance checked by the tests); it runs on the CPU, utterance by utterance.
``vtlp`` (torchaudio backend only) warps the power spectra before the mel filterbank in
training: :mod:`seqkit.features.vtlp`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torchaudio.transforms as T
from torch import Tensor, nn

from seqkit.features.vtlp import VocalTractLengthPerturbation
from seqkit.masking import padding_mask

Backend = Literal["torchaudio", "librosa"]
_LOG_FLOOR = 1e-6


class SpectralFeatures(nn.Module):
    """Shared framing arithmetic; subclasses compute ``(B, S), (B,) -> (B, F, T)`` in ``_compute``."""

    output_size: int

    def __init__(
        self,
        sample_rate: int,
        win_ms: float,
        hop_ms: float,
        backend: Backend,
        vtlp: VocalTractLengthPerturbation | None,
    ) -> None:
        super().__init__()
        if backend not in ("torchaudio", "librosa"):
            raise ValueError(f"backend must be 'torchaudio' or 'librosa', got {backend!r}")
        if vtlp is not None and backend != "torchaudio":
            raise ValueError("vtlp needs the torchaudio backend")
        self.vtlp = vtlp
        self.sample_rate = sample_rate
        self.win_length = int(round(sample_rate * win_ms / 1000))
        self.hop_length = int(round(sample_rate * hop_ms / 1000))
        self.n_fft = 1 << (self.win_length - 1).bit_length()  # next power of two
        self.backend = backend

    def frame_lengths(self, num_samples: Tensor) -> Tensor:
        """Valid frames for ``num_samples`` samples (0 when shorter than one FFT window)."""
        # Uncentred STFT frames span n_fft samples (the window is zero-padded to n_fft).
        frames = torch.div(num_samples - self.n_fft, self.hop_length, rounding_mode="floor") + 1
        return frames.clamp(min=0)

    def _compute(self, waveforms: Tensor, lengths: Tensor) -> Tensor:
        raise NotImplementedError

    def _warp(self, power: Tensor) -> Tensor:
        # power: (B, F, T) -> (B, F, T)
        return power if self.vtlp is None else self.vtlp(power)

    def forward(self, waveforms: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # waveforms: (B, S), lengths: (B,) -> features (B, T, F), frame lengths (B,)
        if waveforms.shape[-1] < self.n_fft:
            waveforms = nn.functional.pad(waveforms, (0, self.n_fft - waveforms.shape[-1]))
        # Spectra in fp32: mel energies underflow in half precision.
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            feats = self._compute(waveforms.float(), lengths).transpose(1, 2)  # (B, T, F)
        frames = self.frame_lengths(lengths)
        feats = feats * padding_mask(frames, feats.shape[1]).unsqueeze(-1)
        return feats, frames


class LogMelFilterbank(SpectralFeatures):
    """Natural-log mel filterbank energies (the usual ASR input)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 80,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
        backend: Backend = "torchaudio",
        vtlp: VocalTractLengthPerturbation | None = None,
    ) -> None:
        super().__init__(sample_rate, win_ms, hop_ms, backend, vtlp)
        self.n_mels = n_mels
        self.output_size = n_mels
        self.mel = T.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=self.n_fft,
            win_length=self.win_length,
            hop_length=self.hop_length,
            n_mels=n_mels,
            center=False,
            mel_scale="slaney",
            norm="slaney",
        )

    def _compute(self, waveforms: Tensor, lengths: Tensor) -> Tensor:
        if self.backend == "torchaudio":
            power = self._warp(self.mel.spectrogram(waveforms))  # (B, F, T)
            return torch.log(self.mel.mel_scale(power) + _LOG_FLOOR)
        import librosa

        mels = [
            librosa.feature.melspectrogram(
                y=w,
                sr=self.sample_rate,
                n_fft=self.n_fft,
                win_length=self.win_length,
                hop_length=self.hop_length,
                n_mels=self.n_mels,
                center=False,
            )
            for w in waveforms.detach().cpu().numpy()
        ]
        return torch.log(torch.from_numpy(np.stack(mels)) + _LOG_FLOOR).to(waveforms.device)


class MFCC(SpectralFeatures):
    """Mel-frequency cepstral coefficients: DCT-II (orthonormal) of dB-scaled mel power."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mfcc: int = 13,
        n_mels: int = 40,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
        backend: Backend = "torchaudio",
        vtlp: VocalTractLengthPerturbation | None = None,
    ) -> None:
        super().__init__(sample_rate, win_ms, hop_ms, backend, vtlp)
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.output_size = n_mfcc
        self.mfcc = T.MFCC(
            sample_rate=sample_rate,
            n_mfcc=n_mfcc,
            log_mels=False,
            melkwargs={
                "n_fft": self.n_fft,
                "win_length": self.win_length,
                "hop_length": self.hop_length,
                "n_mels": n_mels,
                "center": False,
                "mel_scale": "slaney",
                "norm": "slaney",
            },
        )

    def _compute(self, waveforms: Tensor, lengths: Tensor) -> Tensor:
        # The dB scale is clamped 80 dB below the peak, so compute per utterance (torchaudio
        # would use the batch's peak) and only on the samples its valid frames cover: frames
        # past its length, partly made of its last samples, must not raise its peak.
        spans = (self.frame_lengths(lengths) - 1) * self.hop_length + self.n_fft
        spans = spans.clamp(min=self.n_fft).tolist()
        frames = (waveforms.shape[-1] - self.n_fft) // self.hop_length + 1
        if self.backend == "torchaudio":
            mfccs = [self._mfcc(w[:span]) for w, span in zip(waveforms, spans)]
            return torch.stack([nn.functional.pad(m, (0, frames - m.shape[-1])) for m in mfccs])
        import librosa

        mfccs = [
            librosa.feature.mfcc(
                y=w[:span],
                sr=self.sample_rate,
                n_mfcc=self.n_mfcc,
                n_fft=self.n_fft,
                win_length=self.win_length,
                hop_length=self.hop_length,
                n_mels=self.n_mels,
                center=False,
            )
            for w, span in zip(waveforms.detach().cpu().numpy(), spans)
        ]
        mfccs = [np.pad(m, ((0, 0), (0, frames - m.shape[-1]))) for m in mfccs]
        return torch.from_numpy(np.stack(mfccs)).to(waveforms.device)

    def _mfcc(self, waveform: Tensor) -> Tensor:
        # (S,) -> (n_mfcc, T): torchaudio's MFCC.forward, with the warp between STFT and mel.
        power = self._warp(self.mfcc.MelSpectrogram.spectrogram(waveform).unsqueeze(0)).squeeze(0)
        mel_db = self.mfcc.amplitude_to_DB(self.mfcc.MelSpectrogram.mel_scale(power))
        return (mel_db.transpose(-1, -2) @ self.mfcc.dct_mat).transpose(-1, -2)
