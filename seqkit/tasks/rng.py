"""Random-number state saved in every checkpoint and restored on resume.

Dropout and SpecAugment draw from the global generators, so a resumed run trains exactly
as the uninterrupted one only if it goes on from the same generator states.  Lightning
does not save them.  They are restored just before the first resumed training batch, not
on load: Lightning draws from the global generator between loading and that batch (a
data loader's worker seed), which an uninterrupted run drew before the checkpoint.

The states are stored as tensors and plain numbers, so checkpoints still load with
``torch.load(weights_only=True)``.  Under DDP the checkpoint holds rank 0's states, which
every rank restores.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

KEY = "seqkit_rng_states"


def capture_rng_states() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    python_version, python_state, python_gauss = random.getstate()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gauss)},
        "python": {"version": python_version, "state": list(python_state), "gauss": python_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python = states["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


class ResumableRandomness(L.LightningModule):
    """Saves the generator states with every checkpoint and restores them when training resumes."""

    _pending_rng_states: dict[str, Any] | None = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[KEY] = capture_rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self._pending_rng_states = checkpoint.get(KEY)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        if self._pending_rng_states is not None:
            restore_rng_states(self._pending_rng_states)
            self._pending_rng_states = None
