"""Character vocabulary for language modelling: every character of the training text, as is.

Unlike :class:`~seqkit.data.tokenizer.CharTokenizer` (CTC transcripts) nothing is
normalised -- case, punctuation and newlines are what a character LM learns to predict --
and no id is reserved: id ``i`` is the ``i``-th character in code-point order.  It travels
inside the checkpoint as plain data (:meth:`state`), never pickled.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class CharVocabulary:
    kind = "char_lm"

    def __init__(self, tokens: list[str]) -> None:
        if not tokens or any(len(t) != 1 for t in tokens) or tokens != sorted(set(tokens)):
            raise ValueError("tokens must be distinct single characters in code-point order")
        self.tokens = list(tokens)
        self._code_points = _code_points("".join(tokens))  # sorted, for searchsorted

    @classmethod
    def fit(cls, text: str) -> "CharVocabulary":
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, where: str = "text") -> Tensor:
        """Ids of ``text`` as a (len(text),) int64 tensor; an unknown character is an error naming it."""
        points = _code_points(text)
        ids = np.minimum(np.searchsorted(self._code_points, points), len(self.tokens) - 1)
        unknown = np.flatnonzero(self._code_points[ids] != points)
        if unknown.size:
            offset = int(unknown[0])
            char = text[offset]
            raise ValueError(
                f"{where}: character {char!r} (U+{ord(char):04X}) at offset {offset} is not in the vocabulary "
                f"({self.vocab_size} characters of the training text)"
            )
        return torch.from_numpy(ids.astype(np.int64))

    def decode(self, ids) -> str:
        return "".join(self.tokens[int(i)] for i in ids)

    def state(self) -> dict:
        return {"kind": self.kind, "tokens": list(self.tokens)}

    @classmethod
    def from_state(cls, state: dict) -> "CharVocabulary":
        if state.get("kind") != cls.kind:
            raise ValueError(f"not a character LM vocabulary (kind {state.get('kind')!r}, expected {cls.kind!r})")
        return cls(list(state["tokens"]))
