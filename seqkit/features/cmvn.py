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

CMVN_EPS = 1e-5  # keeps a silent feature from dividing by zero


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
        std = ((centred**2).sum(dim=1, keepdim=True) / count + CMVN_EPS).sqrt()
        return centred / std


def normalizes_by_speaker(normalizer: nn.Module | None) -> bool:
    """Whether ``normalizer`` takes each utterance's speaker (statistics from each run's data, not the checkpoint)."""
    return getattr(normalizer, "needs_speakers", False)


class SpeakerCMVN(nn.Module):
    """Normalise each utterance by its *speaker's* mean and variance (Kaldi's per-speaker CMVN).

    On a short utterance, per-utterance CMVN also removes what the utterance's own average
    spectrum says about its content (one word's vowels and fricatives); a speaker's
    statistics, over all their utterances, remove the voice and the recording channel alone.
    The statistics are not learned: before each stage the task passes that stage's data
    through the features once (:meth:`accumulate`, unaugmented, then :meth:`finish`), so the test speakers'
    come from their unlabelled test recordings (a transductive adaptation, like Kaldi's).
    They are not saved in the checkpoint; a speaker without statistics is an error.
    """

    needs_speakers = True  # the task passes each example's speaker to forward

    def __init__(self) -> None:
        super().__init__()
        self._sums: dict[str, list] = {}  # speaker -> [sum (F,), sum of squares (F,), frames], float64
        self.stats: dict[str, tuple[Tensor, Tensor]] = {}  # speaker -> (mean (F,), std (F,))

    def reset(self) -> None:
        self._sums, self.stats = {}, {}

    @torch.no_grad()
    def accumulate(self, feats: Tensor, lengths: Tensor, speakers: list[str]) -> None:
        """Add a batch's valid frames to their speakers' sums.  # (B, T, F), (B,)"""
        for row, speaker in enumerate(speakers):
            frames = feats[row, : int(lengths[row])].double()
            sums = self._sums.setdefault(speaker, [0.0, 0.0, 0])
            sums[0] = sums[0] + frames.sum(0)
            sums[1] = sums[1] + (frames**2).sum(0)
            sums[2] += frames.shape[0]

    def finish(self) -> None:
        """Turn the sums into each speaker's statistics."""
        for speaker, (total, squares, count) in self._sums.items():
            mean = total / max(count, 1)
            std = (squares / max(count, 1) - mean**2).clamp(min=0).add(CMVN_EPS).sqrt()
            self.stats[speaker] = (mean.float(), std.float())

    def forward(self, feats: Tensor, lengths: Tensor, speakers: list[str] | None = None) -> Tensor:
        if speakers is None:
            raise ValueError("SpeakerCMVN needs each utterance's speaker: use it with a data module whose examples "
                             "name their speaker (SpeechDataModule, FSDDDataModule)")
        missing = sorted({s for s in speakers if s not in self.stats})
        if missing:
            raise KeyError(f"SpeakerCMVN has no statistics for speaker(s) {missing}: they are computed from each "
                           "stage's data before it runs")
        mean = torch.stack([self.stats[s][0] for s in speakers]).unsqueeze(1).to(feats)  # (B, 1, F)
        std = torch.stack([self.stats[s][1] for s in speakers]).unsqueeze(1).to(feats)
        return standardize(feats, lengths, mean, std)


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
        return standardize(feats, lengths, self.mean, self.std + CMVN_EPS)


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
