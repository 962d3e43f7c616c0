import pytest
import torch

from seqkit.heads.pooling import SequencePooling

MODES = ["mean", "max", "last", "attention"]


@pytest.mark.parametrize("mode", MODES)
def test_padded_steps_never_change_the_result(mode):
    torch.manual_seed(0)
    pool = SequencePooling(6, mode)
    sequence = torch.randn(1, 5, 6)
    alone = pool(sequence, torch.tensor([5]))
    batch = torch.randn(2, 9, 6) * 100  # padding full of large garbage
    batch[0, :5] = sequence[0]
    padded = pool(batch, torch.tensor([5, 9]))
    torch.testing.assert_close(padded[0], alone[0])


def test_mean_and_max_over_valid_steps_only():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    lengths = torch.tensor([2])
    assert SequencePooling(1, "mean")(x, lengths).item() == 2.0
    assert SequencePooling(1, "max")(x, lengths).item() == 3.0


def test_last_takes_forward_end_and_backward_start():
    # Features 0..1 are the forward direction, 2..3 the backward one.
    x = torch.arange(4 * 4, dtype=torch.float32).reshape(1, 4, 4)
    out = SequencePooling(4, "last", bidirectional=True)(x, torch.tensor([3]))
    torch.testing.assert_close(out, torch.tensor([[8.0, 9.0, 2.0, 3.0]]))
    uni = SequencePooling(4, "last", bidirectional=False)(x, torch.tensor([3]))
    torch.testing.assert_close(uni, x[:, 2])


def test_attention_weights_are_a_convex_combination():
    pool = SequencePooling(3, "attention")
    x = torch.ones(2, 4, 3) * torch.tensor([1.0, 2.0, 3.0])
    out = pool(x, torch.tensor([4, 2]))
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0, 3.0]] * 2))


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="pooling must be"):
        SequencePooling(3, "median")
