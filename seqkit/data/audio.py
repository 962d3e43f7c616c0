"""Audio loading: any format libsndfile reads, downmixed to mono, resampled to the model's rate.

torchaudio >= 2.9 does no file I/O, so files are read with soundfile and resampled with
``torchaudio.functional.resample``.
"""

from __future__ import annotations

import io
import os

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the reason."""


def load_audio(
    path: str, sample_rate: int, where: str | None = None, offset: int | None = None, size: int | None = None
) -> torch.Tensor:
    """Read ``path`` as float32 mono at ``sample_rate``.  # (T,)

    ``where`` (e.g. "manifest.jsonl:12 (id=x)") is added to error messages.  With ``offset``
    and ``size``, the audio file is those bytes of ``path`` (a member of a tar shard).
    """
    label = f"{where}: {path}" if where else str(path)
    # soundfile reports a missing file as a LibsndfileError "System error", not FileNotFoundError.
    if not os.path.exists(path):
        raise AudioError(f"{label}: audio file not found")
    source: str | io.BytesIO = path
    if offset is not None:
        label = f"{label} bytes {offset}+{size}"
        with open(path, "rb") as handle:
            handle.seek(offset)
            member = handle.read(size)
        if len(member) != size:
            raise AudioError(f"{label}: archive ends after {len(member)} of {size} bytes (truncated shard?)")
        source = io.BytesIO(member)
    try:
        data, file_rate = soundfile.read(source, dtype="float32", always_2d=True)  # (T, C)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as err:
        raise AudioError(f"{label}: unreadable audio ({err})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{label}: audio has zero samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{label}: audio contains NaN or Inf samples")
    waveform = torch.from_numpy(data.mean(axis=1))  # downmix: (T,)
    if file_rate != sample_rate:
        waveform = AF.resample(waveform, file_rate, sample_rate)
    return waveform
