"""Audio loading on real files written with soundfile: resampling, downmixing and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqkit.data.audio import AudioError, load_audio

TARGET = 16000


def _tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    """(T,) or (T, C) float; each channel the same tone at a different level."""
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.4 * np.sin(2 * np.pi * freq * t)
    if channels == 1:
        return mono
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1)


def _peak_hz(wave: torch.Tensor, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave.numpy() * np.hanning(wave.numel())))
    return float(np.fft.rfftfreq(wave.numel(), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize(
    ("rate", "channels", "fmt", "freq"),
    [
        (8000, 1, "WAV", 440.0),
        (8000, 1, "FLAC", 1000.0),
        (44100, 2, "WAV", 3000.0),
        (44100, 2, "FLAC", 440.0),
        (16000, 1, "WAV", 2500.0),  # already at the target rate: no resampling
    ],
)
def test_resampled_to_16k_mono_with_frequency_preserved(tmp_path: Path, rate, channels, fmt, freq) -> None:
    seconds = 0.75
    path = tmp_path / f"tone.{fmt.lower()}"
    soundfile.write(str(path), _tone(freq, seconds, rate, channels), rate, format=fmt, subtype="PCM_16")
    wave = load_audio(str(path), TARGET)
    assert wave.dtype == torch.float32 and wave.ndim == 1
    expected = int(round(seconds * rate)) * TARGET / rate
    assert abs(wave.numel() - expected) <= 1
    assert abs(_peak_hz(wave, TARGET) - freq) <= 2.0  # FFT bins are 1/0.75 s = 1.33 Hz apart
    # Downmix is the channel mean: for the stereo files, (0.5 + 1.0) / 2 * 0.4 = 0.3 peak.
    expected_peak = 0.4 if channels == 1 else 0.3
    assert abs(float(wave.abs().max()) - expected_peak) < 0.01


def test_downmix_is_channel_mean(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    rng = np.random.default_rng(0)
    data = rng.uniform(-0.5, 0.5, size=(1000, 2)).astype(np.float32)
    soundfile.write(str(path), data, TARGET, subtype="FLOAT")
    wave = load_audio(str(path), TARGET)
    np.testing.assert_allclose(wave.numpy(), data.mean(axis=1), atol=1e-7)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match="not found") as info:
        load_audio(str(path), TARGET, where="m.jsonl:4 (id=x)")
    assert str(info.value).startswith(f"m.jsonl:4 (id=x): {path}: ")


def test_corrupt_bytes(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x01\x02\x03WAVEfmt " + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match="unreadable audio") as info:
        load_audio(str(path), TARGET)
    assert str(path) in str(info.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="unreadable audio") as info:
        load_audio(str(path), TARGET)
    assert str(path) in str(info.value)


def test_valid_header_with_zero_samples(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    soundfile.write(str(path), np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="zero samples") as info:
        load_audio(str(path), TARGET)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_in_float_wav(tmp_path: Path, bad) -> None:
    path = tmp_path / "nan.wav"
    data = _tone(440, 0.1, TARGET).astype(np.float32)
    data[100] = bad
    soundfile.write(str(path), data, TARGET, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or Inf") as info:
        load_audio(str(path), TARGET, where="m.jsonl:9 (id=y)")
    assert str(info.value).startswith(f"m.jsonl:9 (id=y): {path}: ")


def test_segment_reads_exactly_those_samples_and_names_a_segment_past_the_end(tmp_path: Path) -> None:
    ramp = np.linspace(-0.5, 0.5, 8000, dtype=np.float32)  # one second at 8 kHz, every sample distinct
    soundfile.write(tmp_path / "r.wav", ramp, 8000, subtype="FLOAT")
    part = load_audio(str(tmp_path / "r.wav"), 8000, segment=(0.25, 0.5))
    assert torch.equal(part, torch.from_numpy(ramp[2000:6000]))
    with pytest.raises(AudioError, match=r"m\.jsonl:3.*r\.wav: segment 0\.800s \+ 0\.500s ends after the audio \(1\.000s\)"):
        load_audio(str(tmp_path / "r.wav"), 8000, where="m.jsonl:3", segment=(0.8, 0.5))
