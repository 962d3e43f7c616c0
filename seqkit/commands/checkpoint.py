"""Load a trained task from a checkpoint written by ``seqkit fit``.

Checkpoints are read with ``weights_only=True``: they hold tensors and plain data (the
model's config and tokenizer), so loading an untrusted file cannot run code.  The config's
``class_path`` entries do import Python classes: only load checkpoints you trust to name
sensible classes.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.cli import instantiate_module


def task_hparams(checkpoint: dict) -> tuple[str | None, dict]:
    """The task's ``class_path`` and the constructor arguments it takes, from a checkpoint.

    The CLI stores every data link's target, also those only other tasks take (as None);
    those are dropped here so the task can be rebuilt.
    """
    hparams = dict(checkpoint.get("hyper_parameters", {}))
    class_path = hparams.pop("_class_path", None)
    if class_path is None:
        return None, hparams
    accepted = inspect.signature(_import(class_path)).parameters
    return class_path, {key: value for key, value in hparams.items() if key in accepted}


def _import(class_path: str) -> type:
    module_name, _, class_name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def load_task(ckpt: str | Path, device: str = "cpu") -> L.LightningModule:
    path = Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    class_path, init_args = task_hparams(checkpoint)
    if class_path is None:
        raise ValueError(f"{path} was not written by `seqkit fit` (no _class_path in its hyper-parameters)")
    # The parts are configs (class_path/init_args): jsonargparse builds them, as in `seqkit fit`.
    task = instantiate_module(_import(class_path), {"_class_path": class_path, **init_args})
    task.load_state_dict(checkpoint["state_dict"])
    return task.to(device).eval()
