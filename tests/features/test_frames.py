"""PrecomputedFeatures: identity on valid steps, zero padding, sizes from the data."""

from __future__ import annotations

import pytest
import torch

from seqkit.features.frames import PrecomputedFeatures


def test_identity_on_valid_steps_and_zero_padding(one_thread) -> None:
    features = PrecomputedFeatures(input_size=3)
    assert features.output_size == 3
    inputs = torch.randn(2, 5, 3) + 10  # (B, T, F); the padding holds garbage, never zero
    lengths = torch.tensor([5, 2])
    out, out_lengths = features(inputs, lengths)
    assert out.shape == (2, 5, 3) and out.dtype == inputs.dtype
    assert torch.equal(out_lengths, lengths)
    torch.testing.assert_close(out[0], inputs[0])
    torch.testing.assert_close(out[1, :2], inputs[1, :2])
    assert out[1, 2:].abs().sum() == 0


def test_no_parameters_and_same_output_alone_or_batched(one_thread) -> None:
    features = PrecomputedFeatures(input_size=4)
    assert not list(features.parameters())
    inputs, lengths = torch.randn(3, 7, 4), torch.tensor([7, 3, 5])
    batched, _ = features(inputs, lengths)
    alone, _ = features(inputs[1:2, :3], lengths[1:2])
    torch.testing.assert_close(batched[1, :3], alone[0])


@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 5)])
def test_wrong_input_size_is_reported(shape) -> None:
    with pytest.raises(ValueError, match=r"expected inputs \(B, T, 3\), got"):
        PrecomputedFeatures(input_size=3)(torch.zeros(shape), torch.tensor([5, 5]))
