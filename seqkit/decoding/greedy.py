"""Greedy (best-path) CTC decoding: per-frame argmax, collapse repeats, drop blanks."""

from __future__ import annotations

import torch
from torch import Tensor


def collapse_path(labels: Tensor, blank_id: int) -> list[int]:
    """Token ids of one best path.  labels: (T,) per-frame argmax ids; repeats collapsed, blanks dropped."""
    ids = torch.unique_consecutive(labels)
    return ids[ids != blank_id].tolist()


def greedy_decode(log_probs: Tensor, lengths: Tensor, blank_id: int) -> list[list[int]]:
    """Best-path token ids for each sequence of a batch.

    Args:
        log_probs: (B, T, V) per-frame scores (log-probabilities or logits; only the argmax matters).
        lengths: (B,) number of valid frames per sequence; frames past it are ignored.
        blank_id: id of the CTC blank.

    Returns:
        B lists of token ids, repeats collapsed and blanks removed.
    """
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs must be (B, T, V), got shape {tuple(log_probs.shape)}")
    batch, frames, _ = log_probs.shape
    best = log_probs.argmax(dim=-1)  # (B, T)
    lengths = lengths.to(best.device)
    # A frame emits a token when it differs from the previous frame (CTC collapse)...
    keep = torch.ones_like(best, dtype=torch.bool)  # (B, T)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    # ...is not blank, and lies inside the sequence.
    keep &= best != blank_id
    keep &= torch.arange(frames, device=best.device).unsqueeze(0) < lengths.unsqueeze(1)
    # One device->host transfer for the whole batch, then split per sequence.
    counts = keep.sum(dim=1).tolist()
    flat = best[keep].tolist()
    out: list[list[int]] = []
    start = 0
    for count in counts:
        out.append(flat[start : start + count])
        start += count
    assert len(out) == batch
    return out
