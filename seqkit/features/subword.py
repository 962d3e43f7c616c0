"""Character n-grams of a word vocabulary, as fastText builds word vectors (Bojanowski et al. 2017).

A word's subword vector is the mean of the vectors of its character n-grams, taken from
the word wrapped in ``<`` and ``>`` (so prefixes and suffixes are n-grams of their own:
``<un``, ``ing>``).  Words that share n-grams share parameters, which is what helps a
model trained on little text: a word seen once in training ("unwatchable") is read
through n-grams that other words taught ("<un", "watch", "able>").

Only n-grams found in two or more vocabulary words are kept: one found in a single word
says nothing that the word's own vector does not, and exact n-grams need no hashing (no
collisions, and the table follows from the vocabulary alone, which the checkpoint keeps).
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import Tensor


def char_ngrams(word: str, sizes: list[int]) -> list[str]:
    """The distinct character n-grams of ``<word>`` for each n in ``sizes``, in order of appearance."""
    wrapped = f"<{word}>"
    grams: dict[str, None] = {}
    for n in sizes:
        for start in range(len(wrapped) - n + 1):
            grams[wrapped[start : start + n]] = None
    return list(grams)


def shared_ngram_table(words: list[str], sizes: list[int], skip: set[str] = frozenset()) -> tuple[Tensor, Tensor, int]:
    """Each word's n-grams that at least one other word has too.

    Returns ``table`` (V, K) int64 n-gram ids, 0 for none (id 0 is padding, so n-grams
    count from 1); ``counts`` (V,) how many each word has; and the number of n-gram ids
    (largest id + 1).  Words in ``skip`` (``<pad>``, ``<unk>``) get none.
    """
    if not sizes or min(sizes) < 1:
        raise ValueError(f"n-gram sizes must be positive, got {sizes}")
    per_word = [[] if word in skip else char_ngrams(word, sizes) for word in words]
    in_words = Counter(gram for grams in per_word for gram in grams)
    index: dict[str, int] = {}
    for gram in sorted(g for g, c in in_words.items() if c >= 2):
        index[gram] = len(index) + 1
    kept = [[index[g] for g in grams if g in index] for grams in per_word]
    width = max((len(k) for k in kept), default=0)
    table = torch.zeros(len(words), max(1, width), dtype=torch.long)
    for row, ids in enumerate(kept):
        table[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    counts = torch.tensor([len(k) for k in kept], dtype=torch.long)
    return table, counts, len(index) + 1
