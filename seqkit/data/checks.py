"""Data checks shared by ``seqkit check-data`` and training.

Each check returns a list of :class:`Problem` naming the manifest line, so every problem
of a manifest is reported in one pass instead of one crash at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from seqkit.data.audio import AudioError, load_audio
from seqkit.data.manifest import Utterance
from seqkit.data.tokenizer import Tokenizer


@dataclass(frozen=True)
class Problem:
    where: str  # "manifest:line (id=...)"
    reason: str
    fatal: bool = True  # False: a warning; the utterance is still usable

    def __str__(self) -> str:
        return f"{'error' if self.fatal else 'warning'}: {self.where}: {self.reason}"


def check_transcript(utt: Utterance, tokenizer: Tokenizer) -> list[Problem]:
    text = tokenizer.normalize(utt.text)
    if not text:
        return [Problem(utt.where, "empty transcript (after normalisation)")]
    unknown = tokenizer.unknown_symbols(utt.text)
    if not tokenizer.encode(utt.text):
        return [Problem(utt.where, f"every symbol of the transcript is out of vocabulary: {sorted(unknown)}")]
    if unknown:
        return [Problem(utt.where, f"out-of-vocabulary symbols dropped from the target: {sorted(unknown)}", fatal=False)]
    return []


def check_ctc_length(utt: Utterance, tokenizer: Tokenizer, output_frames: Callable[[float], int]) -> list[Problem]:
    """CTC needs at least one output frame per label (plus one between repeated labels)."""
    ids = tokenizer.encode(utt.text)
    repeats = sum(1 for a, b in zip(ids, ids[1:]) if a == b)
    needed = len(ids) + repeats
    frames = output_frames(utt.duration)
    if frames < needed:
        return [Problem(utt.where, f"{frames} encoder frames after subsampling < {needed} needed by its CTC label")]
    return []


def check_audio(utt: Utterance, sample_rate: int) -> list[Problem]:
    try:
        waveform = load_audio(
            utt.audio, sample_rate, where=utt.where, offset=utt.offset, size=utt.size, segment=utt.segment
        )
    except AudioError as err:
        return [Problem(utt.where, str(err).removeprefix(f"{utt.where}: "))]
    if not np.any(waveform.numpy()):
        return [Problem(utt.where, f"{utt.audio}: audio is all zeros")]
    actual = waveform.numel() / sample_rate
    if abs(actual - utt.duration) > max(0.1, 0.05 * utt.duration):
        reason = f"{utt.audio}: manifest duration {utt.duration:.2f}s but audio is {actual:.2f}s"
        return [Problem(utt.where, reason, fatal=False)]
    return []
