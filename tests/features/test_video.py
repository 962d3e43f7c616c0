"""seqkit.features.video: per-frame CNN and training-free frame-difference features."""

from __future__ import annotations

import pytest
import torch

from seqkit.features.video import FrameCNN, FrameDifference

pytestmark = pytest.mark.usefixtures("one_thread")


def _square_video(steps: int, size: int = 32, dx: int = 0, grow: int = 0) -> torch.Tensor:
    """(T, 3, H, W): a white square on grey, moving ``dx`` pixels and growing ``grow`` per step."""
    video = torch.full((steps, 3, size, size), 0.3)
    for t in range(steps):
        left, half = 4 + dx * t, 3 + grow * t
        top = size // 2 - half
        video[t, :, top : top + 2 * half, left : left + 2 * half] = 1.0
    return video


def _batch(*videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([v.shape[0] for v in videos])
    inputs = torch.zeros(len(videos), int(lengths.max()), *videos[0].shape[1:])
    for row, video in enumerate(videos):
        inputs[row, : video.shape[0]] = video
    return inputs, lengths


def test_frame_cnn_shape_and_zero_padding() -> None:
    torch.manual_seed(0)
    cnn = FrameCNN(channels=(8, 16), pool=2, output_size=12)
    inputs, lengths = _batch(torch.rand(5, 3, 32, 32), torch.rand(3, 3, 32, 32))
    features, out_lengths = cnn(inputs, lengths)
    assert features.shape == (2, 5, 12) and cnn.output_size == 12
    assert torch.equal(out_lengths, lengths)
    assert features[1, 3:].abs().sum() == 0
    assert features[0].abs().sum() > 0
    features.sum().backward()  # trained end to end
    assert all(p.grad is not None for p in cnn.parameters())


def test_frame_cnn_ignores_what_is_in_the_padding() -> None:
    torch.manual_seed(0)
    cnn = FrameCNN(channels=(8,), pool=2, output_size=6).train()  # batch norm uses batch statistics
    inputs, lengths = _batch(torch.rand(4, 3, 16, 16), torch.rand(2, 3, 16, 16))
    garbage = inputs.clone()
    garbage[1, 2:] = 100.0
    assert torch.allclose(cnn(inputs, lengths)[0], cnn(garbage, lengths)[0])


def test_frame_cnn_takes_other_channel_counts() -> None:
    features, _ = FrameCNN(input_size=1, channels=(4,), pool=1, output_size=3)(torch.rand(2, 3, 1, 8, 8), torch.tensor([3, 1]))
    assert features.shape == (2, 3, 3)


def test_frame_difference_shape_and_zero_padding() -> None:
    extractor = FrameDifference(grid=3)
    inputs, lengths = _batch(_square_video(6, dx=2), _square_video(4, dx=2))
    inputs[1, 4:] = torch.rand(2, 3, 32, 32)  # whatever sits in the padding must not show
    features, out_lengths = extractor(inputs, lengths)
    assert features.shape == (2, 6, 3 * 3 + 8) and extractor.output_size == 17
    assert torch.equal(out_lengths, lengths)
    assert features[1, 4:].abs().sum() == 0
    assert features[:, 0].abs().sum() == 0  # the first frame has nothing to differ from
    assert torch.allclose(features[0, :4], features[1, :4])


def test_frame_difference_is_zero_for_a_static_video() -> None:
    still = torch.rand(1, 3, 32, 32).expand(8, -1, -1, -1)
    features, _ = FrameDifference()(*_batch(still))
    assert features.abs().sum() == 0


def test_frame_difference_follows_the_motion() -> None:
    extractor = FrameDifference(grid=2)
    features, _ = extractor(*_batch(_square_video(6, dx=3), _square_video(6, dx=3).flip(-1), _square_video(6, grow=1)))
    cx, spread_x, dcx, dsx = features[..., 4], features[..., 6], features[..., 8], features[..., 10]
    assert (dcx[0, 2:] > 0).all()  # moving right: the centroid of the motion drifts right
    assert (dcx[1, 2:] < 0).all()  # mirrored: drifts left
    assert torch.allclose(cx[0, 2:], -cx[1, 2:], atol=1e-5)
    assert (dsx[2, 2:] > 0).all() and (spread_x[2, 2:] > spread_x[2, 1]).all()  # growing: the motion spreads
    energy = features[0, 1:, :4].reshape(-1, 2, 2)  # (T-1, rows, cols) of the 2x2 grid
    assert energy[-1, :, 1].sum() > energy[-1, :, 0].sum()  # by the end, the motion is in the right half


def test_frame_difference_threshold_hides_small_flicker() -> None:
    still = torch.full((6, 3, 16, 16), 0.5)
    still[1::2] += 0.03  # flicker below the default threshold of 0.1
    assert FrameDifference()(*_batch(still))[0].abs().sum() == 0
    assert FrameDifference(threshold=0.01)(*_batch(still))[0].abs().sum() > 0
