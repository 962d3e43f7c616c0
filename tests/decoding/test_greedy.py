"""Greedy CTC decoding on hand-made emission matrices."""

from __future__ import annotations

import torch

from seqkit.decoding.greedy import collapse_path, greedy_decode


def _one_hot_log_probs(paths: list[list[int]], vocab: int) -> torch.Tensor:
    """(B, T, V) log-probs whose per-frame argmax follows ``paths`` (padded with blanks)."""
    frames = max(len(p) for p in paths)
    log_probs = torch.full((len(paths), frames, vocab), -5.0)
    for b, path in enumerate(paths):
        for t, token in enumerate(path):
            log_probs[b, t, token] = -0.1
        log_probs[b, len(path) :, 0] = -0.1
    return log_probs


def _reference(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    out = []
    for b in range(log_probs.shape[0]):
        best = log_probs[b, : lengths[b]].argmax(-1).tolist()
        ids, prev = [], None
        for token in best:
            if token != prev and token != blank:
                ids.append(token)
            prev = token
        out.append(ids)
    return out


def test_collapses_repeats_and_drops_blanks() -> None:
    log_probs = _one_hot_log_probs([[1, 1, 0, 1, 2, 2, 0, 0, 3, 3]], vocab=4)
    assert greedy_decode(log_probs, torch.tensor([10]), blank_id=0) == [[1, 1, 2, 3]]


def test_respects_lengths() -> None:
    log_probs = _one_hot_log_probs([[1, 2, 3, 1], [2, 0, 2, 3]], vocab=4)
    # Frames past each length carry tokens that must not leak into the output.
    lengths = torch.tensor([2, 3])
    assert greedy_decode(log_probs, lengths, blank_id=0) == [[1, 2], [2, 2]]


def test_repeat_across_length_boundary_is_not_emitted() -> None:
    log_probs = _one_hot_log_probs([[1, 0, 2, 2, 2]], vocab=3)
    assert greedy_decode(log_probs, torch.tensor([3]), blank_id=0) == [[1, 2]]


def test_empty_outputs() -> None:
    log_probs = _one_hot_log_probs([[0, 0, 0], [1, 2, 3]], vocab=4)
    assert greedy_decode(log_probs, torch.tensor([3, 0]), blank_id=0) == [[], []]
    assert greedy_decode(torch.zeros(2, 0, 4), torch.tensor([0, 0]), blank_id=0) == [[], []]


def test_non_zero_blank_id() -> None:
    log_probs = _one_hot_log_probs([[3, 0, 0, 3, 1, 3, 1]], vocab=4)
    assert greedy_decode(log_probs, torch.tensor([7]), blank_id=3) == [[0, 1, 1]]


def test_matches_reference_on_random_batches() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        batch, frames, vocab = 5, 30, 4  # small vocab -> many repeats and blanks
        log_probs = torch.randn(batch, frames, vocab, generator=generator).log_softmax(-1)
        lengths = torch.randint(0, frames + 1, (batch,), generator=generator)
        assert greedy_decode(log_probs, lengths, blank_id=0) == _reference(log_probs, lengths, 0)


def test_collapse_path_matches_batched_decoding() -> None:
    generator = torch.Generator().manual_seed(1)
    log_probs = torch.randn(6, 25, 4, generator=generator).log_softmax(-1)
    lengths = torch.randint(0, 26, (6,), generator=generator)
    for blank in (0, 3):
        batched = greedy_decode(log_probs, lengths, blank_id=blank)
        one_by_one = [collapse_path(log_probs[b, : lengths[b]].argmax(-1), blank) for b in range(6)]
        assert one_by_one == batched == _reference(log_probs, lengths, blank)
    assert collapse_path(torch.tensor([2, 2, 0, 2, 1, 1, 0]), blank_id=0) == [2, 2, 1]
