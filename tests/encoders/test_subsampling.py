"""Convolutional subsampling: lengths, sizes, padding that never leaks, and gradients."""

from __future__ import annotations

import pytest
import torch

from seqkit.encoders.rnn import RNNEncoder
from seqkit.encoders.subsampling import ConvSubsampling

pytestmark = pytest.mark.usefixtures("one_thread")

FEATS = 10


def _padded(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), FEATS)
    for b, n in enumerate(lengths):
        x[b, :n] = torch.randn(n, FEATS, generator=generator)
    return x, torch.tensor(lengths)


@pytest.mark.parametrize(("factor", "freqs"), [(2, 5), (4, 3), (8, 2)])
def test_lengths_and_output_size(factor, freqs) -> None:
    conv = ConvSubsampling(FEATS, factor=factor, channels=3)
    assert len(conv.convs) == factor.bit_length() - 1
    assert conv.output_size == 3 * freqs  # 10 bins halved (rounding up) per layer
    x, lengths = _padded([17, 1, 8, 9])
    out, out_lengths = conv(x, lengths)
    expected = [-(-n // factor) for n in [17, 1, 8, 9]]  # ceil(n / k)
    assert out_lengths.tolist() == expected == conv.output_lengths(lengths).tolist()
    assert out.shape == (4, max(expected), conv.output_size)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_padding_never_leaks(factor) -> None:
    """Each utterance alone equals its row of a padded batch, and padded output frames are zero.

    Without the masking after each layer this fails: past its length a
    first-layer frame holds ReLU(bias), which the next layer's window reads at the edge.
    """
    torch.manual_seed(0)
    conv = ConvSubsampling(FEATS, factor=factor, channels=4)
    with torch.no_grad():
        for layer in conv.convs:
            layer.bias.fill_(0.5)  # a positive bias survives the ReLU: what would leak
    lengths = [13, 4, 9, 1]
    x, lens = _padded(lengths, seed=1)
    with torch.no_grad():
        out, out_lens = conv(x, lens)
        for b, n in enumerate(lengths):
            alone, alone_len = conv(x[b : b + 1, :n], lens[b : b + 1])
            k = out_lens[b].item()
            assert alone_len.item() == k == alone.shape[1]
            torch.testing.assert_close(out[b, :k], alone[0], atol=1e-6, rtol=0)
            assert torch.all(out[b, k:] == 0)


def test_reads_neighbouring_frames() -> None:
    """The convolution mixes frames: changing input frame 3 changes output frame 1 (of factor 2)."""
    torch.manual_seed(0)
    conv = ConvSubsampling(FEATS, factor=2, channels=4)
    x, lens = _padded([8], seed=2)
    changed = x.clone()
    changed[0, 3] += 1.0
    with torch.no_grad():
        a, _ = conv(x, lens)
        b, _ = conv(changed, lens)
    assert (a[0, 1] - b[0, 1]).abs().max() > 1e-4
    torch.testing.assert_close(a[0, 0], b[0, 0])  # frame 0 reads input frames 0-1 only (and padding)


def test_rejects_a_factor_that_is_not_a_power_of_two() -> None:
    for factor in (1, 3, 16):
        with pytest.raises(ValueError, match="factor must be 2, 4 or 8"):
            ConvSubsampling(FEATS, factor=factor)


def test_encoder_with_convolutions_is_padding_invariant_and_trains_them() -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(FEATS, cell="lstm", hidden_size=6, num_layers=2, stack_frames=4, conv_channels=4)
    assert encoder.subsampling == 4
    assert encoder.layers[0].forward_rnn.input_size == 4 * 3  # channels x ceil(ceil(10/2)/2)
    lengths = [15, 6, 1]
    x, lens = _padded(lengths, seed=3)
    encoder.eval()
    with torch.no_grad():
        out, out_lens = encoder(x, lens)
        for b, n in enumerate(lengths):
            alone, _ = encoder(x[b : b + 1, :n], lens[b : b + 1])
            torch.testing.assert_close(out[b, : out_lens[b]], alone[0], atol=1e-5, rtol=0)
    encoder.train()
    out, out_lens = encoder(x, lens)
    out.sum().backward()
    for layer in encoder.subsampler.convs:
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
