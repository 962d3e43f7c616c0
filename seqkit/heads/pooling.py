"""Pooling of encoder outputs over time into one vector per sequence, blind to padding.

``mean`` and ``max`` pool the valid frames only; ``last`` takes the forward direction's
state at the last valid frame and, for a bidirectional encoder, the backward direction's
state at the first frame (where it has read the whole sequence); ``attention`` learns a
softmax weighting whose padded positions get zero weight.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from seqkit.masking import padding_mask

PoolingMode = Literal["mean", "max", "last", "attention"]


class SequencePooling(nn.Module):
    def __init__(self, input_size: int, mode: PoolingMode = "mean", bidirectional: bool = True) -> None:
        super().__init__()
        if mode not in ("mean", "max", "last", "attention"):
            raise ValueError(f"pooling must be mean, max, last or attention, got {mode!r}")
        self.mode = mode
        self.bidirectional = bidirectional
        self.output_size = input_size
        self.score = nn.Linear(input_size, 1) if mode == "attention" else None

    def forward(self, encoded: Tensor, lengths: Tensor) -> Tensor:
        # encoded: (B, T, D), lengths: (B,) -> (B, D)
        mask = padding_mask(lengths, encoded.shape[1]).unsqueeze(-1)  # (B, T, 1)
        if self.mode == "mean":
            return (encoded * mask).sum(1) / lengths.to(encoded.device).clamp(min=1).unsqueeze(1).to(encoded.dtype)
        if self.mode == "max":
            return encoded.masked_fill(~mask, torch.finfo(encoded.dtype).min).amax(1)
        if self.mode == "attention":
            scores = self.score(encoded).masked_fill(~mask, float("-inf"))  # (B, T, 1)
            weights = scores.float().softmax(dim=1).to(encoded.dtype)
            return (weights * encoded).sum(1)
        last = (lengths.to(encoded.device) - 1).clamp(min=0)
        rows = torch.arange(encoded.shape[0], device=encoded.device)
        final = encoded[rows, last]  # (B, D)
        if not self.bidirectional:
            return final
        half = encoded.shape[-1] // 2
        # Backward direction: its state at t=0 has seen the whole sequence.
        return torch.cat([final[:, :half], encoded[:, 0, half:]], dim=-1)
