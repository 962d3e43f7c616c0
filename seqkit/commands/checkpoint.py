"""Load a trained task from a checkpoint written by ``seqkit fit``.

Checkpoints are read with ``weights_only=True``: they hold tensors and plain data (the
model's config and tokenizer), so loading an untrusted file cannot run code.  The config's
``class_path`` entries do import Python classes: only load checkpoints you trust to name
sensible classes.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import lightning as L
import torch


def load_task(ckpt: str | Path, device: str = "cpu") -> L.LightningModule:
    path = Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    hparams = checkpoint.get("hyper_parameters", {})
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ValueError(f"{path} was not written by `seqkit fit` (no _class_path in its hyper-parameters)")
    module_name, _, class_name = class_path.rpartition(".")
    task_class = getattr(importlib.import_module(module_name), class_name)
    task = task_class.load_from_checkpoint(path, map_location=device, weights_only=True)
    return task.eval()
