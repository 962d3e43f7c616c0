"""Audio loading: any format libsndfile reads, downmixed to mono, resampled to the model's rate.

torchaudio >= 2.9 does no file I/O, so files are read with soundfile and resampled with
``torchaudio.functional.resample``.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the reason."""


# What a header may claim before any sample is read.  A corrupt header can claim anything:
# 2^36 frames made soundfile allocate 256 GiB, and a rate such as 96001 Hz, with no common
# factor with the model's, made the resampling kernel tens of GB (found by tools/fuzz_audio.py).
MAX_SAMPLES = 2**31  # frames x channels: 37 h of mono 16 kHz audio
MIN_RATE, MAX_RATE = 1000, 768_000
MAX_RESAMPLE_RATIO = 4000  # rate / gcd(rate, target): 44100 -> 16000 is 441 / 160


def load_audio(
    path: str,
    sample_rate: int,
    where: str | None = None,
    offset: int | None = None,
    size: int | None = None,
    segment: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Read ``path`` as float32 mono at ``sample_rate``.  # (T,)

    ``where`` (e.g. "manifest.jsonl:12 (id=x)") is added to error messages.  With ``offset``
    and ``size``, the audio file is those bytes of ``path`` (a member of a tar shard).
    ``segment`` = (start, duration) in seconds reads only that part of the recording.
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
        # One open for the header and the samples: a second open (soundfile.info, then
        # soundfile.read) cost a third of the loading time of a short FLAC file.
        with soundfile.SoundFile(source) as handle:
            check_header(handle.frames, handle.channels, handle.samplerate, sample_rate, label)
            start, frames = segment_frames(segment, handle.frames, handle.samplerate, label)
            if start:
                handle.seek(start)
            data = handle.read(frames, dtype="float32", always_2d=True)  # (T, C)
            file_rate = handle.samplerate
    except (soundfile.LibsndfileError, RuntimeError, ValueError, MemoryError) as err:
        if isinstance(err, AudioError):
            raise
        reason = str(err).replace(repr(source), "the member") if offset is not None else str(err)
        raise AudioError(f"{label}: unreadable audio ({type(err).__name__}: {reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{label}: audio has zero samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{label}: audio contains NaN or Inf samples")
    if data.shape[1] == 1:
        waveform = torch.from_numpy(data[:, 0].copy())  # (T,)
    else:  # downmix in float64: a float32 sum of large samples can overflow
        waveform = torch.from_numpy(data.mean(axis=1, dtype=np.float64).astype(np.float32))  # (T,)
    if file_rate != sample_rate:
        waveform = AF.resample(waveform, file_rate, sample_rate)
        if not torch.isfinite(waveform).all():  # samples near float32's maximum overflow on the way
            raise AudioError(f"{label}: samples too large to process (|x| near 3.4e38)")
    return waveform


def segment_frames(segment: tuple[float, float] | None, frames: int, rate: int, label: str) -> tuple[int, int]:
    """(first frame, frame count) of ``segment`` = (start, duration) seconds; the whole file for None."""
    if segment is None:
        return 0, -1
    start, count = round(segment[0] * rate), round(segment[1] * rate)
    if start + count > frames + rate // 100:  # 10 ms of slack for rounded times
        raise AudioError(
            f"{label}: segment {segment[0]:.3f}s + {segment[1]:.3f}s ends after the audio ({frames / rate:.3f}s)"
        )
    return start, min(count, frames - start)


def check_header(frames: int, channels: int, rate: int, target: int, label: str, limit_frames: bool = True) -> None:
    """Reject a header that claims what no real file holds (see the limits above).

    ``limit_frames=False``: for readers that read in blocks (chunked transcription), whose
    memory does not grow with the file, so a long file is not refused by ``MAX_SAMPLES``.
    """
    if limit_frames and frames * channels > MAX_SAMPLES:
        raise AudioError(f"{label}: header claims {frames} frames x {channels} channels (corrupt header?)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{label}: sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz (corrupt header?)")
    if rate // math.gcd(rate, target) > MAX_RESAMPLE_RATIO:
        raise AudioError(f"{label}: sample rate {rate} Hz has no usable common factor with {target} Hz (corrupt header?)")
