"""Word vocabulary for text classification: whitespace tokens counted in the training text.

Id 0 is ``<pad>`` (what padded steps hold), id 1 ``<unk>`` (every word not kept); then the
kept words by falling count, ties in alphabetical order, so the same text always gives the
same ids.  ``min_count`` drops rare words, ``max_size`` caps the vocabulary (specials
included).  It travels inside the checkpoint as plain data (a list of words).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import torch
from torch import Tensor

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


class WordVocabulary:
    def __init__(self, tokens: list[str]) -> None:
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens must start with {PAD!r}, {UNK!r} and be distinct")
        self.tokens = list(tokens)
        self._index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def fit(cls, texts: Iterable[str], min_count: int = 1, max_size: int | None = None) -> "WordVocabulary":
        if min_count < 1:
            raise ValueError("min_count must be >= 1")
        if max_size is not None and max_size < 3:
            raise ValueError("max_size must leave room for <pad>, <unk> and one word")
        counts = Counter(word for text in texts for word in text.split())
        kept = sorted((w for w, c in counts.items() if c >= min_count and w not in (PAD, UNK)), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK, *kept])

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> Tensor:
        """(number of words,) int64 ids; unknown words map to ``<unk>``."""
        return torch.tensor([self._index.get(word, UNK_ID) for word in text.split()], dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.tokens[int(i)] for i in ids if int(i) != PAD_ID)

    def unknown_fraction(self, texts: Iterable[str]) -> float:
        words = [w for text in texts for w in text.split()]
        return sum(w not in self._index for w in words) / max(1, len(words))
