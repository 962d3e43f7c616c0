"""CTC head: a linear layer to the token vocabulary (id 0 = blank), log-softmax and CTC loss in fp32."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class CTCHead(nn.Module):
    def __init__(self, input_size: int, vocab_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(input_size, vocab_size)

    def forward(self, encoded: Tensor) -> Tensor:
        # encoded: (B, T, D) -> log-probabilities (B, T, V) in fp32
        logits = self.proj(self.dropout(encoded))
        # Under mixed precision, log_softmax in half precision loses the blank's tiny mass.
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return logits.float().log_softmax(dim=-1)

    @staticmethod
    def loss(log_probs: Tensor, lengths: Tensor, targets: Tensor, target_lengths: Tensor) -> Tensor:
        """Mean over utterances of the summed CTC loss.

        log_probs: (B, T, V) fp32; lengths: (B,); targets: (sum(target_lengths),) concatenated.
        """
        with torch.autocast(device_type=log_probs.device.type, enabled=False):
            per_utt = F.ctc_loss(
                log_probs.float().transpose(0, 1),  # (T, B, V)
                targets,
                lengths,
                target_lengths,
                blank=0,
                reduction="none",
                # Impossible alignments are caught by the data checks before training; this
                # only keeps a stray one from poisoning the weights with inf.
                zero_infinity=True,
            )
        return per_utt.sum() / log_probs.shape[0]
