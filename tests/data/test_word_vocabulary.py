"""WordVocabulary: specials first, counts decide, <unk> for the rest, round trips."""

from __future__ import annotations

import pytest

from seqkit.data.word_vocabulary import PAD, PAD_ID, UNK, UNK_ID, WordVocabulary

TEXTS = ["the film is good", "the film is bad", "a good film", "bad bad acting"]


def test_specials_then_words_by_count_then_alphabet() -> None:
    vocabulary = WordVocabulary.fit(TEXTS)
    assert vocabulary.tokens[:2] == [PAD, UNK] and (PAD_ID, UNK_ID) == (0, 1)
    # film 3, bad 3, the 2, is 2, good 2, then the single words alphabetically
    assert vocabulary.tokens[2:] == ["bad", "film", "good", "is", "the", "a", "acting"]


def test_min_count_and_max_size() -> None:
    assert WordVocabulary.fit(TEXTS, min_count=2).tokens[2:] == ["bad", "film", "good", "is", "the"]
    assert WordVocabulary.fit(TEXTS, max_size=4).tokens == [PAD, UNK, "bad", "film"]
    with pytest.raises(ValueError):
        WordVocabulary.fit(TEXTS, min_count=0)


def test_unknown_words_map_to_unk_and_round_trip() -> None:
    vocabulary = WordVocabulary.fit(TEXTS, min_count=2)
    ids = vocabulary.encode("the acting is good")
    assert ids.tolist() == [vocabulary.tokens.index("the"), UNK_ID, vocabulary.tokens.index("is"), vocabulary.tokens.index("good")]
    assert vocabulary.decode(ids.tolist() + [PAD_ID, PAD_ID]) == "the <unk> is good"
    assert vocabulary.decode(vocabulary.encode("the film is bad")) == "the film is bad"
    assert vocabulary.unknown_fraction(["the acting is good"]) == 0.25


def test_state_is_the_token_list() -> None:
    vocabulary = WordVocabulary.fit(TEXTS)
    assert WordVocabulary(vocabulary.tokens).encode("a bad film").tolist() == vocabulary.encode("a bad film").tolist()
    with pytest.raises(ValueError, match="must start with"):
        WordVocabulary(["film", PAD, UNK])
