"""Window planning and stitching on known frame sequences, with the real features' frame geometry."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.spectral import LogMelFilterbank
from seqkit.inference.chunking import Window, model_geometry, plan_windows, stitch

FEATURES = LogMelFilterbank(sample_rate=16000, n_mels=20)  # hop 160 samples, FFT 512
ENCODER = RNNEncoder(input_size=20, cell="gru", hidden_size=8, num_layers=1, stack_frames=3)
GEOMETRY = model_geometry(SimpleNamespace(features=FEATURES, encoder=ENCODER))


def test_stride_is_hop_times_stacking() -> None:
    assert GEOMETRY.stride == 160 * 3
    assert GEOMETRY.frames(16000) == ENCODER.output_lengths(FEATURES.frame_lengths(torch.tensor([16000])))[0]


@pytest.mark.parametrize("total", [50_000, 160_000, 160_480, 161_000, 333_333])
@pytest.mark.parametrize(("chunk", "overlap"), [(32_000, 8_000), (48_000, 16_000), (20_000, 4_000)])
def test_kept_frames_tile_the_recording_once(total: int, chunk: int, overlap: int) -> None:
    windows = plan_windows(total, chunk, overlap, GEOMETRY)
    # A window's frames are the global frames from its start on, as many as its samples give.
    pieces = [torch.arange(GEOMETRY.frames(w.stop - w.start)) + w.start // GEOMETRY.stride for w in windows]
    assert torch.equal(stitch(pieces, windows), torch.arange(GEOMETRY.frames(total)))
    assert windows[0].start == 0 and windows[-1].stop == total
    assert all(w.start % GEOMETRY.stride == 0 for w in windows)


def test_each_window_keeps_its_centre() -> None:
    windows = plan_windows(200_000, 48_000, 16_000, GEOMETRY)
    assert len(windows) > 3
    for w in windows[1:-1]:
        kept_start = w.start + w.keep_from * GEOMETRY.stride
        kept_stop = w.start + w.keep_to * GEOMETRY.stride
        # At least half the overlap (minus one stride of rounding) of context on each side.
        assert kept_start - w.start >= 8_000 - GEOMETRY.stride
        assert w.stop - kept_stop >= 8_000 - GEOMETRY.stride


def test_short_recording_is_one_window() -> None:
    assert plan_windows(30_000, 48_000, 16_000, GEOMETRY) == [Window(0, 30_000, 0, GEOMETRY.frames(30_000))]


def test_window_frames_are_the_recordings_frames() -> None:
    """The alignment stitching relies on: stacked features of a window = those of the whole, shifted."""
    torch.manual_seed(0)
    wave = torch.randn(100_000)
    windows = plan_windows(wave.numel(), 32_000, 8_000, GEOMETRY)

    def stacked(x: torch.Tensor) -> torch.Tensor:  # (S,) -> (T', 3F)
        feats, frames = FEATURES(x[None], torch.tensor([x.numel()]))
        return ENCODER.subsampler(feats, frames)[0][0]

    whole = stacked(wave)
    for w in windows:
        part = stacked(wave[w.start : w.stop])
        first = w.start // GEOMETRY.stride
        torch.testing.assert_close(part, whole[first : first + part.shape[0]], atol=1e-4, rtol=1e-4)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="longer than the overlap"):
        plan_windows(100_000, 8_000, 8_000, GEOMETRY)
    with pytest.raises(ValueError, match="overlap of .* too short"):
        plan_windows(100_000, 16_000, 480, GEOMETRY)
    with pytest.raises(ValueError, match="pieces for"):
        stitch([torch.zeros(3)], [])
