import math

import pytest
import torch

from seqkit.data.tempo_perturb import TempoPerturbation, change_tempo


@pytest.mark.parametrize("factor", [0.7, 1.4])
def test_length_scales_with_the_factor_and_pitch_stays(factor):
    rate, seconds, tone = 8000, 1.0, 440.0
    t = torch.arange(int(rate * seconds)) / rate
    out = change_tempo(torch.sin(2 * math.pi * tone * t), rate, factor)
    assert out.dtype == torch.float32
    assert out.numel() == pytest.approx(rate * seconds / factor, rel=0.01)
    middle = out[200:-200]  # the vocoder's edges ramp in and out
    peak_hz = torch.fft.rfft(middle).abs().argmax().item() * rate / middle.numel()
    assert peak_hz == pytest.approx(tone, rel=0.01)


def test_factor_one_is_the_identity_and_factors_are_validated():
    wave = torch.randn(100)
    assert change_tempo(wave, 8000, 1.0) is wave
    with pytest.raises(ValueError, match="tempo factors must be positive"):
        TempoPerturbation([1.0, -1.0], 8000)
    lengths = {TempoPerturbation([0.8, 1.25], 8000)(torch.randn(8000)).numel() for _ in range(20)}
    assert len(lengths) == 2  # both factors get drawn
