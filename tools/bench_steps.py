"""Per-step clock of a training loop, for ``tools/bench_train.py``.

A step's time is the period from the end of one step to the end of the next, so the wait
for the next batch and any loop overhead are charged to it.  ``StepLog`` holds the stamps
of one run; ``summarize`` turns the runs of one method into throughput and loader shares.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import lightning as L
import torch
from torch.utils.data import DataLoader


@dataclass
class StepLog:
    """Per-step clock stamps of one run; steps before ``warmup`` are not recorded."""

    warmup: int
    sync: Callable[[], None]
    period: list[float] = field(default_factory=list)  # end of previous step -> end of this one
    wait: list[float] = field(default_factory=list)  # end of previous step -> batch in hand
    epoch_start: list[bool] = field(default_factory=list)  # first batch of an epoch
    lengths: list[list[int]] = field(default_factory=list)  # samples per utterance, per step
    ids: list[list[str]] = field(default_factory=list)
    peak_mb: float = 0.0
    fetch: float = 0.0  # seconds inside the DataLoader's next() after warm-up, whenever it ran
    _steps: int = 0
    _start: float = 0.0
    _last_end: float = 0.0

    def started(self) -> None:
        self.sync()
        self._start = time.perf_counter()

    def ended(self, batch: dict, epoch_start: bool) -> None:
        self.sync()  # CUDA is asynchronous: the step is over when the device is done
        now = time.perf_counter()
        if self._steps >= self.warmup:
            self.period.append(now - self._last_end)
            self.wait.append(self._start - self._last_end)
            self.epoch_start.append(epoch_start)
            self.lengths.append(batch["lengths"].tolist())
            self.ids.append(list(batch["ids"]))
        self._steps += 1
        self._last_end = time.perf_counter()  # our own bookkeeping is charged to neither method


class TimedLoader:
    """A DataLoader whose ``next()`` is timed into ``log.fetch`` (after warm-up); other
    attributes (``batch_sampler`` for ``set_epoch``) are the loader's.

    The step's wait for a batch (``StepLog.wait``) also holds the loop's own work between
    steps; this is the DataLoader's part alone, wherever the loop calls it (Lightning fetches
    one batch ahead)."""

    def __init__(self, loader: DataLoader, log: StepLog) -> None:
        self.loader, self.log = loader, log

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def __iter__(self) -> Iterator[dict]:
        batches = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            if self.log._steps >= self.log.warmup:
                self.log.fetch += time.perf_counter() - start
            yield batch


class StepTimer(L.Callback):
    def __init__(self, steps: StepLog) -> None:
        self.steps = steps  # not `self.log`: Callback.log exists

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.steps.started()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.ended(batch, epoch_start=batch_idx == 0)


def make_sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        return torch.cuda.reset_peak_memory_stats(device)
    try:  # Linux >= 4.0: "5" resets the peak RSS (ru_maxrss too), so each run gets its own peak
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # then ru_maxrss is the process's peak so far


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; main process, not workers


def summarize(logs: list[StepLog], sample_rate: int) -> dict:
    per_step = list(zip(*(log.period for log in logs)))  # the same batch in every round
    audio = sum(sum(lengths) for lengths in logs[0].lengths) / sample_rate
    return {
        "audio_sec_per_sec": audio / sum(statistics.median(times) for times in per_step),
        # Contention only ever adds time: the fastest round of each step is a second, less noisy view.
        "audio_sec_per_sec_best": audio / sum(min(times) for times in per_step),
        "runs_audio_sec_per_sec": [audio / sum(log.period) for log in logs],
        "step_time_median_s": statistics.median(t for log in logs for t in log.period),
        "loader_share": sum(sum(log.wait) for log in logs) / sum(sum(log.period) for log in logs),
        "fetch_share": sum(log.fetch for log in logs) / sum(sum(log.period) for log in logs),
        # A new epoch's first batch waits for one worker to load it from scratch (the workers only
        # get the new epoch's indices when it starts): with few batches an epoch, this dominates.
        "loader_share_within_epochs": within_epoch_share(logs),
        "epoch_start_wait_median_s": median_or_none(
            [w for log in logs for w, first in zip(log.wait, log.epoch_start) if first]
        ),
        "peak_memory_mb": max(log.peak_mb for log in logs),
    }


def within_epoch_share(logs: list[StepLog]) -> float | None:
    steps = [(w, p) for log in logs for w, p, first in zip(log.wait, log.period, log.epoch_start) if not first]
    return sum(w for w, _ in steps) / sum(p for _, p in steps) if steps else None  # None: every step opened an epoch


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
