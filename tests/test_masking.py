"""padding_mask: True on valid positions only, whatever the lengths' dtype or device."""

from __future__ import annotations

import torch

from seqkit.masking import padding_mask


def test_marks_valid_positions() -> None:
    mask = padding_mask(torch.tensor([3, 0, 5]), 5)
    assert mask.tolist() == [[True, True, True, False, False], [False] * 5, [True] * 5]


def test_accepts_int32_lengths_and_wider_batches() -> None:
    mask = padding_mask(torch.tensor([2, 4], dtype=torch.int32), 6)
    assert mask.dtype == torch.bool and mask.shape == (2, 6)
    assert mask.sum(1).tolist() == [2, 4]
