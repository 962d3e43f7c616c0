"""Learning-rate schedule: linear warmup, then cosine decay or a constant rate."""

from __future__ import annotations

import math
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

Decay = Literal["cosine", "constant"]


def warmup_schedule(optimizer: Optimizer, warmup_steps: int, total_steps: int, decay: Decay, min_ratio: float = 0.05) -> LambdaLR:
    """Warm up linearly over ``warmup_steps``, then decay to ``min_ratio`` of the peak by ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if decay == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
