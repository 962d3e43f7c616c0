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


# Frames per chunk of the scan.  Within a chunk the log-space scan is exact to ~C * 1e-7
# relative (fp32); across chunks the state is carried by a plain loop (T / C steps), which
# has no cancellation.  One scan over all T frames would lose ~T * 1e-7 (1e-4 at 1000
# frames); a float64 scan instead cost 30% more time on an H200 (4 x 320 BiMinGRU, 800 frames).
SCAN_CHUNK = 64


def linear_recurrence(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t h_{t-1} + b_t for every t at once, from log a and log b: (B, T, H) -> (B, T, H).

    h_{-1} = ``h0`` (B, 1, H), or 0.  Runs in the inputs' dtype (fp32 under autocast too).
    """
    if torch.jit.is_tracing():  # ONNX/TorchScript export: the loop below would be unrolled for one T
        return traceable_linear_recurrence(log_a, log_b, h0)
    batch, frames, hidden = log_a.shape
    chunks = -(-frames // SCAN_CHUNK)
    pad = chunks * SCAN_CHUNK - frames
    if pad:  # a_t = 1, b_t ~ 0 after the end: later frames never reach earlier ones
        log_a = F.pad(log_a, (0, 0, 0, pad))
        log_b = F.pad(log_b, (0, 0, 0, pad), value=-1e4)
    log_a = log_a.view(batch, chunks, SCAN_CHUNK, hidden)
    log_b = log_b.view(batch, chunks, SCAN_CHUNK, hidden)
    a_star = torch.cumsum(log_a, dim=2)  # log prod of a within the chunk, up to t
    local = (a_star + torch.logcumsumexp(log_b - a_star, dim=2)).exp()  # h_t from a zero start
    decay = a_star.exp()  # what remains of the chunk's start state at t
    carry = log_a.new_zeros(batch, hidden) if h0 is None else h0[:, 0].to(log_a.dtype)
    starts = []
    for k in range(chunks):  # T / C sequential steps on (B, H)
        starts.append(carry)
        carry = local[:, k, -1] + decay[:, k, -1] * carry
    h = local + decay * torch.stack(starts, dim=1).unsqueeze(2)
    return h.view(batch, chunks * SCAN_CHUNK, hidden)[:, :frames]


# Frames per block of the traceable recurrence: it builds (B, T/C, C, C, H) weights.
TRACE_CHUNK = 16


def _weighted_prefix_sum(log_a: Tensor, values: Tensor, strict: bool) -> Tensor:
    """sum_{s<=t} exp(A_t - A_s) values_s along dim 1, A = cumsum(log_a): (B, N, ..., H) -> same.

    (s<t with ``strict``, with A_{t-1} in place of A_t.)  Written as a masked (N x N)
    weighting, not a loop or a log-space scan: the weights are exp of a difference that is
    <= 0 on the kept triangle, so nothing overflows, and the graph holds no loop.
    """
    cum = torch.cumsum(log_a, dim=1)  # (B, N, ..., H)
    steps = torch.arange(log_a.shape[1], device=log_a.device)
    keep = steps.unsqueeze(1) > steps.unsqueeze(0) if strict else steps.unsqueeze(1) >= steps.unsqueeze(0)  # (N_t, N_s)
    end = cum - log_a if strict else cum  # A_{t-1} (strict) or A_t
    exponent = end.unsqueeze(2) - cum.unsqueeze(1)  # (B, N_t, N_s, ..., H)
    keep = keep.view(keep.shape + (1,) * (exponent.ndim - 3))
    weights = exponent.masked_fill(~keep, float("-inf")).exp()
    return (weights * values.unsqueeze(1)).sum(dim=2)


def traceable_linear_recurrence(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """:func:`linear_recurrence` with no Python loop over T, for ``torch.jit.trace`` / ONNX export.

    Two levels: within blocks of ``TRACE_CHUNK`` frames, then across blocks for the block
    start states.  Same values within fp32 rounding (the export tests check 1e-4).
    """
    batch, frames, hidden = log_a.shape
    pad = (-frames) % TRACE_CHUNK
    log_a = F.pad(log_a, (0, 0, 0, pad))  # a_t = 1, b_t = 0 after the end
    log_b = F.pad(log_b, (0, 0, 0, pad), value=-1e4)
    blocks = (frames + pad) // TRACE_CHUNK
    log_a = log_a.view(batch, blocks, TRACE_CHUNK, hidden).transpose(1, 2)  # (B, C, K, H): time in dim 1
    log_b = log_b.view(batch, blocks, TRACE_CHUNK, hidden).transpose(1, 2)
    local = _weighted_prefix_sum(log_a, log_b.exp(), strict=False)  # (B, C, K, H): h_t from a zero start
    decay = torch.cumsum(log_a, dim=1)  # (B, C, K, H): log of what remains of the block's start state
    block_decay, block_end = decay[:, -1], local[:, -1]  # (B, K, H)
    # Across blocks in float64: the sums of log decays grow with T, and their fp32 rounding with them.
    block_decay, block_end = block_decay.double(), block_end.double()
    starts = _weighted_prefix_sum(block_decay, block_end, strict=True)  # (B, K, H): state entering block k
    if h0 is not None:  # h0: (B, 1, H), decayed by every earlier block
        starts = starts + (torch.cumsum(block_decay, dim=1) - block_decay).exp() * h0.double()
    starts = starts.to(log_a.dtype)
    h = local + decay.exp() * starts.unsqueeze(1)  # (B, C, K, H)
    return h.transpose(1, 2).reshape(batch, blocks * TRACE_CHUNK, hidden)[:, :frames]


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
