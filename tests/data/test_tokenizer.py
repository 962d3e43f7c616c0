"""Character and SentencePiece tokenizers: round trips, normalisation, OOV and saved state."""

from __future__ import annotations

import json

import pytest

from seqkit.data.tokenizer import (
    BLANK,
    CharTokenizer,
    SentencePieceTokenizer,
    TextNormalizer,
    tokenizer_from_state,
)

TRAIN = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! It's a fine day.",
    "yes no yes no yes",
]

# A few dozen short sentences for SentencePiece (it needs enough text for a ~30 piece vocab).
SENTENCES = [
    f"{a} {b} {c}"
    for a in ("the cat", "a dog", "my bird", "one fish", "two frogs", "her horse")
    for b in ("sat on", "ran to", "looked at", "jumped over")
    for c in ("the mat", "a tree", "the house")
]


def test_normalizer_options() -> None:
    text = "  Hello,\tWORLD!  It's   ﬁne.  "  # "ﬁ" ligature: NFKC makes it "fi"
    assert TextNormalizer()(text) == "hello world it's fine"
    assert TextNormalizer(lowercase=False)(text) == "Hello WORLD It's fine"
    assert TextNormalizer(strip_punctuation=False)(text) == "hello, world! it's fine."
    assert TextNormalizer(False, False)(text) == "Hello, WORLD! It's fine."
    assert TextNormalizer()("...") == ""


def test_char_tokenizer_vocabulary_and_round_trip() -> None:
    tokenizer = CharTokenizer().fit(TRAIN)
    assert tokenizer.fitted
    assert tokenizer.tokens[0] == BLANK and tokenizer.blank_id == 0
    assert tokenizer.tokens[1:] == sorted(tokenizer.tokens[1:])
    assert " " in tokenizer.tokens and "'" in tokenizer.tokens
    assert not any(c in tokenizer.tokens for c in ",.!T")  # stripped punctuation, lower-cased
    for text in TRAIN:
        ids = tokenizer.encode(text)
        assert 0 not in ids
        assert tokenizer.decode(ids) == tokenizer.normalize(text)
    # Blanks inserted anywhere are ignored by decode.
    ids = tokenizer.encode("lazy dog")
    assert tokenizer.decode([0, *ids[:2], 0, 0, *ids[2:], 0]) == "lazy dog"
    # Stray spaces of a CTC output (leading, trailing, doubled) are normalised like references.
    space = tokenizer.tokens.index(" ")
    assert tokenizer.decode([space, *ids[:4], space, space, *ids[4:], space]) == "lazy dog"
    assert tokenizer.decode([space, 0, space]) == ""


def test_char_tokenizer_normalisation_options() -> None:
    cased = CharTokenizer(lowercase=False, strip_punctuation=False).fit(TRAIN)
    assert "T" in cased.tokens and "," in cased.tokens and "!" in cased.tokens
    assert cased.decode(cased.encode("Hello, world!")) == "Hello, world!"
    assert cased.vocab_size > CharTokenizer().fit(TRAIN).vocab_size


def test_char_tokenizer_unknown_symbols_are_reported_and_dropped() -> None:
    tokenizer = CharTokenizer().fit(["abc def"])
    assert tokenizer.unknown_symbols("abc") == set()
    assert tokenizer.unknown_symbols("Abz, dq!") == {"z", "q"}  # after lower-casing and punctuation
    assert tokenizer.decode(tokenizer.encode("abz dq")) == "ab d"
    assert tokenizer.encode("xyz") == []


def test_char_tokenizer_state_round_trip() -> None:
    tokenizer = CharTokenizer(lowercase=False).fit(TRAIN)
    state = json.loads(json.dumps(tokenizer.state()))  # plain data, as in a checkpoint
    restored = tokenizer_from_state(state)
    assert isinstance(restored, CharTokenizer)
    assert restored.tokens == tokenizer.tokens
    assert restored.normalize.state() == {"lowercase": False, "strip_punctuation": True}
    for text in TRAIN + ["unseen Zebra"]:
        assert restored.encode(text) == tokenizer.encode(text)
        assert restored.unknown_symbols(text) == tokenizer.unknown_symbols(text)


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        tokenizer_from_state({"kind": "wordpiece", "lowercase": True, "strip_punctuation": True})


@pytest.fixture(scope="module")
def sentencepiece() -> SentencePieceTokenizer:
    return SentencePieceTokenizer(vocab_size=30, model_type="bpe").fit(SENTENCES)


def test_sentencepiece_vocabulary(sentencepiece) -> None:
    tokenizer = sentencepiece
    assert tokenizer.fitted
    assert tokenizer.tokens[0] == BLANK and tokenizer.blank_id == 0
    assert tokenizer._processor.unk_id() == 1
    # hard_vocab_limit=False: about the requested size (never more).
    assert 20 <= tokenizer.vocab_size <= 30


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece_round_trip_never_emits_blank(model_type, sentencepiece) -> None:
    tokenizer = sentencepiece if model_type == "bpe" else SentencePieceTokenizer(30, "unigram").fit(SENTENCES)
    texts = SENTENCES + ["The Horse sat on my frogs!", "a cat looked at two trees"]
    for text in texts:
        ids = tokenizer.encode(text)
        assert ids and 0 not in ids
        assert all(0 < i < tokenizer.vocab_size for i in ids)
        assert tokenizer.decode(ids) == tokenizer.normalize(text)
        assert tokenizer.unknown_symbols(text) == set()
    ids = tokenizer.encode("the cat")
    assert tokenizer.decode([0, *ids, 0]) == "the cat"


def test_sentencepiece_unknown_symbols(sentencepiece) -> None:
    assert sentencepiece.unknown_symbols("the cat ž") == {"ž"}
    ids = sentencepiece.encode("the cat ž")
    assert 1 in ids and 0 not in ids  # <unk> is 1, never the blank


def test_sentencepiece_state_round_trip(sentencepiece) -> None:
    state = json.loads(json.dumps(sentencepiece.state()))
    restored = tokenizer_from_state(state)
    assert isinstance(restored, SentencePieceTokenizer)
    assert restored.tokens == sentencepiece.tokens
    assert restored.model_type == "bpe"
    for text in SENTENCES[:10] + ["two birds ran"]:
        assert restored.encode(text) == sentencepiece.encode(text)
        assert restored.decode(restored.encode(text)) == sentencepiece.normalize(text)
    # The restored tokenizer's state is the same plain data again.
    assert restored.state() == state


def test_sentencepiece_rejects_unknown_model_type() -> None:
    with pytest.raises(ValueError, match="model_type"):
        SentencePieceTokenizer(model_type="word")
