"""Log-mel and MFCC front ends: framing arithmetic, padding invariance, torchaudio vs librosa."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit.features.spectral import MFCC, LogMelFilterbank

SR = 16000


pytestmark = pytest.mark.usefixtures("one_thread")


def _chirp_plus_noise(seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A 200 Hz -> 4 kHz linear chirp with white noise at about -20 dB.  (S,) float32"""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0, f1 = 200.0, 4000.0
    chirp = np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t**2))
    return torch.from_numpy((0.5 * chirp + 0.05 * rng.standard_normal(t.size)).astype(np.float32))


def _sine_mix(seconds: float = 1.0, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    mix = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)
    return torch.from_numpy((mix + 0.01 * rng.standard_normal(t.size)).astype(np.float32))


def _pad_batch(waves: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    batch = torch.zeros(len(waves), max(w.numel() for w in waves))
    for b, w in enumerate(waves):
        batch[b, : w.numel()] = w
    return batch, torch.tensor([w.numel() for w in waves])


@pytest.mark.parametrize("cls", [LogMelFilterbank, MFCC])
def test_framing_parameters_and_frame_lengths(cls) -> None:
    features = cls(backend="torchaudio")
    assert (features.win_length, features.hop_length, features.n_fft) == (400, 160, 512)
    samples = torch.tensor([0, 100, 511, 512, 671, 672, 16000])
    # Uncentred frames span n_fft samples: floor((S - n_fft) / hop) + 1, never negative.
    assert features.frame_lengths(samples).tolist() == [0, 0, 0, 1, 1, 2, 97]


@pytest.mark.parametrize("cls", [LogMelFilterbank, MFCC])
@pytest.mark.parametrize("backend", ["torchaudio", "librosa"])
@pytest.mark.parametrize("num_samples", [512, 673, 4000, 16000])
def test_frame_lengths_formula_matches_actual_output(cls, backend, num_samples) -> None:
    features = cls(backend=backend)
    wave = _chirp_plus_noise(num_samples / SR)[:num_samples]
    feats, frames = features(wave[None], torch.tensor([num_samples]))
    # A lone unpadded utterance: every frame the transform produces is a valid frame.
    assert frames.item() == features.frame_lengths(torch.tensor(num_samples)).item()
    assert feats.shape == (1, frames.item(), features.output_size)
    assert feats.dtype == torch.float32
    assert torch.isfinite(feats).all()


def test_output_sizes() -> None:
    assert LogMelFilterbank(n_mels=40).output_size == 40
    assert MFCC(n_mfcc=20, n_mels=64).output_size == 20


def test_shorter_than_one_window_gives_no_valid_frames() -> None:
    features = LogMelFilterbank()
    feats, frames = features(torch.randn(2, 300), torch.tensor([300, 200]))
    assert frames.tolist() == [0, 0]
    assert feats.shape[0] == 2 and feats.shape[2] == 80
    assert torch.all(feats == 0)


def test_mfcc_backends_agree() -> None:
    """MFCC: torchaudio and librosa agree to within atol=5e-4 (no rtol) on 1 s @ 16 kHz.

    Coefficients span about -170..+30 here; the largest difference measured over 20 random
    chirp+noise signals was 1.8e-4 (float32 round-off in the STFT/mel/dB chain), so 5e-4
    leaves ~3x headroom for other BLAS/FFT builds.  Both backends clamp at 80 dB below each
    utterance's own peak.
    """
    for wave in (_chirp_plus_noise(), _sine_mix()):
        batch, lengths = _pad_batch([wave, wave[: SR // 2]])
        a, la = MFCC(backend="torchaudio")(batch, lengths)
        b, lb = MFCC(backend="librosa")(batch, lengths)
        assert la.tolist() == lb.tolist() == [97, 47]
        assert a.shape == b.shape == (2, 97, 13)
        torch.testing.assert_close(a, b, atol=5e-4, rtol=0)
        assert a[0].abs().max() > 10  # real, non-trivial coefficients


def test_log_mel_backends_agree() -> None:
    """Log-mel: torchaudio and librosa agree to within atol=5e-4 (no rtol).

    Log energies span about -12..+4; measured worst difference 2.3e-4 over 20 signals.
    """
    for wave in (_chirp_plus_noise(), _sine_mix()):
        batch, lengths = _pad_batch([wave, wave[: SR // 3]])
        a, la = LogMelFilterbank(backend="torchaudio")(batch, lengths)
        b, lb = LogMelFilterbank(backend="librosa")(batch, lengths)
        assert la.tolist() == lb.tolist()
        torch.testing.assert_close(a, b, atol=5e-4, rtol=0)


@pytest.mark.parametrize("cls", [LogMelFilterbank, MFCC])
@pytest.mark.parametrize("backend", ["torchaudio", "librosa"])
def test_utterance_alone_equals_its_slice_in_padded_batch(cls, backend) -> None:
    features = cls(backend=backend)
    waves = [_chirp_plus_noise(0.5, seed=2), _sine_mix(1.0, seed=3), _chirp_plus_noise(0.3, seed=4)[:4567]]
    batch, lengths = _pad_batch(waves)
    feats, frames = features(batch, lengths)
    assert frames.tolist() == features.frame_lengths(lengths).tolist()
    for b, wave in enumerate(waves):
        alone, alone_frames = features(wave[None], lengths[b : b + 1])
        n = frames[b].item()
        assert alone_frames.item() == n
        # Measured: bit-identical with torchaudio, <= 7e-6 (~1 float32 ulp at |x|~100) with librosa.
        torch.testing.assert_close(feats[b, :n], alone[0], atol=1e-5, rtol=1e-6)
        assert torch.all(feats[b, n:] == 0)  # padded frames are zeroed


@pytest.mark.parametrize("backend", ["torchaudio", "librosa"])
def test_mfcc_db_floor_ignores_frames_past_the_length(backend) -> None:
    """MFCC clamps at 80 dB below the peak: the peak must come from the utterance's valid frames.

    Leading digital silence sits on that floor; an abrupt loud ending lies partly in frames
    past the utterance's length when it is padded in a batch.  Before the fix these differed
    by about 2 (here) to 27 (a click in the last uncovered samples) between alone and batched.
    """
    features = MFCC(backend=backend)
    worst = 0.0
    for seed, n in [(0, 8000), (1, 12345), (2, 15999)]:
        wave = _chirp_plus_noise(1.0, seed=seed)[:n].clone()
        wave[:3000] = 0  # digital silence: clamped to the floor
        wave *= torch.linspace(0.1, 1.0, n)  # ends loud and abruptly
        alone, _ = features(wave[None], torch.tensor([n]))
        batch, lengths = _pad_batch([wave, 0.1 * torch.randn(17000, generator=torch.Generator().manual_seed(seed))])
        feats, frames = features(batch, lengths)
        worst = max(worst, (feats[0, : frames[0]] - alone[0]).abs().max().item())
    assert worst < 1e-4


def test_features_are_fp32_under_autocast() -> None:
    wave = _sine_mix()[None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats, _ = LogMelFilterbank()(wave.to(torch.bfloat16), torch.tensor([SR]))
    assert feats.dtype == torch.float32
    assert torch.isfinite(feats).all()


def test_log_mel_peaks_in_the_band_of_a_pure_tone() -> None:
    t = torch.arange(SR) / SR
    tone = 0.5 * torch.sin(2 * torch.pi * 1000 * t)
    feats, _ = LogMelFilterbank(n_mels=40)(tone[None], torch.tensor([SR]))
    import librosa

    centres = librosa.mel_frequencies(n_mels=42, fmax=SR / 2)[1:-1]  # the 40 band centres
    peak = feats[0].mean(0).argmax().item()
    assert abs(centres[peak] - 1000) < 150


@pytest.mark.parametrize("cls", [LogMelFilterbank, MFCC])
def test_invalid_backend_raises(cls) -> None:
    with pytest.raises(ValueError, match="backend"):
        cls(backend="kaldi")  # type: ignore[arg-type]
