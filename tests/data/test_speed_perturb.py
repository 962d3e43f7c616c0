import math

import pytest
import torch

from seqkit.data.speed_perturb import SpeedPerturbation, speed_perturb


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_length_and_pitch_scale_with_the_factor(factor):
    rate, seconds, tone = 8000, 1.0, 440.0
    t = torch.arange(int(rate * seconds)) / rate
    out = speed_perturb(torch.sin(2 * math.pi * tone * t), rate, factor)
    assert out.numel() == pytest.approx(rate * seconds / factor, rel=0.01)
    spectrum = torch.fft.rfft(out).abs()
    peak_hz = spectrum.argmax().item() * rate / out.numel()
    assert peak_hz == pytest.approx(tone * factor, rel=0.01)


def test_factor_one_is_the_identity_and_factors_are_validated():
    wave = torch.randn(100)
    assert speed_perturb(wave, 8000, 1.0) is wave
    with pytest.raises(ValueError, match="speed factors must be positive"):
        SpeedPerturbation([1.0, 0.0], 8000)
    lengths = {SpeedPerturbation([0.9, 1.1], 8000)(torch.randn(8000)).numel() for _ in range(20)}
    assert len(lengths) == 2  # both factors get drawn


def test_speech_data_module_perturbs_training_audio_only(tmp_path):
    import json

    import numpy as np
    import soundfile

    from seqkit.data.speech import SpeechDataModule

    rate, lines = 8000, []
    for i in range(3):
        soundfile.write(tmp_path / f"u{i}.wav", np.random.default_rng(i).uniform(-0.3, 0.3, rate).astype(np.float32), rate)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": 1.0, "text": "one", "speaker": "s"}))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    manifest = str(tmp_path / "m.jsonl")
    data = SpeechDataModule(train_manifest=manifest, val_manifest=manifest, sample_rate=rate, num_workers=0,
                            speed_factors=[1.25])
    train_lengths = torch.cat([batch["lengths"] for batch in data.train_dataloader()])
    val_lengths = torch.cat([batch["lengths"] for batch in data.val_dataloader()])
    assert val_lengths.tolist() == [rate] * 3
    assert train_lengths.tolist() == [pytest.approx(rate / 1.25, rel=0.01)] * 3
