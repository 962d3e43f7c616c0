"""minGRU: the parallel scan equals the step-by-step recurrence, and it trains like a cell."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from seqkit.encoders.mingru import SCAN_CHUNK, TRACE_CHUNK, MinGRU, linear_recurrence, log_g
from seqkit.encoders.rnn import RNNEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


def _step_by_step(cell: MinGRU, x: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """The minGRU recurrence one frame at a time, in float64: the reference."""
    weight = cell.gate_and_candidate.weight.double()
    bias = cell.gate_and_candidate.bias.double()
    gate, candidate = F.linear(x.double(), weight, bias).chunk(2, dim=-1)
    z = torch.sigmoid(gate)
    h_tilde = torch.where(candidate >= 0, candidate + 0.5, torch.sigmoid(candidate))
    h = torch.zeros_like(z[:, 0]) if h0 is None else h0[0].double()
    outputs = []
    for t in range(x.shape[1]):
        h = (1 - z[:, t]) * h + z[:, t] * h_tilde[:, t]
        outputs.append(h)
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("frames", [1, 37, SCAN_CHUNK, SCAN_CHUNK + 1, 800])
@pytest.mark.parametrize("with_h0", [False, True])
def test_parallel_scan_matches_step_by_step_recurrence_in_fp32(frames: int, with_h0: bool) -> None:
    torch.manual_seed(frames)
    cell = MinGRU(12, 9)
    x = 2 * torch.randn(3, frames, 12)  # wide gate range: z near 0 and near 1
    h0 = torch.rand(1, 3, 9) if with_h0 else None
    out, last = cell(x, h0)
    assert out.dtype == torch.float32 and out.shape == (3, frames, 9) and last.shape == (1, 3, 9)
    expected = _step_by_step(cell, x, h0)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(last[0], out[:, -1])


@pytest.mark.parametrize("frames", [1, TRACE_CHUNK + 1, 800])
@pytest.mark.parametrize("with_h0", [False, True])
def test_traced_cell_matches_step_by_step_recurrence_at_every_length(frames: int, with_h0: bool) -> None:
    """Under torch.jit.trace the loop-free recurrence runs, and the trace works at other lengths."""
    torch.manual_seed(frames)
    cell = MinGRU(12, 9).requires_grad_(False)  # traced as constants
    h0 = torch.rand(1, 3, 9) if with_h0 else None
    with torch.no_grad():
        traced = torch.jit.trace(lambda x: cell(x, h0)[0], (torch.randn(3, 5, 12),), check_trace=False)
        x = 2 * torch.randn(3, frames, 12)
        torch.testing.assert_close(traced(x).double(), _step_by_step(cell, x, h0), atol=1e-5, rtol=1e-5)


def test_gradients_match_the_step_by_step_recurrence() -> None:
    torch.manual_seed(1)
    cell = MinGRU(6, 5)
    x = torch.randn(2, 50, 6, requires_grad=True)
    cell(x)[0].square().sum().backward()
    scan_grads = [x.grad.clone(), cell.gate_and_candidate.weight.grad.clone()]
    x.grad = None
    cell.zero_grad()
    _step_by_step(cell, x, None).square().sum().backward()
    torch.testing.assert_close(x.grad, scan_grads[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(cell.gate_and_candidate.weight.grad, scan_grads[1], atol=1e-5, rtol=1e-4)


def test_linear_recurrence_with_a_zero_initial_state_equals_none() -> None:
    log_a = -torch.rand(2, 20, 4)
    log_b = torch.randn(2, 20, 4)
    torch.testing.assert_close(linear_recurrence(log_a, log_b, torch.zeros(2, 1, 4)), linear_recurrence(log_a, log_b))


def test_log_g_is_the_log_of_g() -> None:
    v = torch.linspace(-30, 30, 601, dtype=torch.float64)
    g = torch.where(v >= 0, v + 0.5, torch.sigmoid(v))
    torch.testing.assert_close(log_g(v), g.log())


def test_bf16_autocast_keeps_the_scan_exact_enough_and_trains() -> None:
    torch.manual_seed(2)
    encoder = RNNEncoder(8, cell="mingru", hidden_size=16, num_layers=2, dropout=0.0)
    x = torch.randn(4, 300, 8)
    lengths = torch.tensor([300, 250, 120, 7])
    reference, _ = encoder(x, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = encoder(x, lengths)
    assert out.dtype == torch.bfloat16
    # bf16 matmuls, fp32 scan: errors stay at bf16's input rounding, not T times it.
    assert (out.float() - reference).abs().max() < 0.05
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in encoder.parameters())


def test_batch_first_only() -> None:
    with pytest.raises(ValueError, match="batch_first"):
        MinGRU(3, 4, batch_first=False)
