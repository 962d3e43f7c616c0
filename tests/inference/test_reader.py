"""Block reading at the model's rate equals the same stretch of the whole file read at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import seqkit.data.audio as audio
from seqkit.data.audio import AudioError, load_audio
from seqkit.inference.reader import BlockReader


def write_noise(path: Path, rate: int, seconds: float, channels: int = 1) -> Path:
    rng = np.random.default_rng(rate)
    sf.write(path, (0.3 * rng.standard_normal((int(rate * seconds), channels))).astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (8000, 1), (22050, 1)])
def test_blocks_match_the_whole_file(tmp_path: Path, rate: int, channels: int) -> None:
    path = write_noise(tmp_path / f"a{rate}.wav", rate, 3.0, channels)
    whole = load_audio(str(path), 16000)  # (S,)
    reader = BlockReader(str(path), 16000)
    assert reader.total == whole.numel()
    step = reader.align * 700
    for start in range(0, reader.total, step):
        block = reader.read(start, start + step + 1234)
        expected = whole[start : start + step + 1234]
        assert block.shape == expected.shape
        torch.testing.assert_close(block, expected, atol=2e-5, rtol=0)
    reader.close()


def test_unaligned_start_is_refused(tmp_path: Path) -> None:
    reader = BlockReader(str(write_noise(tmp_path / "a.wav", 44100, 0.5)), 16000)
    assert reader.align == 160  # 16000 / gcd(44100, 16000)
    with pytest.raises(ValueError, match="multiple of 160"):
        reader.read(100, 1000)


def test_long_file_is_not_refused_by_the_whole_file_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_noise(tmp_path / "long.wav", 16000, 1.0)
    monkeypatch.setattr(audio, "MAX_SAMPLES", 1000)  # as if the file were longer than 37 hours
    with pytest.raises(AudioError, match="header claims"):
        load_audio(str(path), 16000)
    assert BlockReader(str(path), 16000).read(0, 800).numel() == 800


def test_bad_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(AudioError, match="bad.wav: unreadable audio"):
        BlockReader(str(bad), 16000)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: audio contains NaN"):
        BlockReader(str(nan), 16000).read(0, 1600)
