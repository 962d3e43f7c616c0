"""Read a long audio file in blocks at the model's sample rate, never the whole file at once.

Resampling is done per block, not per file: a block is read with a margin of file samples
on both sides, resampled, and the margin's output dropped, so the filter's edge effects
fall outside the returned samples and the block equals the same stretch of the whole
file resampled (to float rounding).  For that, a block must start on a whole file sample:
``align`` (model-rate samples) is the step at which the two sample grids meet, and window
starts are multiples of it (see :func:`seqkit.inference.chunking.plan_windows`).
"""

from __future__ import annotations

import math
import os

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF
from torch import Tensor

from seqkit.data.audio import AudioError, check_header, load_audio
from seqkit.inference.inputs import InputItem

# torchaudio's sinc kernel reaches lowpass_filter_width (6) zero crossings of the lower rate
# to each side; 16 leaves room.
_FILTER_REACH = 16


class BlockReader:
    """``read(start, stop)`` -> samples ``[start, stop)`` of ``path`` as float32 mono at ``sample_rate``.  # (stop - start,)"""

    def __init__(self, path: str, sample_rate: int, label: str | None = None) -> None:
        self.label = label or str(path)
        try:
            self._file = soundfile.SoundFile(path)
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as err:
            raise AudioError(f"{self.label}: unreadable audio ({type(err).__name__}: {err})") from None
        self.file_rate = self._file.samplerate
        check_header(self._file.frames, self._file.channels, self.file_rate, sample_rate, self.label, limit_frames=False)
        if self._file.frames == 0:
            raise AudioError(f"{self.label}: audio has zero samples")
        gcd = math.gcd(self.file_rate, sample_rate)
        self._up, self._down = sample_rate // gcd, self.file_rate // gcd  # model samples : file samples
        self.sample_rate = sample_rate
        self.align = self._up  # model-rate starts that fall on whole file samples
        # Matches torchaudio.functional.resample's output length for the whole file.
        self.total = math.ceil(self._file.frames * self._up / self._down)
        reach = _FILTER_REACH * max(1, math.ceil(self._down / self._up))
        self._margin = math.ceil(reach / self._down) * self._down  # file samples, a whole number of grid steps

    @property
    def seconds(self) -> float:
        return self.total / self.sample_rate

    def _read_file(self, start: int, stop: int) -> Tensor:
        self._file.seek(start)
        data = self._file.read(stop - start, dtype="float32", always_2d=True)  # (T, C)
        if not np.isfinite(data).all():
            raise AudioError(f"{self.label}: audio contains NaN or Inf samples (file samples {start}-{stop})")
        return torch.from_numpy(data.mean(axis=1, dtype=np.float64).astype(np.float32))  # (T,)

    def read(self, start: int, stop: int) -> Tensor:
        if start % self.align:
            raise ValueError(f"block start {start} is not a multiple of {self.align}")
        stop = min(stop, self.total)
        if self._up == self._down:
            return self._read_file(start, stop)
        file_start = start // self._up * self._down
        file_stop = math.ceil(stop * self._down / self._up)
        first = max(0, file_start - self._margin)
        block = self._read_file(first, min(self._file.frames, file_stop + self._margin))
        resampled = AF.resample(block, self.file_rate, self.sample_rate)
        offset = (file_start - first) // self._down * self._up
        out = resampled[offset : offset + stop - start]
        if not torch.isfinite(out).all():
            raise AudioError(f"{self.label}: samples too large to process (|x| near 3.4e38)")
        return out

    def close(self) -> None:
        self._file.close()


class TensorReader:
    """The same interface over a waveform already in memory (e.g. a member of a tar shard)."""

    def __init__(self, waveform: Tensor, sample_rate: int) -> None:
        self.waveform = waveform  # (S,)
        self.sample_rate = sample_rate
        self.total = waveform.numel()
        self.align = 1

    @property
    def seconds(self) -> float:
        return self.total / self.sample_rate

    def read(self, start: int, stop: int) -> Tensor:
        return self.waveform[start:stop]

    def close(self) -> None:
        pass


def open_reader(item: InputItem, sample_rate: int) -> BlockReader | TensorReader:
    """A reader of ``item``'s audio; :class:`AudioError` (naming it) when it cannot be read."""
    if item.offset is not None:  # a shard member: read whole (its bytes are in memory anyway)
        return TensorReader(load_audio(item.path, sample_rate, item.where, item.offset, item.size), sample_rate)
    if not os.path.exists(item.path):
        raise AudioError(f"{item.label}: audio file not found")
    return BlockReader(item.path, sample_rate, item.label)
