"""When each word of a CTC transcript was said: token spans on output frames, grouped into words.

A CTC model emits each token as a spike on one or a few output frames, so a word's time is
the span from its first token's first frame to its last token's last frame.  Greedy decoding
knows each token's run of frames; flashlight's beam search reports only the frame where a
token starts, and its run is read off the best label per frame from there (a beam token the
best path does not hold keeps its one frame).  CTC places spikes where it likes within a
token's sound, so the times are good to about an output frame or two, and the pauses between
words are mostly blank frames that belong to no word.

A word's *confidence* is the posterior of its least certain token: each token's highest
probability over its frames, the lowest of those over the word (a word is as doubtful as its
weakest part).  It is the acoustic model's, not the LM's: a word a beam search took from the
LM against the audio scores low.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from seqkit.data.tokenizer import Tokenizer
from seqkit.decoding.ngram import BOUNDARY_KINDS

_SENTENCEPIECE_WORD_START = "\u2581"  # "▁" opens a piece that starts a word


@dataclass(frozen=True)
class TokenSpan:
    token: int  # token id
    start: int  # first output frame
    end: int  # one past the last


@dataclass(frozen=True)
class WordSpan:
    word: str
    start: int  # first output frame of its first token
    end: int  # one past the last frame of its last token
    confidence: float | None = None  # see the module docstring; None without the log-probs


def greedy_token_spans(labels: Tensor, blank_id: int) -> list[TokenSpan]:
    """The best path's tokens and their frames.  labels: (T,) best label per output frame."""
    spans: list[TokenSpan] = []
    values = labels.tolist()
    start = 0
    for t in range(1, len(values) + 1):
        if t == len(values) or values[t] != values[start]:
            if values[start] != blank_id:
                spans.append(TokenSpan(values[start], start, t))
            start = t
    return spans


def spans_from_starts(tokens: list[int], starts: list[int], best: Tensor) -> list[TokenSpan]:
    """Spans of tokens known only by their first frames, each run on while ``best`` (``(T,)``, the
    best label per frame) holds it."""
    values = best.tolist()
    spans = []
    for token, start in zip(tokens, starts):
        end = start + 1
        while end < len(values) and values[end] == token:
            end += 1
        spans.append(TokenSpan(token, start, end))
    return spans


def _word_groups(tokenizer: Tokenizer, spans: list[TokenSpan]) -> list[list[TokenSpan]]:
    """The spans of each word: characters and phonemes are split at the boundary token (a
    space), SentencePiece pieces before each piece that starts a word."""
    boundary = tokenizer.kind in BOUNDARY_KINDS
    groups: list[list[TokenSpan]] = []
    new_word = True
    for span in spans:
        piece = tokenizer.tokens[span.token]
        if boundary and piece == " ":
            new_word = True
            continue
        if not boundary and piece.startswith(_SENTENCEPIECE_WORD_START):
            new_word = True
        if new_word:
            groups.append([])
            new_word = False
        groups[-1].append(span)
    return groups


def word_spans(tokenizer: Tokenizer, spans: list[TokenSpan], text: str, log_probs: Tensor | None = None) -> list[WordSpan]:
    """The words of ``text`` (the decoder's transcript of ``spans``) with their frames, and with
    ``log_probs`` (``(T, V)``, the frames' log-probabilities) their confidences.

    The transcript's words are paired with the token groups in order; a beam search with a
    lexicon chose them, and a homophone of a phoneme lexicon is only known from it.  Where the
    counts differ (a SentencePiece group that spells no word; flashlight dropping a word, see
    :mod:`seqkit.decoding.beam`), each group is read by the tokenizer instead.
    """
    groups = _word_groups(tokenizer, spans)
    words = text.split()
    if len(words) != len(groups):
        read = [(tokenizer.decode([s.token for s in group]).strip(), group) for group in groups]
        words, groups = [w for w, _ in read if w], [g for w, g in read if w]
    return [WordSpan(word, group[0].start, group[-1].end, None if log_probs is None else _confidence(group, log_probs))
            for word, group in zip(words, groups)]


def _confidence(group: list[TokenSpan], log_probs: Tensor) -> float:
    """The lowest over the tokens of each token's highest probability on its frames."""
    return min(float(log_probs[s.start : s.end, s.token].max().exp()) for s in group)
