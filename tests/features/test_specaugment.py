"""SpecAugment: identity in eval, masks in training, padding untouched, mask widths bounded."""

from __future__ import annotations

import math

import pytest
import torch

from seqkit.features.specaugment import SpecAugment


def _feats(lengths: list[int], dim: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Strictly positive features (so a zero means "masked"), zero past each length."""
    generator = torch.Generator().manual_seed(0)
    feats = torch.zeros(len(lengths), max(lengths), dim)
    for b, n in enumerate(lengths):
        feats[b, :n] = torch.rand(n, dim, generator=generator) + 0.5
    return feats, torch.tensor(lengths)


def test_identity_in_eval_mode() -> None:
    feats, lens = _feats([50, 30])
    augment = SpecAugment(freq_masks=3, freq_width=10, time_masks=3, time_width=0.3).eval()
    out = augment(feats, lens)
    assert torch.equal(out, feats)


def test_masks_something_in_train_mode() -> None:
    torch.manual_seed(0)
    feats, lens = _feats([100, 60, 80])
    augment = SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=0.2).train()
    outs = [augment(feats, lens) for _ in range(5)]
    masked = sum(int(((o == 0) & (feats != 0)).sum()) for o in outs)
    assert masked > 0
    # Different draws give different masks.
    assert any(not torch.equal(outs[0], o) for o in outs[1:])
    # Unmasked cells are untouched.
    for o in outs:
        kept = o != 0
        assert torch.equal(o[kept], feats[kept])


def test_no_masks_configured_is_identity_in_training() -> None:
    feats, lens = _feats([40, 10])
    augment = SpecAugment(freq_masks=0, time_masks=0).train()
    assert torch.equal(augment(feats, lens), feats)


def test_padding_stays_zero() -> None:
    torch.manual_seed(1)
    feats, lens = _feats([70, 5, 33])
    augment = SpecAugment(freq_masks=2, freq_width=5, time_masks=4, time_width=0.5).train()
    for _ in range(20):
        out = augment(feats, lens)
        for b, n in enumerate(lens.tolist()):
            assert torch.all(out[b, n:] == 0)


def _masked_runs(line: torch.Tensor) -> list[int]:
    """Lengths of runs of True in a 1-D bool tensor."""
    runs, current = [], 0
    for value in line.tolist():
        if value:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


@pytest.mark.parametrize("seed", range(5))
def test_frequency_masks_respect_width(seed) -> None:
    torch.manual_seed(seed)
    dim, freq_masks, freq_width = 40, 2, 6
    feats, lens = _feats([30] * 16, dim=dim)
    augment = SpecAugment(freq_masks=freq_masks, freq_width=freq_width, time_masks=0).train()
    out = augment(feats, lens)
    for b in range(feats.shape[0]):
        masked_bins = (out[b] == 0).all(dim=0)  # (F,) whole bins masked over all frames
        # Frequency masks span every frame: a cell is masked iff its whole bin is.
        assert torch.equal(out[b] == 0, masked_bins.expand_as(out[b]))
        assert int(masked_bins.sum()) <= freq_masks * freq_width
        # Two masks may overlap or touch, so a run is at most their summed width.
        assert all(run <= freq_masks * freq_width for run in _masked_runs(masked_bins))


def test_single_frequency_mask_run_is_at_most_width() -> None:
    torch.manual_seed(3)
    feats, lens = _feats([10] * 64, dim=30)
    out = SpecAugment(freq_masks=1, freq_width=4, time_masks=0).train()(feats, lens)
    widths = [(out[b] == 0).all(dim=0).sum().item() for b in range(64)]
    assert max(widths) <= 4
    assert max(widths) > 0


@pytest.mark.parametrize("seed", range(5))
def test_time_masks_respect_width_and_length(seed) -> None:
    torch.manual_seed(seed)
    lengths = [100, 40, 7, 61]
    time_masks, time_width = 2, 0.1
    feats, lens = _feats(lengths)
    out = SpecAugment(freq_masks=0, time_masks=time_masks, time_width=time_width).train()(feats, lens)
    for b, n in enumerate(lengths):
        masked_frames = (out[b] == 0).all(dim=1)  # (T,)
        # Time masks span every bin: a cell is masked iff its whole frame is.
        assert torch.equal(out[b] == 0, masked_frames.unsqueeze(1).expand_as(out[b]))
        # Each mask is floor(U * (length * time_width + 1)) frames: at most ceil(length * time_width).
        max_width = math.ceil(n * time_width)
        assert int(masked_frames[:n].sum()) <= time_masks * max_width


def test_single_time_mask_bounded_by_fraction_of_each_length() -> None:
    torch.manual_seed(4)
    lengths = [200] * 32 + [20] * 32
    feats, lens = _feats(lengths)
    out = SpecAugment(freq_masks=0, time_masks=1, time_width=0.1).train()(feats, lens)
    widths = [int((out[b] == 0).all(dim=1)[:n].sum()) for b, n in enumerate(lengths)]
    assert max(widths[:32]) <= 20 and max(widths[32:]) <= 2
    assert max(widths[:32]) > 2  # long utterances do get wider masks


def test_time_masks_stay_inside_each_utterance() -> None:
    """With visible (non-zero) padding, no time mask ever reaches past an utterance's length."""
    torch.manual_seed(5)
    lengths = [50, 9, 23, 2]
    feats, lens = _feats(lengths)
    for b, n in enumerate(lengths):
        feats[b, n:] = 7.0
    augment = SpecAugment(freq_masks=0, time_masks=3, time_width=0.5).train()
    hits = 0
    for _ in range(30):
        out = augment(feats, lens)
        for b, n in enumerate(lengths):
            assert torch.all(out[b, n:] == 7.0)
            hits += int((out[b, :n] == 0).all(dim=1).sum())
    assert hits > 0
