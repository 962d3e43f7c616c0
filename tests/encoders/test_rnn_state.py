"""RNNEncoder hidden-state carry: two halves with the state carried equal one whole sequence."""

from __future__ import annotations

import pytest
import torch

from seqkit.encoders.rnn import RNNEncoder, detach_state

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru"])
def test_carried_state_continues_the_sequence(cell: str) -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(3, cell=cell, hidden_size=5, num_layers=2, bidirectional=False, layer_norm=True, projection_size=4).eval()
    x = torch.randn(2, 10, 3)
    lengths = torch.tensor([10, 10])
    with torch.no_grad():
        whole, _ = encoder(x, lengths)
        first, _, state = encoder(x[:, :6], torch.tensor([6, 6]), return_state=True)
        second, out_lengths, _ = encoder(x[:, 6:], torch.tensor([4, 4]), state=state, return_state=True)
        restarted, _ = encoder(x[:, 6:], torch.tensor([4, 4]))
    assert len(state) == 2 and out_lengths.tolist() == [4, 4]
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, atol=1e-6, rtol=0)
    assert not torch.allclose(restarted, whole[:, 6:])  # without the state, a fresh start


def test_detach_state_cuts_the_graph() -> None:
    encoder = RNNEncoder(3, cell="lstm", hidden_size=4, num_layers=1, bidirectional=False)
    _, _, state = encoder(torch.randn(1, 5, 3), torch.tensor([5]), return_state=True)
    h, c = state[0]
    assert h.requires_grad and c.requires_grad
    (dh, dc), = detach_state(state)
    assert not dh.requires_grad and not dc.requires_grad and torch.equal(dh, h)


def test_bidirectional_encoder_cannot_carry_a_state() -> None:
    encoder = RNNEncoder(3, cell="gru", hidden_size=4, num_layers=1, bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        encoder(torch.randn(1, 5, 3), torch.tensor([5]), return_state=True)
