"""Read a ``seqkit fit`` checkpoint as tensors and plain data only (``weights_only=True``).

Checkpoints hold the weights, the model's config and its tokenizer; nothing in them needs
pickle's arbitrary objects, so unpickling an untrusted file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch


class UntrustedCheckpointError(ValueError):
    """A checkpoint holds, or names, something seqkit will not load or build."""


def read_plain_checkpoint(path: str | Path, what: str = "checkpoint") -> dict:
    """The checkpoint at ``path`` on the CPU; errors name the file (``what`` says what it was for)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).splitlines()[-1].strip() or "unpicklable content"
        raise UntrustedCheckpointError(
            f"{path}: holds more than tensors and plain data, refused ({reason}); `seqkit fit` writes only those, "
            "so this checkpoint was saved another way, e.g. from Python with objects among its hyper-parameters"
        ) from None
