"""Per-frame features of videos: a small CNN trained end to end, or training-free motion features.

Both take a batch of frames ``inputs`` (B, T, C, H, W) in [0, 1] with ``lengths`` (B,)
and return ``(features (B, T, F), lengths)`` with every padded step exactly zero, ready
for a recurrent encoder.  ``input_size`` is the channel count C (3: RGB); the task checks
it against the data module's.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit.masking import padding_mask

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


def grid_pool(x: Tensor, size: int) -> Tensor:
    """Adaptive average pooling of (N, C, H, W) to (N, C, size, size).

    Under tracing (export) it is written as a plain average pool when H and W are multiples
    of ``size`` (the same numbers): the ONNX exporter cannot size an adaptive pool.
    """
    height, width = int(x.shape[-2]), int(x.shape[-1])
    if torch.jit.is_tracing() and height % size == 0 and width % size == 0:
        return F.avg_pool2d(x, (height // size, width // size))
    return F.adaptive_avg_pool2d(x, size)


class FrameCNN(nn.Module):
    """A strided-convolution stack applied to every frame, then a linear map to ``output_size``.

    With ``difference`` (the default) each frame is stacked with its difference from the
    previous frame (zero for the first), so the CNN sees 2C channels: the static scene
    cancels in the difference and what moved stands out, which a CNN trained from
    scratch on a few hundred videos does not find on its own from the frames alone.
    Each of ``channels`` is one 3x3 convolution with stride 2 (halving H and W), batch
    norm and ReLU.  The last feature map is average-pooled to a ``pool`` x ``pool`` grid
    rather than to one value per channel, so *where* things are survives: the recurrent
    encoder reads motion from how the grid changes from frame to frame.  Only valid
    frames go through the CNN, so padding costs no compute and never enters the batch-norm
    statistics.
    """

    def __init__(
        self,
        input_size: int = 3,
        channels: Sequence[int] = (16, 32, 64),
        pool: int = 4,
        output_size: int = 128,
        difference: bool = True,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one convolution")
        self.difference = difference
        layers: list[nn.Module] = []
        previous = input_size * (2 if difference else 1)
        for width in channels:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            previous = width
        layers += [nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(previous * pool * pool, output_size), nn.ReLU(inplace=True)]
        self.net = nn.Sequential(*layers)
        self.input_size = input_size
        self.output_size = output_size

    def _frames(self, frames: Tensor) -> Tensor:
        # (N, C', H, W) -> (N, output_size); the pooling layer is self.net[-4]
        maps = self.net[:-4](frames)
        return self.net[-3:](grid_pool(maps, self.net[-4].output_size))

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # inputs: (B, T, C, H, W), lengths: (B,) -> (B, T, output_size), (B,)
        batch, time = inputs.shape[:2]
        valid = padding_mask(lengths.to(inputs.device), time)  # (B, T)
        if self.difference:
            previous = torch.cat([inputs[:, :1], inputs[:, :-1]], dim=1)  # step 0 is its own predecessor
            inputs = torch.cat([inputs, inputs - previous], dim=2)  # (B, T, 2C, H, W)
        if torch.jit.is_tracing():
            # Export: boolean indexing would fix N_valid in the trace, so run every frame and zero
            # the padded ones (the same values: in evaluation batch norm treats frames one by one).
            features = self._frames(inputs.flatten(0, 1)).view(batch, time, self.output_size)
            return features * valid.unsqueeze(-1).to(features.dtype), lengths
        features = self._frames(inputs[valid])  # (N_valid, output_size)
        out = features.new_zeros(batch, time, self.output_size)
        out[valid] = features
        return out, lengths


class FrameDifference(nn.Module):
    """Training-free motion features from the absolute difference of consecutive frames.

    Per step t, with D_t = |g_t - g_{t-1}| on the grey frames g, values under
    ``threshold`` set to zero (sensor noise, compression flicker):

    * motion energy: mean of D_t over each cell of a ``grid`` x ``grid`` partition (grid^2);
    * where the motion is: the D-weighted centroid (x, y) and spread (std x, std y) in
      [-1, 1] image coordinates (4);
    * how it moves: the change of centroid and spread since step t-1 (4): the centroid
      drifts with a translation, the spread grows with a growing object.

    ``output_size`` = grid^2 + 8.  Step 0 has no predecessor and is all zeros, as is any
    step without motion (a static video gives zeros throughout) and every padded step.
    """

    def __init__(self, input_size: int = 3, grid: int = 4, threshold: float = 0.1) -> None:
        super().__init__()
        if grid < 1:
            raise ValueError("grid must be at least 1")
        self.input_size = input_size
        self.grid = grid
        self.threshold = threshold
        self.output_size = grid * grid + 8
        # RGB -> luma; any other channel count -> channel mean
        weights = torch.tensor(LUMA) if input_size == 3 else torch.full((input_size,), 1.0 / input_size)
        self.register_buffer("grey_weights", weights, persistent=False)

    @torch.no_grad()
    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # inputs: (B, T, C, H, W), lengths: (B,) -> (B, T, grid^2 + 8), (B,)
        batch, time, _, height, width = inputs.shape
        grey = torch.einsum("btchw,c->bthw", inputs.float(), self.grey_weights)  # (B, T, H, W)
        diff = (grey[:, 1:] - grey[:, :-1]).abs()
        diff = torch.where(diff >= self.threshold, diff, torch.zeros_like(diff))
        diff = torch.cat([diff.new_zeros(batch, 1, height, width), diff], dim=1)  # step 0: no motion
        diff = diff * padding_mask(lengths.to(diff.device), time)[..., None, None].to(diff.dtype)  # steps past the end

        energy = grid_pool(diff.reshape(batch * time, 1, height, width), self.grid)
        energy = energy.reshape(batch, time, self.grid * self.grid)  # (B, T, grid^2)

        mass = diff.sum(dim=(2, 3))  # (B, T)
        weights = diff / mass.clamp_min(1e-8)[..., None, None]
        ys = torch.linspace(-1.0, 1.0, height, device=diff.device)
        xs = torch.linspace(-1.0, 1.0, width, device=diff.device)
        profile_x, profile_y = weights.sum(dim=2), weights.sum(dim=3)  # (B, T, W), (B, T, H)
        cx, cy = profile_x @ xs, profile_y @ ys  # (B, T)
        sx = (profile_x @ xs**2 - cx**2).clamp_min(0).sqrt()
        sy = (profile_y @ ys**2 - cy**2).clamp_min(0).sqrt()
        where = torch.stack([cx, cy, sx, sy], dim=-1)  # (B, T, 4); zero where there is no motion

        moving = mass > 0  # (B, T)
        both = moving[:, 1:] & moving[:, :-1]  # a change is defined only between two moving steps
        change = (where[:, 1:] - where[:, :-1]) * both[..., None].to(where.dtype)
        change = torch.cat([where.new_zeros(batch, 1, 4), change], dim=1)  # (B, T, 4)
        return torch.cat([energy, where, change], dim=-1), lengths
