"""Word-level n-gram language model (interpolated modified Kneser-Ney) written as ARPA.

The beam-search decoder scores words with flashlight's KenLM wrapper, which reads ARPA
files directly, so the LM is estimated here from the training transcripts (no external
``lmplz`` binary) and stored as an ARPA file whose back-off weights make every
conditional distribution sum to one over the vocabulary plus ``</s>`` and ``<unk>``.

Estimation follows Chen & Goodman (1998) as implemented by KenLM's ``lmplz``:

* the highest order uses raw counts; lower orders use continuation counts
  N1+(. w) (number of distinct left contexts), except n-grams starting with ``<s>``,
  which nothing can precede and which therefore keep their raw counts;
* three discounts per order (for counts 1, 2, 3+) from the count-of-counts;
* interpolation: ``p(w|h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) * p(w|h')`` with
  ``gamma(h)`` the discounted mass, and the unigram level interpolated with the uniform
  distribution so ``<unk>`` (never seen) gets a non-zero probability.

Written as ARPA, the interpolated probability of each seen n-gram is stored and
``gamma(h)`` becomes the back-off weight of ``h``: for an unseen ``hw`` the interpolated
formula reduces to ``gamma(h) * p(w|h')``, exactly ARPA's back-off rule.

The module also writes the flashlight lexicon (word -> token spelling).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from seqkit.data.tokenizer import Tokenizer

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_BOS_ID, _EOS_ID, _UNK_ID = 0, 1, 2
# KenLM's ``--discount_fallback`` values, used when count-of-counts are too sparse
# (tiny corpora) for the closed-form estimates to land in their valid ranges.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# Conventional ARPA probability for <s>: it is a context, never a predicted word.
_BOS_LOG10_PROB = -99.0
# Homophones' log10 probability step (NGramLM.break_ties): far below any real difference,
# and above the 7 decimals ARPA keeps.
TIE_STEP = 1e-5

NGram = tuple[int, ...]
# Tokenizers whose targets hold a space token between words (flashlight's silence token).
BOUNDARY_KINDS = ("char", "phoneme")


@dataclass
class NGramLM:
    """An estimated back-off model over integer word ids; ``words[i]`` is id i's string.

    ``log10_probs[n - 1]`` maps each listed n-gram to its (interpolated) log10 probability;
    ``log10_backoffs[n - 1]`` maps each n-gram that is a context of some listed
    (n+1)-gram to its log10 back-off weight (absent means 0, i.e. weight 1).
    """

    order: int
    words: list[str]
    log10_probs: list[dict[NGram, float]]
    log10_backoffs: list[dict[NGram, float]]
    discounts: list[tuple[float, float, float]]

    def write_arpa(self, path: str | Path) -> Path:
        """Write the model in ARPA text format (readable by KenLM)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            f.write("\n\\data\\\n")
            for n, probs in enumerate(self.log10_probs, start=1):
                f.write(f"ngram {n}={len(probs)}\n")
            for n, probs in enumerate(self.log10_probs, start=1):
                f.write(f"\n\\{n}-grams:\n")
                backoffs = self.log10_backoffs[n - 1]
                for gram, logp in probs.items():
                    text = " ".join(self.words[i] for i in gram)
                    if gram in backoffs:
                        f.write(f"{logp:.7f}\t{text}\t{backoffs[gram]:.7f}\n")
                    else:
                        f.write(f"{logp:.7f}\t{text}\n")
            f.write("\n\\end\\\n")
        return path

    def break_ties(self, ranks: dict[str, int], step: float = TIE_STEP) -> None:
        """Lower every listed ``log10 p(w | h)`` by ``ranks[w] * step`` (see :func:`homophone_ranks`)."""
        lowered = {i: ranks[w] * step for i, w in enumerate(self.words) if ranks.get(w, 0)}
        if not lowered:  # no homophones (char and SentencePiece lexicons): nothing to visit
            return
        for probs in self.log10_probs:
            for gram in probs:
                if gram[-1] in lowered:
                    probs[gram] -= lowered[gram[-1]]


def modified_kn_discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from the count-of-counts of one order."""
    n = Counter(c for c in counts if c <= 4)
    n1, n2, n3, n4 = n[1], n[2], n[3], n[4]
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    # Each D_k must lie strictly inside (0, k) or seen n-grams lose all their mass.
    if not all(0 < dk < k for k, dk in enumerate(d, start=1)):
        return FALLBACK_DISCOUNTS
    return d


def _adjusted_counts(raw: list[Counter], order: int) -> list[Counter]:
    """Raw counts at the top order; continuation counts below, raw for ``<s>``-initial n-grams."""
    adjusted = [Counter() for _ in range(order)]
    adjusted[order - 1] = raw[order - 1]
    for k in range(order - 2, -1, -1):  # k indexes order k + 1
        cont = adjusted[k]
        for gram in raw[k + 1]:
            cont[gram[1:]] += 1
        for gram, count in raw[k].items():
            if gram[0] == _BOS_ID:
                cont[gram] = count
    # <s> is never predicted, so it is no part of the unigram distribution.
    adjusted[0].pop((_BOS_ID,), None)
    return adjusted


def estimate_ngram_lm(
    sentences: Iterable[Sequence[str]], order: int = 3, vocabulary: Iterable[str] = ()
) -> NGramLM:
    """Estimate an interpolated modified Kneser-Ney model from tokenised sentences.

    Args:
        sentences: each a sequence of words (already normalised, no ``<s>``/``</s>``).
        order: n-gram order (>= 1).
        vocabulary: more words the model predicts though no sentence has them.  Unseen, each
            gets only the uniform share of the unigram level, as ``<unk>`` does: far below any
            seen word, so a decoder writes one only where the audio outweighs that.  Listing
            them keeps the distributions summing to one over what a lexicon can write, and lets
            :meth:`NGramLM.break_ties` order their homophones.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    words = [BOS, EOS, UNK]
    index = {w: i for i, w in enumerate(words)}

    def word_id(word: str, source: str) -> int:
        if word in (BOS, EOS):
            raise ValueError(f"{source} may not contain the reserved word {word!r}")
        if word not in index:
            index[word] = len(words)
            words.append(word)
        return index[word]

    raw = [Counter() for _ in range(order)]
    n_sentences = 0
    for sentence in sentences:
        if not sentence:
            continue  # empty transcripts would only inflate P(</s> | <s>)
        ids = [_BOS_ID, *(word_id(word, "training text") for word in sentence), _EOS_ID]
        n_sentences += 1
        for k in range(order):
            for i in range(len(ids) - k):
                raw[k][tuple(ids[i : i + k + 1])] += 1
    if n_sentences == 0:
        raise ValueError("cannot estimate an n-gram model from no (non-empty) sentences")
    for word in vocabulary:
        word_id(word, "the vocabulary")

    adjusted = _adjusted_counts(raw, order)
    discounts = [modified_kn_discounts(adjusted[k].values()) for k in range(order)]
    probs: list[dict[NGram, float]] = [{} for _ in range(order)]  # natural probabilities
    gammas: list[dict[NGram, float]] = [{} for _ in range(order)]  # back-off weight per context

    # Unigrams: discounted continuation counts interpolated with the uniform distribution
    # over every predictable word (all but <s>; <unk> included).
    d1 = discounts[0]
    total = sum(adjusted[0].values())
    vocab = len(words) - 1
    freed = sum(d1[min(c, 3) - 1] for c in adjusted[0].values()) / total
    for wid in range(len(words)):
        if wid != _BOS_ID:
            count = adjusted[0].get((wid,), 0)
            seen = (count - d1[min(count, 3) - 1]) / total if count else 0.0
            probs[0][(wid,)] = seen + freed / vocab

    for k in range(1, order):
        dk = discounts[k]
        # Per context h: total count a(h.) and discounted mass sum_w D(a(hw)).
        totals: dict[NGram, int] = Counter()
        mass: dict[NGram, float] = Counter()
        for gram, count in adjusted[k].items():
            totals[gram[:-1]] += count
            mass[gram[:-1]] += dk[min(count, 3) - 1]
        gamma = {h: mass[h] / totals[h] for h in totals}
        gammas[k - 1] = gamma
        lower = probs[k - 1]
        for gram, count in adjusted[k].items():
            h = gram[:-1]
            # gram[1:] is listed one order down: every suffix of a seen n-gram is seen.
            probs[k][gram] = (count - dk[min(count, 3) - 1]) / totals[h] + gamma[h] * lower[gram[1:]]

    log10_probs = [{g: math.log10(p) for g, p in level.items()} for level in probs]
    log10_probs[0] = {(_BOS_ID,): _BOS_LOG10_PROB, **log10_probs[0]}
    log10_backoffs = [{g: math.log10(w) for g, w in level.items()} for level in gammas]
    return NGramLM(order, words, log10_probs, log10_backoffs, discounts)


def write_arpa(sentences: Iterable[Sequence[str]], path: str | Path, order: int = 3) -> Path:
    """Estimate a Kneser-Ney model from ``sentences`` and write it to ``path`` as ARPA."""
    return estimate_ngram_lm(sentences, order).write_arpa(path)


def word_spelling(word: str, tokenizer: Tokenizer, sil_token: str = "|") -> list[str] | None:
    """Flashlight spelling of ``word`` in ``tokenizer`` tokens, or None if it cannot be spelled.

    The letters, phonemes or SentencePiece pieces, then ``sil_token``: flashlight ends a word
    only at that boundary, so the word's last token may span frames before it (CTC repeats).
    """
    if not word or any(ch.isspace() for ch in word) or word in (BOS, EOS, UNK):
        return None
    if tokenizer.unknown_symbols(word):
        return None
    ids = tokenizer.encode(word)
    if not ids:
        return None
    spelling = [tokenizer.tokens[i] for i in ids]
    if tokenizer.kind in BOUNDARY_KINDS and " " in spelling:
        return None  # normalisation split the word; it is not one lexicon entry
    return spelling + [sil_token]


def write_lexicon(
    words: Iterable[str], tokenizer: Tokenizer, path: str | Path, sil_token: str = "|"
) -> int:
    """Write a flashlight lexicon (``word<TAB>t1 t2 ...`` per line); returns the words written.

    Words the tokenizer cannot spell (unknown symbols, reserved names) are skipped.
    ``<unk>`` is not written: flashlight adds it to the word dictionary itself.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as f:
        for word in sorted(set(words)):
            spelling = word_spelling(word, tokenizer, sil_token)
            if spelling is None:
                continue
            f.write(f"{word}\t{' '.join(spelling)}\n")
            if tokenizer.kind not in BOUNDARY_KINDS:
                # No boundary token in the targets: the next word may follow with no blank
                # between, so the word may also end on its last piece (flashlight takes both).
                f.write(f"{word}\t{' '.join(spelling[:-1])}\n")
            written += 1
    return written


def homophone_ranks(
    words: Iterable[str], tokenizer: Tokenizer, sil_token: str = "|", unseen: Iterable[str] = ()
) -> dict[str, int]:
    """Each spellable word's place among the words spelt the same in ``tokenizer``'s tokens.

    0 for the word of a spelling most frequent in ``words`` (ties: alphabetically first), 1
    for the next, and so on; ``unseen`` words (count 0) after every word of ``words``.
    Homophones (a phoneme lexicon's "son" and "sun") score exactly alike in the beam search
    wherever the LM cannot tell them apart, and flashlight breaks exact ties by where its
    states lie in memory, which varies from run to run: the ranks make the choice the same
    every time (:meth:`NGramLM.break_ties`; without an LM only rank 0 enters the lexicon).
    """
    counts = Counter(words)
    for word in unseen:
        counts.setdefault(word, 0)
    groups: dict[tuple[str, ...], list[str]] = {}
    for word in counts:
        spelling = word_spelling(word, tokenizer, sil_token)
        if spelling is not None:
            groups.setdefault(tuple(spelling), []).append(word)
    return {word: rank for group in groups.values()
            for rank, word in enumerate(sorted(group, key=lambda w: (-counts[w], w)))}
