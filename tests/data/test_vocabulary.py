"""The character LM's vocabulary: every character as is, in code-point order, errors that say where."""

import pytest
import torch

from seqkit.data.vocabulary import CharVocabulary


def test_fit_keeps_case_punctuation_and_newlines_in_code_point_order():
    vocabulary = CharVocabulary.fit("To be,\nor not.")
    assert vocabulary.tokens == ["\n", " ", ",", ".", "T", "b", "e", "n", "o", "r", "t"]
    ids = vocabulary.encode("not be")
    assert ids.dtype == torch.int64 and ids.tolist() == [7, 8, 10, 1, 5, 6]
    assert vocabulary.decode(ids) == "not be"


def test_characters_beyond_the_basic_plane_round_trip():
    text = "naïve 🎭 ok"
    vocabulary = CharVocabulary.fit(text)
    assert vocabulary.decode(vocabulary.encode(text)) == text


@pytest.mark.parametrize("text, offset", [("tex", 2), ("Zen", 0), ("te~", 2)])
def test_unknown_character_error_names_it_and_its_offset(text, offset):
    vocabulary = CharVocabulary.fit("the net")
    with pytest.raises(ValueError, match=rf"valid.txt:3: character '{text[offset]}' .* at offset {offset} "):
        vocabulary.encode(text, where="valid.txt:3")


def test_state_round_trip_and_kind_check():
    vocabulary = CharVocabulary.fit("abc")
    assert CharVocabulary.from_state(vocabulary.state()).tokens == ["a", "b", "c"]
    with pytest.raises(ValueError, match="not a character LM vocabulary"):
        CharVocabulary.from_state({"kind": "char", "tokens": ["a"]})


@pytest.mark.parametrize("tokens", [[], ["b", "a"], ["a", "a"], ["ab"]])
def test_tokens_must_be_distinct_single_characters_in_order(tokens):
    with pytest.raises(ValueError, match="distinct single characters"):
        CharVocabulary(tokens)


def test_empty_text_is_refused():
    with pytest.raises(ValueError, match="empty text"):
        CharVocabulary.fit("")
