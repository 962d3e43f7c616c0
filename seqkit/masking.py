"""Masks for padded batches."""

from __future__ import annotations

import torch
from torch import Tensor


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """True at valid positions.  lengths: (B,) -> (B, T)"""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.to(torch.long).unsqueeze(1)
