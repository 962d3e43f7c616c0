"""Recurrent encoder and frame stacking: padding never leaks, lengths, and the Elman recurrence."""

from __future__ import annotations

import itertools

import pytest
import torch

from seqkit.encoders.rnn import RNNEncoder, reverse_padded
from seqkit.encoders.subsampling import FrameStacking



pytestmark = pytest.mark.usefixtures("one_thread")


FEATS = 5
HIDDEN = 6

# (layer_norm, projection_size) between layers; num_layers=2 so the glue is actually used.
GLUE = [(False, None), (True, None), (False, 4), (True, 4)]
CONFIGS = [
    pytest.param(cell, bidirectional, stack, layer_norm, projection, id=f"{cell}-bi{int(bidirectional)}-k{stack}-ln{int(layer_norm)}-p{projection}")
    for cell, bidirectional, stack, (layer_norm, projection) in itertools.product(
        ["rnn", "lstm", "gru", "mingru"], [True, False], [1, 3], GLUE
    )
    # All glue variants for stack 1; stack 3 with the plain and the full glue only (keeps it fast).
    if stack == 1 or (layer_norm, projection) in [(False, None), (True, 4)]
]


def _padded_batch(lengths: list[int], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (B, T, F) features, zero past each length (as the feature front end delivers them)."""
    batch = torch.zeros(len(lengths), max(lengths), FEATS)
    for b, n in enumerate(lengths):
        batch[b, :n] = torch.randn(n, FEATS, generator=generator)
    return batch, torch.tensor(lengths)


def _encoder(cell: str, bidirectional: bool, stack: int, layer_norm: bool, projection: int | None) -> RNNEncoder:
    torch.manual_seed(0)
    encoder = RNNEncoder(
        FEATS,
        cell=cell,
        hidden_size=HIDDEN,
        num_layers=2,
        bidirectional=bidirectional,
        dropout=0.5,  # eval mode must switch it off, or alone != batched
        stack_frames=stack,
        layer_norm=layer_norm,
        projection_size=projection,
    )
    return encoder.eval()


@pytest.mark.parametrize(("cell", "bidirectional", "stack", "layer_norm", "projection"), CONFIGS)
def test_padding_never_leaks(cell, bidirectional, stack, layer_norm, projection) -> None:
    encoder = _encoder(cell, bidirectional, stack, layer_norm, projection)
    generator = torch.Generator().manual_seed(1)
    lengths = [17, 4, 11, 1, 16]  # not multiples of 3: the last stack is partly padded
    feats, lens = _padded_batch(lengths, generator)
    with torch.no_grad():
        out, out_lens = encoder(feats, lens)
        expected_lens = [-(-n // stack) for n in lengths]  # ceil(n / k)
        assert out_lens.tolist() == expected_lens
        assert out.shape == (len(lengths), max(expected_lens), encoder.output_size)
        # The projection sits between layers only: the last layer's output is never projected.
        assert encoder.output_size == HIDDEN * (2 if bidirectional else 1)
        for b, n in enumerate(lengths):
            alone, alone_len = encoder(feats[b : b + 1, :n], lens[b : b + 1])
            assert alone_len.item() == expected_lens[b]
            assert alone.shape[1] == expected_lens[b]
            torch.testing.assert_close(out[b, : expected_lens[b]], alone[0], atol=1e-5, rtol=0)
            # Padded output frames are exactly zero.
            assert torch.all(out[b, expected_lens[b] :] == 0)
        # Outputs are not trivially zero.
        assert out[0, : expected_lens[0]].abs().sum() > 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru"])
def test_garbage_padding_does_not_leak_without_stacking(cell) -> None:
    """With stack_frames=1 even non-zero padding cannot reach valid frames, in either direction."""
    encoder = _encoder(cell, True, 1, True, 4)
    generator = torch.Generator().manual_seed(2)
    feats, lens = _padded_batch([9, 3, 6], generator)
    noisy = feats.clone()
    for b, n in enumerate(lens.tolist()):
        noisy[b, n:] = 100 * torch.randn(noisy.shape[1] - n, FEATS, generator=generator)
    with torch.no_grad():
        clean_out, _ = encoder(feats, lens)
        noisy_out, _ = encoder(noisy, lens)
    torch.testing.assert_close(noisy_out, clean_out, atol=1e-5, rtol=0)


def test_bidirectional_output_depends_on_future_frames() -> None:
    """Sanity check that the leak test could fail: the backward direction sees later frames."""
    encoder = _encoder("gru", True, 1, False, None)
    generator = torch.Generator().manual_seed(3)
    feats, lens = _padded_batch([8], generator)
    changed = feats.clone()
    changed[0, 7] += 1.0
    with torch.no_grad():
        a, _ = encoder(feats, lens)
        b, _ = encoder(changed, lens)
    assert (a[0, 0] - b[0, 0]).abs().max() > 1e-4  # frame 0 feels frame 7 via the backward RNN


def test_output_lengths_matches_stacking() -> None:
    encoder = RNNEncoder(FEATS, cell="gru", hidden_size=HIDDEN, num_layers=1, stack_frames=4)
    lengths = torch.tensor([0, 1, 3, 4, 5, 8, 9])
    assert encoder.subsampling == 4
    assert encoder.output_lengths(lengths).tolist() == [0, 1, 1, 1, 2, 2, 3]


def test_frame_stacking_concatenates_consecutive_frames() -> None:
    x = torch.arange(2 * 7 * 2, dtype=torch.float32).reshape(2, 7, 2)
    x[1, 5:] = 0  # second sequence has length 5
    stacked, lengths = FrameStacking(2, 3)(x, torch.tensor([7, 5]))
    assert stacked.shape == (2, 3, 6)
    assert lengths.tolist() == [3, 2]
    torch.testing.assert_close(stacked[0, 0], x[0, 0:3].reshape(-1))
    torch.testing.assert_close(stacked[0, 1], x[0, 3:6].reshape(-1))
    # The last stack of the first sequence holds frame 6 then zero padding.
    torch.testing.assert_close(stacked[0, 2], torch.cat([x[0, 6], torch.zeros(4)]))
    with pytest.raises(ValueError):
        FrameStacking(2, 0)


def test_reverse_padded_is_an_involution_within_lengths() -> None:
    generator = torch.Generator().manual_seed(4)
    lengths = torch.tensor([5, 0, 1, 3])
    x = torch.randn(4, 5, 2, generator=generator)
    rev = reverse_padded(x, lengths)
    torch.testing.assert_close(reverse_padded(rev, lengths), x, atol=0, rtol=0)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(rev[b, :n], x[b, :n].flip(0), atol=0, rtol=0)
        torch.testing.assert_close(rev[b, n:], x[b, n:], atol=0, rtol=0)  # padding stays in place
    assert not torch.equal(rev, x)


def _elman(x: torch.Tensor, rnn: torch.nn.RNN) -> torch.Tensor:
    """h_t = tanh(W x_t + U h_{t-1} + b) written out by hand.  x: (T, F) -> (T, H)"""
    w, u = rnn.weight_ih_l0, rnn.weight_hh_l0
    bias = rnn.bias_ih_l0 + rnn.bias_hh_l0
    h = torch.zeros(rnn.hidden_size)
    out = []
    for x_t in x:
        h = torch.tanh(w @ x_t + u @ h + bias)
        out.append(h)
    return torch.stack(out)


def test_elman_cell_matches_hand_written_loop() -> None:
    torch.manual_seed(5)
    encoder = RNNEncoder(FEATS, cell="rnn", hidden_size=HIDDEN, num_layers=1, bidirectional=False).eval()
    rnn = encoder.layers[0].forward_rnn
    assert isinstance(rnn, torch.nn.RNN) and rnn.nonlinearity == "tanh"
    generator = torch.Generator().manual_seed(6)
    feats, lens = _padded_batch([7, 4], generator)
    with torch.no_grad():
        out, _ = encoder(feats, lens)
        for b, n in enumerate(lens.tolist()):
            torch.testing.assert_close(out[b, :n], _elman(feats[b, :n], rnn), atol=1e-5, rtol=0)


def test_bidirectional_elman_backward_half_runs_on_reversed_sequence() -> None:
    torch.manual_seed(7)
    encoder = RNNEncoder(FEATS, cell="rnn", hidden_size=HIDDEN, num_layers=1, bidirectional=True).eval()
    layer = encoder.layers[0]
    generator = torch.Generator().manual_seed(8)
    feats, lens = _padded_batch([6, 3], generator)
    with torch.no_grad():
        out, _ = encoder(feats, lens)
        assert out.shape[-1] == 2 * HIDDEN
        for b, n in enumerate(lens.tolist()):
            x = feats[b, :n]
            torch.testing.assert_close(out[b, :n, :HIDDEN], _elman(x, layer.forward_rnn), atol=1e-5, rtol=0)
            backward = _elman(x.flip(0), layer.backward_rnn).flip(0)
            torch.testing.assert_close(out[b, :n, HIDDEN:], backward, atol=1e-5, rtol=0)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="cell"):
        RNNEncoder(FEATS, cell="transformer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_layers"):
        RNNEncoder(FEATS, num_layers=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_every_cell_runs_and_trains_under_cpu_bf16_autocast(cell, bidirectional) -> None:
    """CPU autocast alone leaves an LSTM's input in fp32 beside bf16 weights, which oneDNN rejects."""
    encoder = RNNEncoder(FEATS, cell=cell, hidden_size=HIDDEN, num_layers=2, bidirectional=bidirectional)
    feats, lens = _padded_batch([9, 4], torch.Generator().manual_seed(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = encoder(feats, lens)
    out.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)
    assert encoder.layers[0].forward_rnn.state_dict()  # weights exist and were used


def test_a_tapped_layer_is_that_layers_own_output_and_leaves_the_final_one_alone() -> None:
    encoder = _encoder("lstm", True, 2, True, 4)  # LayerNorm + projection glue: the tap is taken before it
    generator = torch.Generator().manual_seed(5)
    feats, lens = _padded_batch([9, 4, 7], generator)
    with torch.no_grad():
        plain, plain_lens = encoder(feats, lens)
        final, out_lens, tapped = encoder(feats, lens, tap_layer=1)
        stacked, stacked_lens = encoder.subsampler(feats, lens)
        first = encoder.layers[0](stacked, stacked_lens)  # (B, T', 2H)
    torch.testing.assert_close(final, plain, atol=0, rtol=0)
    assert out_lens.tolist() == plain_lens.tolist() == [5, 2, 4]
    assert tapped.shape == (3, 5, 2 * HIDDEN)
    for b, n in enumerate(out_lens.tolist()):
        torch.testing.assert_close(tapped[b, :n], first[b, :n], atol=0, rtol=0)
        assert torch.all(tapped[b, n:] == 0)  # padded frames zero, as the final output's
    for bad in (0, 2):
        with pytest.raises(ValueError, match="tap_layer must be 1 .. 1"):
            encoder(feats, lens, tap_layer=bad)
