"""Run a speech-to-text task on waveforms: batches of short ones, or one long one in windows.

What is kept per output frame depends on the decoder: greedy decoding only needs each
frame's best label (``(T,)`` int64, 8 bytes a frame), beam search (and word confidences,
``keep_log_probs``) needs the log-probs (``(T, V)`` float32).  So an hour of audio at a 30 ms
output stride is 120 k frames: 1 MB of labels, or ``V`` x 0.5 MB of log-probs.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from seqkit.decoding.alignment import WordSpan, greedy_token_spans, word_spans
from seqkit.decoding.beam import BeamSearchDecoder
from seqkit.decoding.greedy import collapse_path
from seqkit.inference.chunking import model_geometry, plan_windows, stitch


class Transcriber:
    """``keep_log_probs``: keep each frame's log-probs even for greedy decoding (word confidences)."""

    def __init__(self, task, beam: BeamSearchDecoder | None = None, batch_size: int = 8,
                 keep_log_probs: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.task = task
        self.beam = beam
        self.batch_size = batch_size
        self.keep_log_probs = keep_log_probs or beam is not None
        self.sample_rate = int(task.features.sample_rate)

    @torch.inference_mode()
    def frames(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> list[Tensor]:
        """One batch through the model.  waveforms: B x (S_i,) -> B x (T_i,) labels or (T_i, V) log-probs, on CPU.

        ``speakers`` names each waveform's speaker, for a model that normalises by speaker."""
        device = self.task.device
        lengths = torch.tensor([w.numel() for w in waveforms], device=device)  # (B,)
        batch = pad_sequence([w.to(device) for w in waveforms], batch_first=True)  # (B, S)
        log_probs, out_lengths = self.task(batch, lengths, speakers)  # (B, T', V), (B,)
        kept = log_probs.float() if self.keep_log_probs else log_probs.argmax(dim=-1)  # (B, T', V) or (B, T')
        kept = kept.cpu()
        return [kept[i, : int(n)] for i, n in enumerate(out_lengths.tolist())]

    def decode(self, frames: list[Tensor]) -> list[str]:
        """Texts of :meth:`frames`' outputs (greedy: best path, collapsed; or beam search)."""
        if self.beam is not None:
            lengths = torch.tensor([f.shape[0] for f in frames])
            return self.beam.decode(pad_sequence(frames, batch_first=True), lengths)
        tokenizer = self.task.tokenizer
        return [tokenizer.decode(collapse_path(labels, tokenizer.blank_id)) for labels in _labels(frames)]

    def decode_words(self, frames: list[Tensor]) -> tuple[list[str], list[list[WordSpan]]]:
        """:meth:`decode`'s texts, and each text's words with their output frames (and, with
        log-probs kept, their confidences)."""
        tokenizer = self.task.tokenizer
        if self.beam is not None:
            lengths = torch.tensor([f.shape[0] for f in frames])
            aligned = self.beam.decode_aligned(pad_sequence(frames, batch_first=True), lengths)
        else:
            spans = [greedy_token_spans(labels, tokenizer.blank_id) for labels in _labels(frames)]
            aligned = [(tokenizer.decode([s.token for s in tokens]), tokens) for tokens in spans]
        return [text for text, _ in aligned], [
            word_spans(tokenizer, tokens, text, f if f.dim() == 2 else None) for (text, tokens), f in zip(aligned, frames)]

    @property
    def seconds_per_frame(self) -> float:
        """Output frame stride in seconds: frame ``t`` starts at ``t * seconds_per_frame``."""
        return model_geometry(self.task).stride / self.sample_rate

    @property
    def reads_phonemes(self) -> bool:
        return self.task.tokenizer.kind == "phoneme"  # as the task decides to score a PER

    def phonemes(self, frames: list[Tensor]) -> list[str]:
        """A phoneme model's greedy phonemes of :meth:`frames`' outputs, space-separated, whatever
        the decoder: what its phoneme error rate counts, as in ``seqkit test``."""
        tokenizer = self.task.tokenizer
        return [tokenizer.phones(collapse_path(labels, tokenizer.blank_id)) for labels in _labels(frames)]

    def transcribe(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> list[str]:
        return self.decode(self.frames(waveforms, speakers))

    def transcribe_long(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> str:
        """A whole recording's text, from :meth:`long_frames`."""
        return self.decode([self.long_frames(reader, chunk_seconds, overlap_seconds, progress, speaker)])[0]

    def long_frames(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> Tensor:
        """A whole recording's frames, from overlapping windows read one batch at a time.

        ``reader``: :class:`~seqkit.inference.reader.BlockReader` (or ``TensorReader``).
        Memory holds ``batch_size`` windows of audio, whatever the recording's length.
        ``progress(done, total)`` is called with window counts after each batch.
        """
        geometry = model_geometry(self.task)
        chunk = int(chunk_seconds * self.sample_rate)
        overlap = int(overlap_seconds * self.sample_rate)
        windows = plan_windows(reader.total, chunk, overlap, geometry, reader.align)
        pieces: list[Tensor] = []
        for first in range(0, len(windows), self.batch_size):
            group = windows[first : first + self.batch_size]
            speakers = None if speaker is None else [speaker] * len(group)  # every window is the recording's speaker
            pieces.extend(self.frames([reader.read(w.start, w.stop) for w in group], speakers))
            if progress is not None:
                progress(len(pieces), len(windows))
        return stitch(pieces, windows)


def _labels(frames: list[Tensor]) -> list[Tensor]:
    """The best label per frame, (T,), of :meth:`Transcriber.frames`' outputs, labels or log-probs."""
    return [f if f.dim() == 1 else f.argmax(dim=-1) for f in frames]
