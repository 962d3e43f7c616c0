"""A progress bar that redraws at most every ``min_interval_s`` seconds, whatever the step rate."""

from __future__ import annotations

import time
from typing import Callable

from lightning.pytorch.callbacks import TQDMProgressBar


class TimedProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, redrawn by time instead of after every batch.

    Each redraw reads the bar's metrics (the training loss) from the device: on a GPU that is
    a host sync, which stops the host from queueing the next step while the current one
    runs.  Slow steps (a CPU) still redraw every batch; fast ones (30 ms GPU steps) about
    every ``min_interval_s``, and the last batch of a loop always does.
    """

    def __init__(self, min_interval_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last_draw = float("-inf")

    def _should_update(self, current: int, total: int) -> bool:  # Lightning asks before each redraw
        if not self.is_enabled:
            return False
        now = self._clock()
        if current == total or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            return True
        return False
