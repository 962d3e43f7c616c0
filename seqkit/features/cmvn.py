"""Cepstral mean and variance normalisation over valid (unpadded) frames.

``(B, T, F), (B,) -> (B, T, F)``; padded frames stay zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from seqkit.data.paths import expand_data_path
from seqkit.masking import padding_mask

_EPS = 1e-5


def standardize(feats: Tensor, lengths: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """``(feats - mean) / std`` per feature, padded frames zero.  # (B, T, F), (B,) -> (B, T, F)"""
    mask = padding_mask(lengths, feats.shape[1]).unsqueeze(-1).to(feats.dtype)
    return (feats - mean) / std * mask


class UtteranceCMVN(nn.Module):
    """Normalise each utterance by its own mean (and variance): no statistics to carry around."""

    def __init__(self, normalize_variance: bool = True) -> None:
        super().__init__()
        self.normalize_variance = normalize_variance

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        mask = padding_mask(lengths, feats.shape[1]).unsqueeze(-1).to(feats.dtype)  # (B, T, 1)
        count = mask.sum(dim=1, keepdim=True).clamp(min=1)
        mean = (feats * mask).sum(dim=1, keepdim=True) / count
        centred = (feats - mean) * mask
        if not self.normalize_variance:
            return centred
        std = ((centred**2).sum(dim=1, keepdim=True) / count + _EPS).sqrt()
        return centred / std


class GlobalCMVN(nn.Module):
    """Normalise by corpus statistics from ``tools/compute_cmvn.py``.

    The statistics are buffers, so they are saved in the checkpoint: a run moved to another
    machine needs no stats file.  When ``stats_file`` is absent the buffers are filled by
    ``load_state_dict`` from the checkpoint (so a checkpoint loads on a machine without it).
    """

    def __init__(self, stats_file: str) -> None:
        super().__init__()
        mean, std = torch.empty(0), torch.empty(0)
        path = Path(expand_data_path(stats_file))
        if path.is_file():
            stats = json.loads(path.read_text())
            mean, std = torch.tensor(stats["mean"]), torch.tensor(stats["std"])
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Adopt the checkpoint's shapes when built without a stats file.
        for name in ("mean", "std"):
            key = prefix + name
            if key in state_dict and getattr(self, name).numel() == 0:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, feats: Tensor, lengths: Tensor) -> Tensor:
        if self.mean.numel() == 0:
            raise RuntimeError("GlobalCMVN has no statistics: run tools/compute_cmvn.py to write stats_file")
        return standardize(feats, lengths, self.mean, self.std + _EPS)


class ChannelStandardizer(nn.Module):
    """``(x - mean) / std`` per channel with given statistics, e.g. a data module's training-set ones.

    The statistics are a constructor argument, so they travel in the checkpoint's
    hyper-parameters; the buffers are not persistent, and checkpoints from before this
    module load without them.
    """

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or not mean:
            raise ValueError(f"mean and std need one value per channel, got {len(mean)} and {len(std)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32), persistent=False)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        # inputs: (B, T, C), lengths: (B,) -> (B, T, C), padded steps zero
        if inputs.shape[-1] != self.mean.numel():
            raise ValueError(f"inputs have {inputs.shape[-1]} channels, the statistics {self.mean.numel()}")
        return standardize(inputs, lengths, self.mean, self.std)
