"""``run_info.json``: where and how fast a run ran, for reports.

Every task adds this callback (``SeqkitTask.checkpoint_callbacks``), so ``seqkit fit``
writes ``RUN/run_info.json`` and ``seqkit test`` / ``validate`` / ``predict`` write
``RUN/<stage>/run_info.json``: device, precision, world size, library versions, wall time
and what was processed (examples, audio seconds for speech, characters for language
models) with the rate per second.  Counts are summed over DDP ranks; rank 0 writes.

Training time excludes the validation loops run inside ``fit`` (``train_seconds``);
``wall_seconds`` is the whole stage.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning
import torch
from lightning.pytorch.callbacks import Callback

FILE = "run_info.json"


def device_name(trainer) -> str:
    """The accelerator's own name (``NVIDIA H100 80GB HBM3``) or the CPU's, with its core count."""
    root = trainer.strategy.root_device
    if root.type == "cuda":
        return torch.cuda.get_device_name(root)
    cpu = _cpu_model() or platform.processor() or platform.machine()
    return f"{root.type}: {cpu} ({torch.get_num_threads()} threads)"


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


class RunInfo(Callback):
    """Records device, precision, versions, timing and throughput into the run directory."""

    def __init__(self) -> None:
        self._totals: dict[str, float | torch.Tensor] = {}  # device tensors are read once, in _write
        self._start = 0.0
        self._validation_seconds = 0.0
        self._validation_start: float | None = None
        self._started_at = ""

    def _begin(self) -> None:
        self._totals = {}
        self._validation_seconds = 0.0
        self._validation_start = None
        self._started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._start = time.perf_counter()

    def _add(self, batch: Any, pl_module) -> None:
        # What one batch holds: examples, and audio seconds (speech) or characters (language models).
        amounts = pl_module.batch_amounts(batch) if hasattr(pl_module, "batch_amounts") else {}
        for key, value in amounts.items():
            self._totals[key] = self._totals.get(key, 0) + value  # int counts stay exact integers

    # ---- fit -----------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        self._begin()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._add(batch, pl_module)

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit":
            self._validation_start = time.perf_counter()
        elif trainer.state.fn == "validate":
            self._begin()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if trainer.state.fn == "validate":
            self._add(batch, pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and self._validation_start is not None:
            self._validation_seconds += time.perf_counter() - self._validation_start
            self._validation_start = None
        elif trainer.state.fn == "validate":
            wall = time.perf_counter() - self._start
            self._write(trainer, pl_module, "validate", wall, wall, {})

    def on_train_end(self, trainer, pl_module) -> None:
        wall = time.perf_counter() - self._start
        self._write(trainer, pl_module, "fit", wall, wall - self._validation_seconds,
                    {"epochs": trainer.current_epoch, "steps": trainer.global_step})  # epochs completed

    # ---- test -------------------------------------------------------------
    def on_test_start(self, trainer, pl_module) -> None:
        self._begin()

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._add(batch, pl_module)

    def on_test_end(self, trainer, pl_module) -> None:
        wall = time.perf_counter() - self._start
        self._write(trainer, pl_module, "test", wall, wall, {})

    # ---- predict ----------------------------------------------------------------------
    def on_predict_start(self, trainer, pl_module) -> None:
        self._begin()

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._add(batch, pl_module)

    def on_predict_end(self, trainer, pl_module) -> None:
        wall = time.perf_counter() - self._start
        self._write(trainer, pl_module, "predict", wall, wall, {})

    # ---- output -----------------------------------------------------------------------
    def _write(self, trainer, pl_module, stage: str, wall: float, busy: float, extra: dict) -> None:
        totals = {key: float(value) for key, value in self._totals.items()}
        if trainer.world_size > 1:  # a collective: every rank calls this hook
            keys = sorted(totals)
            summed = trainer.strategy.reduce(torch.tensor([totals[k] for k in keys], dtype=torch.float64,
                                                          device=pl_module.device), reduce_op="sum")
            totals = dict(zip(keys, summed.tolist()))
        if trainer.global_rank != 0:
            return
        run_dir = pl_module.run_dir() if hasattr(pl_module, "run_dir") else None
        if run_dir is None:
            return
        key = "train" if stage == "fit" else stage
        info: dict[str, Any] = {
            "stage": stage,
            "started_at": self._started_at,
            "device": device_name(trainer),
            "accelerator": trainer.strategy.root_device.type,
            "precision": str(trainer.precision),
            "world_size": trainer.world_size,
            "num_nodes": trainer.num_nodes,
            "versions": {"torch": torch.__version__, "lightning": lightning.__version__,
                         "python": platform.python_version()},
            "wall_seconds": round(wall, 3),
            f"{key}_seconds": round(busy, 3),
            **extra,
        }
        for name, value in totals.items():
            info[f"{key}_{name}"] = value if name == "audio_seconds" else int(value)
            info[f"{name}_per_second"] = value / busy if busy > 0 else None
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
