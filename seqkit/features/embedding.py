"""Token embeddings: the feature extractor of text tasks.

``(B, T) int64 ids, (B,) -> (B, T, E), (B,)``, padded steps zeroed.  ``input_size`` is the
vocabulary size; 0 means "the data module's", set by the task.

``pretrained``: a vectors file in GloVe or word2vec text format (``word v1 ... vE`` a line;
a word2vec ``count dim`` header line is skipped).  Before training the task hands the
vocabulary to :meth:`load_pretrained`, which copies the vector of every word found (exact,
else lower-cased), leaves the others at their random start, and reports the coverage.
``freeze`` keeps the embedding fixed during training.

``word_dropout``: in training, each token's whole vector is zeroed with this probability
(Gal & Ghahramani 2016), so a classifier cannot lean on a few words it has memorised;
``dropout`` drops single values of the vectors that remain.

``char_ngrams`` (e.g. ``[3, 4, 5]``): each word's vector is the mean of its own vector and
those of its character n-grams shared with other vocabulary words
(:mod:`seqkit.features.subword`, fastText's subword vectors), so rare words borrow from
the words they resemble.  The n-gram table follows from the vocabulary, which the task
hands over (:meth:`set_vocabulary`) and the checkpoint keeps.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from seqkit.data.paths import expand_data_path
from seqkit.features.subword import shared_ngram_table
from seqkit.masking import padding_mask

log = logging.getLogger(__name__)


def _is_special(word: str) -> bool:
    """``<pad>``, ``<unk>`` and the like: tokens, not words of the text."""
    return word.startswith("<") and word.endswith(">")


class TokenEmbedding(nn.Module):
    def __init__(
        self, input_size: int = 0, embedding_dim: int = 128, dropout: float = 0.0,
        pretrained: str | None = None, freeze: bool = False, word_dropout: float = 0.0,
        char_ngrams: list[int] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {word_dropout}")
        self.output_size = embedding_dim
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        self.pretrained = pretrained
        self.freeze = freeze
        self.char_ngrams = list(char_ngrams) if char_ngrams else []
        self.ngram_embedding: nn.Embedding | None = None
        self.set_input_size(input_size)

    def set_input_size(self, input_size: int) -> None:
        self.input_size = input_size
        # Built once the vocabulary size is known.
        self.embedding = nn.Embedding(input_size, self.output_size) if input_size > 0 else None
        if self.embedding is not None:
            self.embedding.weight.requires_grad_(not self.freeze)

    def set_vocabulary(self, vocabulary: list[str]) -> None:
        """Build the character n-gram table of ``vocabulary`` (index = id), when ``char_ngrams`` is set."""
        if not self.char_ngrams:
            return
        if len(vocabulary) != self.input_size:
            raise ValueError(f"the vocabulary has {len(vocabulary)} words, the embedding {self.input_size} rows")
        specials = {w for w in vocabulary if _is_special(w)}
        table, counts, ngrams = shared_ngram_table(vocabulary, self.char_ngrams, skip=specials)
        self.register_buffer("ngram_table", table, persistent=False)  # (V, K), 0 = none
        self.register_buffer("ngram_counts", counts, persistent=False)  # (V,)
        self.ngram_embedding = nn.Embedding(ngrams, self.output_size, padding_idx=0)
        self.ngram_embedding.weight.requires_grad_(not self.freeze)

    def _word_vectors(self, ids: Tensor) -> Tensor:
        # ids: (B, T) -> (B, T, E)
        vectors = self.embedding(ids)
        if not self.char_ngrams:
            return vectors
        if self.ngram_embedding is None:
            raise RuntimeError("TokenEmbedding(char_ngrams=...) needs the vocabulary: the task hands it over")
        grams = self.ngram_table[ids].flatten(0, 1)  # (B*T, K)
        summed = nn.functional.embedding_bag(grams, self.ngram_embedding.weight, mode="sum", padding_idx=0)
        count = self.ngram_counts[ids].unsqueeze(-1).to(vectors.dtype)  # (B, T, 1)
        return (vectors + summed.view_as(vectors)) / (1 + count)

    def load_pretrained(self, vocabulary: list[str]) -> dict:
        """Copy the vectors of ``vocabulary``'s words from the ``pretrained`` file; return the coverage."""
        if self.pretrained is None:
            return {}
        if self.embedding is None or len(vocabulary) != self.input_size:
            raise ValueError(f"the vocabulary has {len(vocabulary)} words, the embedding {self.input_size} rows")
        path = Path(expand_data_path(self.pretrained))
        wanted = {word: i for i, word in enumerate(vocabulary)}
        lowered: dict[str, list[int]] = {}
        for i, word in enumerate(vocabulary):
            lowered.setdefault(word.lower(), []).append(i)
        found: dict[int, Tensor] = {}
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.rstrip().split(" ")
                if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                    continue  # word2vec header: count and dimension
                word, values = fields[0], fields[1:]
                rows = [wanted[word]] if word in wanted else [i for i in lowered.get(word.lower(), []) if i not in found]
                if not rows:
                    continue
                if len(values) != self.output_size:
                    raise ValueError(f"{path}:{number}: {len(values)} values for {word!r}, the embedding has {self.output_size}")
                try:
                    vector = torch.tensor([float(v) for v in values])
                except ValueError:
                    raise ValueError(f"{path}:{number}: a value of {word!r} is not a number") from None
                for row in rows:
                    if row not in found or word in wanted:  # an exact match beats a lower-cased one
                        found[row] = vector
        with torch.no_grad():
            for row, vector in found.items():
                self.embedding.weight[row] = vector
        words = len(vocabulary) - sum(1 for w in vocabulary if _is_special(w))
        covered = sum(1 for row in found if not _is_special(vocabulary[row]))
        report = {"words": words, "found": covered, "coverage": covered / max(1, words), "file": str(path)}
        log.info("pretrained vectors %s: %d of %d vocabulary words found (%.1f%%)", path, covered, words, 100 * report["coverage"])
        return report

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # ids: (B, T), lengths: (B,) -> (B, T, E), (B,)
        if self.embedding is None:
            raise RuntimeError("TokenEmbedding has no vocabulary size: the task sets it from the data module")
        vectors = self.dropout(self._word_vectors(ids))
        keep = padding_mask(lengths, ids.shape[1])  # (B, T)
        if self.training and self.word_dropout > 0:
            keep = keep & (torch.rand(ids.shape, device=ids.device) >= self.word_dropout)
        return vectors * keep.unsqueeze(-1).to(vectors.dtype), lengths
