"""Token embeddings: the feature extractor of text tasks.

``(B, T) int64 ids, (B,) -> (B, T, E), (B,)``, padded steps zeroed.  ``input_size`` is the
vocabulary size; 0 means "the data module's", set by the task.
"""

from __future__ import annotations

from torch import Tensor, nn

from seqkit.masking import padding_mask


class TokenEmbedding(nn.Module):
    def __init__(self, input_size: int = 0, embedding_dim: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.output_size = embedding_dim
        self.dropout = nn.Dropout(dropout)
        self.set_input_size(input_size)

    def set_input_size(self, input_size: int) -> None:
        self.input_size = input_size
        # Built once the vocabulary size is known.
        self.embedding = nn.Embedding(input_size, self.output_size) if input_size > 0 else None

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # ids: (B, T), lengths: (B,) -> (B, T, E), (B,)
        if self.embedding is None:
            raise RuntimeError("TokenEmbedding has no vocabulary size: the task sets it from the data module")
        vectors = self.dropout(self.embedding(ids))
        return vectors * padding_mask(lengths, ids.shape[1]).unsqueeze(-1).to(vectors.dtype), lengths
