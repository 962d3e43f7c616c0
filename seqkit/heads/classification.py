"""Classification head: pooling over time, dropout, a linear layer to class logits."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit.heads.pooling import PoolingMode, SequencePooling


class ClassificationHead(nn.Module):
    def __init__(
        self,
        input_size: int,
        num_classes: int,
        pooling: PoolingMode = "mean",
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        class_weights: list[float] | None = None,
        bidirectional: bool = True,
    ) -> None:
        """``bidirectional`` says how to split the encoder output for ``last`` pooling (set by the task)."""
        super().__init__()
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"class_weights has {len(class_weights)} entries for {num_classes} classes")
        self.pool = SequencePooling(input_size, pooling, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(input_size, num_classes)
        self.label_smoothing = label_smoothing
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, encoded: Tensor, lengths: Tensor) -> Tensor:
        # encoded: (B, T, D), lengths: (B,) -> logits (B, C) in fp32
        logits = self.proj(self.dropout(self.pool(encoded, lengths)))
        return logits.float()

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy over the batch, in fp32 (softmax over all classes)."""
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return F.cross_entropy(
                logits.float(), labels, weight=self.class_weights, label_smoothing=self.label_smoothing
            )
