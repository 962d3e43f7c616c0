import math

import pytest
import torch

from seqkit.features.spectral import MFCC, LogMelFilterbank
from seqkit.features.vtlp import VocalTractLengthPerturbation, source_frequencies, warp_spectrum


@pytest.mark.parametrize("alpha", [0.85, 1.0, 1.15])
def test_warp_keeps_band_edges_and_is_continuous_and_increasing(alpha) -> None:
    grid = torch.linspace(0, 1, 1001, dtype=torch.float64)
    source = source_frequencies(grid, torch.tensor([alpha], dtype=torch.float64), boundary=0.8)[0]
    assert source[0] == 0 and source[-1] == pytest.approx(1.0)
    steps = source.diff()
    assert (steps > 0).all()
    assert steps.max() < 2 * steps.min() * max(alpha, 1 / alpha) ** 2  # no jump at the boundary


def test_below_the_boundary_a_frequency_comes_from_alpha_times_lower() -> None:
    warped = torch.tensor([0.1, 0.3, 0.5])
    source = source_frequencies(warped, torch.tensor([1.1, 0.9]), boundary=0.8)
    torch.testing.assert_close(source, torch.stack([warped / 1.1, warped / 0.9]))


def test_factor_one_is_the_identity() -> None:
    power = torch.rand(2, 129, 7)
    torch.testing.assert_close(warp_spectrum(power, torch.ones(2), boundary=0.8), power)


def test_a_spectral_peak_moves_by_the_factor() -> None:
    power = torch.zeros(2, 129, 3)
    power[:, 40] = 1.0  # one bin, well below the boundary
    warped = warp_spectrum(power, torch.tensor([1.2, 0.8]), boundary=0.8)
    assert warped[0, :, 0].argmax() == 48 and warped[1, :, 0].argmax() == 32
    assert (warped[:, :, 0] == warped[:, :, 2]).all()  # every frame of an utterance alike


def test_each_utterance_draws_its_own_factor_in_training_only() -> None:
    torch.manual_seed(0)
    vtlp = VocalTractLengthPerturbation(0.8, 1.2)
    power = torch.zeros(16, 129, 2)
    power[:, 40] = 1.0
    peaks = vtlp(power)[:, :, 0].argmax(-1)
    assert peaks.min() >= math.floor(40 * 0.8) and peaks.max() <= math.ceil(40 * 1.2)
    assert len(set(peaks.tolist())) > 3
    vtlp.eval()
    assert vtlp(power) is power


@pytest.mark.parametrize("cls", [MFCC, LogMelFilterbank])
def test_features_with_vtlp_equal_plain_features_outside_training(cls) -> None:
    torch.manual_seed(0)
    waveforms, lengths = torch.randn(3, 8000), torch.tensor([8000, 6000, 3000])
    plain = cls(sample_rate=8000)
    warped = cls(sample_rate=8000, vtlp=VocalTractLengthPerturbation(0.8, 1.2))
    assert plain.state_dict().keys() == warped.state_dict().keys()  # checkpoints load either way
    warped.eval()
    torch.testing.assert_close(warped(waveforms, lengths), plain(waveforms, lengths))
    warped.train()
    feats, frames = warped(waveforms, lengths)
    torch.testing.assert_close(frames, plain(waveforms, lengths)[1])
    assert not torch.allclose(feats, plain(waveforms, lengths)[0])


def test_mfcc_with_the_factor_pinned_to_one_equals_torchaudio_mfcc_path() -> None:
    waveforms, lengths = torch.randn(2, 4000), torch.tensor([4000, 4000])
    pinned = MFCC(sample_rate=8000, n_mfcc=20, vtlp=VocalTractLengthPerturbation(1.0, 1.0)).train()
    expected = torch.stack([pinned.mfcc(w) for w in waveforms]).transpose(1, 2)
    torch.testing.assert_close(pinned(waveforms, lengths)[0], expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_factor": 1.1, "max_factor": 0.9}, "min_factor <= max_factor"),
        ({"min_factor": 0.0}, "min_factor <= max_factor"),
        ({"boundary": 1.0}, "fraction of the Nyquist"),
        ({"max_factor": 1.3, "boundary": 0.8}, "must stay below 1"),
    ],
)
def test_invalid_arguments_raise(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        VocalTractLengthPerturbation(**kwargs)


def test_librosa_backend_refuses_vtlp() -> None:
    with pytest.raises(ValueError, match="torchaudio backend"):
        MFCC(backend="librosa", vtlp=VocalTractLengthPerturbation())
