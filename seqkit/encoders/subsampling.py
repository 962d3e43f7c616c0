"""Shortening sequences before the recurrent layers: frame stacking or strided convolutions.

Recurrent layers are sequential in time, so a k-times shorter input is about k times
faster to run and gives gradients k times fewer steps to vanish over.

- ``FrameStacking`` concatenates k consecutive frames: no parameters, nothing learnt.
- ``ConvSubsampling`` runs log2(k) stride-2 3x3 convolutions over (time, frequency), as
  the VGG-style front ends of ESPnet and NeMo do: it learns local spectro-temporal
  patterns and halves the frequency axis with each layer too.

Both give ``ceil(T / k)`` output frames for ``T`` input frames, and both read only zeros
past each sequence's length, so an utterance's output is the same alone or padded in a batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit.masking import padding_mask


def _ceil_div(lengths: Tensor, factor: int) -> Tensor:
    return torch.div(lengths + factor - 1, factor, rounding_mode="floor")


class FrameStacking(nn.Module):
    def __init__(self, input_size: int, factor: int = 1) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"stacking factor must be >= 1, got {factor}")
        self.factor = factor
        self.output_size = input_size * factor

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return _ceil_div(lengths, self.factor)

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


class ConvSubsampling(nn.Module):
    """``factor`` = 2, 4 or 8: that many-fold fewer frames, from log2(factor) conv + ReLU layers."""

    def __init__(self, input_size: int, factor: int = 4, channels: int = 32) -> None:
        super().__init__()
        if factor not in (2, 4, 8):
            raise ValueError(f"convolutional subsampling halves the frames per layer: factor must be 2, 4 or 8, got {factor}")
        self.factor = factor
        convs = []
        in_channels, freqs = 1, input_size
        for _ in range(factor.bit_length() - 1):  # log2(factor) halvings
            convs.append(nn.Conv2d(in_channels, channels, kernel_size=3, stride=2, padding=1))
            in_channels, freqs = channels, (freqs + 1) // 2
        self.convs = nn.ModuleList(convs)
        self.output_size = channels * freqs

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return _ceil_div(lengths, self.factor)  # ceil(ceil(T/2)/2) == ceil(T/4)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # x: (B, T, F), zero past each length -> (B, ceil(T/k), channels * F'), F' = F halved per layer
        x = x.unsqueeze(1)  # (B, 1, T, F)
        for conv in self.convs:
            x = torch.relu(conv(x))
            lengths = _ceil_div(lengths, 2)
            # Past its length a frame holds bias and edge reads; zero it, as the convolution's
            # own padding is zero when the utterance runs alone.
            x = x * padding_mask(lengths.to(x.device), x.shape[2]).view(x.shape[0], 1, -1, 1).to(x.dtype)
        batch, channels, time, freqs = x.shape
        return x.transpose(1, 2).reshape(batch, time, channels * freqs), lengths
