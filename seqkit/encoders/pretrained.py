"""Start an encoder from the encoder of another trained model (any seqkit task).

The classic transfer for small labelled sets: a speech-to-text model trained on many
voices gives an isolated-word classifier an encoder that already separates sounds rather
than speakers.  Only ``encoder.*`` weights are copied; the head is the new task's own.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

ENCODER_PREFIX = "encoder."


class EncoderInitError(ValueError):
    """The checkpoint has no encoder this one can take."""


def copy_encoder_weights(encoder: nn.Module, checkpoint: dict, source: str | Path) -> int:
    """Load ``checkpoint``'s ``encoder.*`` weights into ``encoder``; return how many tensors.

    Every tensor must be there with the same shape: a partial copy would train a model that
    silently starts half from scratch.  ``source`` names the file in errors.
    """
    state = checkpoint.get("state_dict", {})
    weights = {key[len(ENCODER_PREFIX):]: value for key, value in state.items() if key.startswith(ENCODER_PREFIX)}
    if not weights:
        raise EncoderInitError(f"{source}: no {ENCODER_PREFIX}* weights in its state_dict")
    expected = encoder.state_dict()
    # Checked before loading: a strict load_state_dict copies every tensor that fits before it
    # raises, so a refused checkpoint would leave the encoder half overwritten.
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    mismatched = [f"{key} {tuple(weights[key].shape)} vs {tuple(value.shape)}"
                  for key, value in expected.items() if key in weights and weights[key].shape != value.shape]
    if missing or unexpected or mismatched:
        problems = [f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"shapes (checkpoint vs this model) {mismatched[:3]}" if mismatched else ""]
        raise EncoderInitError(f"{source}: its encoder does not fit this one (same cell, sizes and feature size needed): "
                               + "; ".join(p for p in problems if p))
    encoder.load_state_dict(weights)
    return len(weights)


def config_differences(ours: dict, theirs: dict) -> list[str]:
    """Where two parts' ``class_path``/``init_args`` configs differ, as ``name: ours vs theirs``."""
    diffs = []
    if ours.get("class_path") != theirs.get("class_path"):
        diffs.append(f"class_path: {ours.get('class_path')} vs {theirs.get('class_path')}")
    our_args, their_args = ours.get("init_args") or {}, theirs.get("init_args") or {}
    for key in sorted(set(our_args) | set(their_args)):
        if our_args.get(key) != their_args.get(key):
            diffs.append(f"{key}: {our_args.get(key)!r} vs {their_args.get(key)!r}")
    return diffs
