"""Frame stacking: concatenate k consecutive frames, shortening sequences k-fold.

Recurrent layers are sequential in time, so a k-times shorter input is about k times
faster to run and gives gradients k times fewer steps to vanish over.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class FrameStacking(nn.Module):
    def __init__(self, factor: int = 1) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"stacking factor must be >= 1, got {factor}")
        self.factor = factor

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return torch.div(lengths + self.factor - 1, self.factor, rounding_mode="floor")

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F) -> (B, ceil(T/k), F*k); frames past each length must already be zero,
        # so the last, partly padded stack is the same alone or in a batch.
        if self.factor == 1:
            return x, lengths
        batch, time, dim = x.shape
        pad = (-time) % self.factor
        if pad or torch.jit.is_tracing():  # a traced graph must pad for every length, not the traced one's
            x = F.pad(x, (0, 0, 0, pad))
        x = x.reshape(batch, (time + pad) // self.factor, dim * self.factor)
        return x, self.output_lengths(lengths)
