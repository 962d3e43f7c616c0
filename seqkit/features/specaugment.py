"""SpecAugment (Park et al. 2019): random time and frequency masks, in training only."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SpecAugment(nn.Module):
    """``(B, T, F), (B,) -> (B, T, F)``; masked cells are set to zero (the CMVN mean)."""

    def __init__(
        self,
        freq_masks: int = 2,
        freq_width: int = 15,
        time_masks: int = 2,
        time_width: float = 0.05,
    ) -> None:
        """``time_width`` is the largest time mask as a fraction of each utterance's length."""
        super().__init__()
        self.freq_masks = freq_masks
        self.freq_width = freq_width
        self.time_masks = time_masks
        self.time_width = time_width

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        if not self.training:
            return feats
        batch, time, dim = feats.shape
        device = feats.device
        keep = torch.ones(batch, time, dim, dtype=torch.bool, device=device)
        freqs = torch.arange(dim, device=device).view(1, 1, dim)
        steps = torch.arange(time, device=device).view(1, time, 1)
        for _ in range(self.freq_masks):
            width = torch.randint(0, self.freq_width + 1, (batch, 1, 1), device=device)
            start = (torch.rand(batch, 1, 1, device=device) * (dim - width).clamp(min=1)).long()
            keep &= ~((freqs >= start) & (freqs < start + width))
        max_width = (lengths.to(device).float() * self.time_width).view(batch, 1, 1)
        for _ in range(self.time_masks):
            width = (torch.rand(batch, 1, 1, device=device) * (max_width + 1)).long()
            start = (torch.rand(batch, 1, 1, device=device) * (lengths.to(device).view(batch, 1, 1) - width).clamp(min=1)).long()
            keep &= ~((steps >= start) & (steps < start + width))
        return feats * keep
