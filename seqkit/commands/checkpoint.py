"""Load a trained task from a checkpoint written by ``seqkit fit``.

Checkpoints are read as tensors and plain data (:mod:`seqkit.checkpoints`).  The
config's ``class_path`` entries name classes that are imported and built, so they are
checked before anything is imported: the module must be seqkit, torch or lightning (or
listed in ``SEQKIT_TRUSTED_MODULES=pkg,pkg2`` for your own parts), and the name must be a
class -- the task a ``LightningModule``, the parts seqkit classes, ``nn.Module`` or
optimizers -- never a function such as ``os.system`` or ``torch.load``.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import instantiate_module

from seqkit.checkpoints import UntrustedCheckpointError, read_plain_checkpoint


TRUSTED_MODULES = ("seqkit", "torch", "lightning")


def _trusted_modules() -> tuple[str, ...]:
    extra = os.environ.get("SEQKIT_TRUSTED_MODULES", "")
    return TRUSTED_MODULES + tuple(name.strip() for name in extra.split(",") if name.strip())


def _within(module_name: str, packages: tuple[str, ...]) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in packages)


def check_class_path(class_path: str, task: bool = False) -> type:
    """Import ``class_path`` only if its module is trusted, and only return a class of a safe kind."""
    module_name = class_path.rpartition(".")[0]
    if not _within(module_name, _trusted_modules()):
        raise UntrustedCheckpointError(
            f"class_path {class_path!r} is outside the trusted modules {', '.join(_trusted_modules())} "
            "(add yours to SEQKIT_TRUSTED_MODULES if you trust this checkpoint)"
        )
    obj = _import(class_path)
    if task:
        allowed = inspect.isclass(obj) and issubclass(obj, L.LightningModule)
    else:  # the user's own trusted packages may hold any class
        allowed = inspect.isclass(obj) and (
            not _within(module_name, TRUSTED_MODULES)
            or _within(obj.__module__, ("seqkit",))
            or issubclass(obj, (torch.nn.Module, torch.optim.Optimizer))
        )
    if not allowed:
        kind = "a LightningModule" if task else "a seqkit class, an nn.Module or an optimizer"
        raise UntrustedCheckpointError(f"class_path {class_path!r} is not {kind}")
    return obj


def _check_parts(value: Any) -> None:
    """Every ``class_path`` in the stored config, however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "class_path" and isinstance(item, str):
                check_class_path(item)
            _check_parts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_parts(item)


def task_hparams(checkpoint: dict) -> tuple[str | None, dict]:
    """The task's ``class_path`` and the constructor arguments it takes, from a checkpoint.

    The CLI stores every data link's target, also those only other tasks take (as None);
    those are dropped here so the task can be rebuilt.  Raises
    :class:`UntrustedCheckpointError` for a class seqkit will not build (module docstring).
    """
    hparams = dict(checkpoint.get("hyper_parameters", {}))
    class_path = hparams.pop("_class_path", None)
    if class_path is None:
        return None, hparams
    accepted = inspect.signature(check_class_path(class_path, task=True)).parameters
    kept = {key: value for key, value in hparams.items() if key in accepted}
    _check_parts(kept)
    return class_path, kept


def _import(class_path: str) -> type:
    module_name, _, class_name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise ImportError(f"class_path {class_path!r} cannot be imported ({err})") from None


def load_task(ckpt: str | Path, device: str = "cpu") -> L.LightningModule:
    path = Path(ckpt)
    checkpoint = read_plain_checkpoint(path)
    try:
        class_path, init_args = task_hparams(checkpoint)
    except ImportError as err:  # e.g. a class renamed since the checkpoint was written
        raise ValueError(f"{path}: {err}") from None
    if class_path is None:
        raise ValueError(f"{path} was not written by `seqkit fit` (no _class_path in its hyper-parameters)")
    # The parts are configs (class_path/init_args): jsonargparse builds them, as in `seqkit fit`.
    task = instantiate_module(_import(class_path), {"_class_path": class_path, **init_args})
    task.load_state_dict(checkpoint["state_dict"])
    return task.to(device).eval()

