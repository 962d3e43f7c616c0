"""Per-speaker CMVN for the inference commands: one pass over the inputs before decoding.

A model trained with :class:`~seqkit.features.cmvn.SpeakerCMVN` standardises each recording
by its speaker's feature statistics, which ``seqkit test`` and ``predict`` compute from the
stage's data before it runs (:mod:`seqkit.tasks.speaker_statistics`).  ``transcribe`` does
the same with what it is given: each input's speaker is ``--speaker`` (every input is one
speaker), else its manifest ``speaker``, else the recording is a speaker of its own.

Each recording is read in blocks of :data:`BLOCK_SECONDS` whatever its length, so memory
stays bounded and a recording's statistics do not depend on how it is then decoded (whole
or in windows).  A block's edge frames differ slightly from the whole file's, which moves
an hour's statistics by far less than one frame's worth.
"""

from __future__ import annotations

import sys

import torch
from tqdm import tqdm

from seqkit.data.audio import AudioError
from seqkit.features.cmvn import normalizes_by_speaker
from seqkit.inference.inputs import InputItem
from seqkit.inference.reader import open_reader

BLOCK_SECONDS = 60.0


def speakers_of(items: list[InputItem], pooled: str | None) -> list[str]:
    """Each input's speaker: ``pooled`` for all, else the manifest's, else one per recording."""
    if pooled:
        return [pooled] * len(items)
    return [item.speaker or f"recording {index}: {item.path}" for index, item in enumerate(items)]


def block_bounds(total: int, block: int, align: int) -> list[tuple[int, int]]:
    """``[start, stop)`` sample spans covering ``total``; starts are multiples of ``align``.

    A last span shorter than half a block joins the one before it, so no block is too short
    for the feature extractor's window.
    """
    block = max(align, block // align * align)
    bounds = [(start, min(start + block, total)) for start in range(0, total, block)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < block // 2:
        bounds[-2:] = [(bounds[-2][0], total)]
    return bounds


@torch.inference_mode()
def collect_speaker_statistics(task, items: list[InputItem], speakers: list[str]) -> int:
    """Fill ``task.normalizer``'s statistics from ``items``; returns the speakers seen.

    Unreadable recordings are passed over here: the decoding pass reports them.
    """
    normalizer = task.normalizer
    if not normalizes_by_speaker(normalizer):
        raise ValueError(f"{type(task).__name__}'s normalizer does not normalise by speaker")
    if getattr(task, "standardizer", None) is not None:  # its statistics would be of unstandardised inputs
        raise ValueError(f"{type(task).__name__} standardises its inputs before the features: not audio")
    rate = int(task.features.sample_rate)
    normalizer.reset()
    for item, speaker in tqdm(list(zip(items, speakers)), desc="speaker statistics", unit="file",
                              disable=len(items) < 10, file=sys.stderr):
        try:
            reader = open_reader(item, rate)
        except AudioError:
            continue
        try:
            for start, stop in block_bounds(reader.total, int(BLOCK_SECONDS * rate), reader.align):
                wave = reader.read(start, stop).to(task.device)  # (S,)
                feats, frames = task.features(wave.unsqueeze(0), torch.tensor([wave.numel()], device=task.device))
                normalizer.accumulate(feats, frames, [speaker])  # (1, T, F), (1,)
        except AudioError:
            pass  # its readable blocks still count; decoding reports the file
        finally:
            reader.close()
    normalizer.finish()
    return len(normalizer.stats)


def prepare_speaker_statistics(tasks: list, items: list[InputItem], pooled: str | None) -> list[str] | None:
    """Each input's speaker, after filling the statistics of every task that normalises by
    speaker (``--speaker`` is ``pooled``); None when no task does."""
    by_speaker = [task for task in tasks if normalizes_by_speaker(getattr(task, "normalizer", None))]
    if not by_speaker:
        if pooled:
            raise ValueError("--speaker is for a model that normalises by speaker (SpeakerCMVN); this one does not")
        return None
    speakers = speakers_of(items, pooled)
    for task in by_speaker:
        count = collect_speaker_statistics(task, items, speakers)
    grouped = "--speaker" if pooled else ("the manifest's speakers" if any(i.speaker for i in items) else "one per recording")
    print(f"per-speaker CMVN: statistics of {count} speaker(s) ({grouped}) from {len(items)} recording(s)", file=sys.stderr)
    return speakers
