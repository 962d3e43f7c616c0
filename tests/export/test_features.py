"""The traceable log-mel and MFCC equal the torchaudio-backed features on every valid frame."""

from __future__ import annotations

import pytest
import torch

from seqkit.export.features import ExportableSpectral
from seqkit.features.spectral import MFCC, LogMelFilterbank

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("features", [LogMelFilterbank(8000, n_mels=16), LogMelFilterbank(16000, n_mels=80),
                                      MFCC(8000), MFCC(16000, n_mfcc=20, n_mels=40, win_ms=20.0)],
                         ids=["logmel-8k", "logmel-16k", "mfcc-8k", "mfcc-16k-20ms"])
def test_same_features_and_lengths_as_the_original(features) -> None:
    torch.manual_seed(0)
    lengths = torch.tensor([12000, 9001, 300, 5000])  # 300: shorter than one window
    waveforms = 0.3 * torch.randn(4, 12000) * (torch.arange(12000) < lengths.unsqueeze(1))
    expected, expected_frames = features(waveforms, lengths)
    got, frames = ExportableSpectral(features)(waveforms, lengths)
    assert torch.equal(frames, expected_frames)
    frames_out = expected.shape[1]
    assert got.shape[1] >= frames_out and not got[:, frames_out:].any()  # extra frames are padding
    torch.testing.assert_close(got[:, :frames_out], expected, atol=5e-5, rtol=1e-5)


def test_the_librosa_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="only the torchaudio backend"):
        ExportableSpectral(LogMelFilterbank(8000, backend="librosa"))
