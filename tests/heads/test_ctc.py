"""CTC head: fp32 normalised log-probs even under autocast; loss = summed CTC / batch size."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from seqkit.heads.ctc import CTCHead


pytestmark = pytest.mark.usefixtures("one_thread")


def _batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    batch, frames, dim, vocab = 4, 30, 8, 6
    encoded = torch.randn(batch, frames, dim, generator=generator)
    lengths = torch.tensor([30, 22, 17, 9])
    target_lengths = torch.tensor([5, 7, 3, 4])
    targets = torch.randint(1, vocab, (int(target_lengths.sum()),), generator=generator)
    return encoded, lengths, targets, target_lengths, vocab


def test_log_probs_are_fp32_and_normalised() -> None:
    torch.manual_seed(0)
    encoded, *_, vocab = _batch()
    head = CTCHead(encoded.shape[-1], vocab).eval()
    log_probs = head(encoded)
    assert log_probs.shape == (*encoded.shape[:2], vocab)
    assert log_probs.dtype == torch.float32
    torch.testing.assert_close(log_probs.logsumexp(-1), torch.zeros(encoded.shape[:2]), atol=1e-5, rtol=0)


def test_log_probs_fp32_and_normalised_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    encoded, *_, vocab = _batch()
    head = CTCHead(encoded.shape[-1], vocab).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head.proj(encoded)
        assert logits.dtype == torch.bfloat16  # autocast really is active for the linear layer
        log_probs = head(encoded)
    assert log_probs.dtype == torch.float32
    # Normalised in fp32: far tighter than bf16's ~8e-3 relative precision would allow.
    torch.testing.assert_close(log_probs.logsumexp(-1), torch.zeros(encoded.shape[:2]), atol=1e-5, rtol=0)
    # log_softmax of the bf16 logits, computed in fp32.
    torch.testing.assert_close(log_probs, logits.float().log_softmax(-1), atol=1e-6, rtol=0)


def test_loss_equals_summed_ctc_over_batch_size() -> None:
    torch.manual_seed(1)
    encoded, lengths, targets, target_lengths, vocab = _batch(1)
    log_probs = CTCHead(encoded.shape[-1], vocab)(encoded)
    loss = CTCHead.loss(log_probs, lengths, targets, target_lengths)
    reference = F.ctc_loss(log_probs.transpose(0, 1), targets, lengths, target_lengths, blank=0, reduction="sum")
    torch.testing.assert_close(loss, reference / encoded.shape[0], atol=1e-5, rtol=1e-6)
    assert loss.dtype == torch.float32 and loss.item() > 0


def test_loss_ignores_frames_past_lengths() -> None:
    torch.manual_seed(2)
    encoded, lengths, targets, target_lengths, vocab = _batch(2)
    head = CTCHead(encoded.shape[-1], vocab)
    log_probs = head(encoded)
    changed = log_probs.clone()
    changed[3, 9:] = torch.randn(changed.shape[1] - 9, vocab).log_softmax(-1)  # utterance 3 has 9 frames
    torch.testing.assert_close(
        CTCHead.loss(changed, lengths, targets, target_lengths),
        CTCHead.loss(log_probs, lengths, targets, target_lengths),
    )


def test_loss_under_autocast_matches_fp32() -> None:
    torch.manual_seed(3)
    encoded, lengths, targets, target_lengths, vocab = _batch(3)
    log_probs = CTCHead(encoded.shape[-1], vocab)(encoded).detach()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = CTCHead.loss(log_probs, lengths, targets, target_lengths)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, CTCHead.loss(log_probs, lengths, targets, target_lengths))


def test_impossible_alignment_gives_zero_not_inf() -> None:
    log_probs = torch.randn(1, 3, 5).log_softmax(-1)
    targets = torch.tensor([1, 2, 3, 4])  # 4 labels cannot fit in 3 frames
    loss = CTCHead.loss(log_probs, torch.tensor([3]), targets, torch.tensor([4]))
    assert torch.isfinite(loss) and loss.item() == 0


def test_gradients_flow_to_encoder_and_weights() -> None:
    torch.manual_seed(4)
    encoded, lengths, targets, target_lengths, vocab = _batch(4)
    encoded.requires_grad_(True)
    head = CTCHead(encoded.shape[-1], vocab, dropout=0.1).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = CTCHead.loss(head(encoded), lengths, targets, target_lengths)
    loss.backward()
    for grad in (encoded.grad, head.proj.weight.grad, head.proj.bias.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    # Frames past an utterance's length get no gradient.
    assert torch.all(encoded.grad[3, 9:] == 0)
    assert encoded.grad[3, :9].abs().sum() > 0


def test_gradient_step_lowers_the_loss() -> None:
    torch.manual_seed(5)
    encoded, lengths, targets, target_lengths, vocab = _batch(5)
    head = CTCHead(encoded.shape[-1], vocab)
    losses = []
    for _ in range(5):
        head.zero_grad()
        loss = CTCHead.loss(head(encoded), lengths, targets, target_lengths)
        loss.backward()
        with torch.no_grad():  # plain SGD (torch.optim's first step imports dynamo: ~1 s)
            for param in head.parameters():
                param -= 0.05 * param.grad
        losses.append(loss.item())
    assert losses[-1] < losses[0]
