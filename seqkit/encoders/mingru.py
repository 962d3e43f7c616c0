"""minGRU: a gated recurrent cell that trains in parallel over time.

Feng et al. (2024), "Were RNNs All We Needed?": drop the hidden state from the gates,

    z_t  = sigmoid(W_z x_t + b_z)            update gate, from the input alone
    h~_t = g(W_h x_t + b_h)                  candidate, g(v) = v + 1/2 if v >= 0 else sigmoid(v)
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

and the recurrence becomes *linear* in h: h_t = a_t h_{t-1} + b_t with a_t, b_t known for
every t up front.  Its solution h_t = sum_{s<=t} (prod_{s<r<=t} a_r) b_s is a prefix sum,
computed for all t at once in log space (Heinsen 2023, "Efficient Parallelization of a
Ubiquitous Sequential Computation"):

    log h_t = A_t + logcumsumexp_s(log b_s - A_s),   A_t = cumsum(log a_t)

So one layer is a matrix product plus two scans over time instead of T dependent steps,
which is what makes it fast on a GPU.  g keeps h~ > 0, so log b is defined.  The gates
still saturate (the "gated" remedy for vanishing gradients), but no U h_{t-1} product means
no repeated multiplication by one matrix, the root of exploding gradients in an Elman RNN.

The module mimics ``nn.GRU(batch_first=True)`` for one direction and one layer, so
:class:`~seqkit.encoders.rnn.RNNEncoder` stacks it like the cuDNN cells (``cell: mingru``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def log_g(v: Tensor) -> Tensor:
    """log g(v): g(v) = v + 1/2 for v >= 0, sigmoid(v) below; continuous, positive, unbounded."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def linear_recurrence(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t h_{t-1} + b_t for every t at once, from log a and log b: (B, T, H) -> (B, T, H).

    h_{-1} = ``h0`` (B, 1, H), or 0.  The scan runs in float64: A_t is a sum of T logs that
    the log-sum-exp then cancels, and fp32 would lose ~T * 1e-7 of relative precision
    (3e-5 at 300 frames); float64 costs ~1.4x on these two scans only (CPU check), and the
    matrix products, the bulk of the work, stay in the input's precision.
    """
    log_a, log_b = log_a.double(), log_b.double()
    a_star = torch.cumsum(log_a, dim=1)  # log prod_{r<=t} a_r
    h = (a_star + torch.logcumsumexp(log_b - a_star, dim=1)).exp()
    if h0 is not None:
        h = h + a_star.exp() * h0.double()  # added outside the log, so h0 may be 0
    return h


class MinGRU(nn.Module):
    """One direction of one minGRU layer, with the call signature of ``nn.GRU(batch_first=True)``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True) -> None:
        super().__init__()
        if not batch_first:
            raise ValueError("MinGRU takes (B, T, F) input only: batch_first=True")
        self.hidden_size = hidden_size
        self.gate_and_candidate = nn.Linear(input_size, 2 * hidden_size)  # one matmul for both

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x: (B, T, F), h0: (1, B, H) or None (zeros) -> outputs (B, T, H), last state (1, B, H)."""
        projected = self.gate_and_candidate(x)
        # Gates and scan leave autocast: bf16 logs would round the long sums in the scan.
        with torch.autocast(device_type=x.device.type, enabled=False):
            gate, candidate = projected.float().chunk(2, dim=-1)
            log_keep = -F.softplus(gate)  # log(1 - z)
            log_update = -F.softplus(-gate) + log_g(candidate)  # log(z * h~)
            h = linear_recurrence(log_keep, log_update, None if h0 is None else h0.transpose(0, 1))
        out = h.to(projected.dtype)
        return out, out[:, -1:].transpose(0, 1)
