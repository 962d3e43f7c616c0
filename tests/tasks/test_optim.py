"""The warm-up schedule: linear rise to the peak, then cosine decay to a floor, or constant."""

from __future__ import annotations

import math

import pytest
import torch

from seqkit.tasks.optim import warmup_schedule


def rates(decay: str, warmup: int, total: int, steps: int, min_ratio: float = 0.05) -> list[float]:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
    scheduler = warmup_schedule(optimizer, warmup, total, decay, min_ratio)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_linear_warmup_reaches_the_peak_on_its_last_step() -> None:
    lr = rates("cosine", warmup=4, total=20, steps=5)
    assert lr[:4] == pytest.approx([0.5e-3, 1e-3, 1.5e-3, 2e-3])
    assert lr[4] == pytest.approx(2e-3)  # decay starts from the peak


def test_cosine_decays_monotonically_to_the_floor_and_stays() -> None:
    lr = rates("cosine", warmup=4, total=20, steps=30)
    decaying = lr[4:21]
    assert all(a > b for a, b in zip(decaying, decaying[1:]))
    assert lr[12] == pytest.approx(2e-3 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 8 / 16))))  # half-way: mid-point
    assert lr[20] == pytest.approx(2e-3 * 0.05)
    assert lr[20:] == pytest.approx([2e-3 * 0.05] * 10)  # steps past the planned total keep the floor


def test_constant_keeps_the_peak_after_warmup() -> None:
    lr = rates("constant", warmup=3, total=10, steps=15)
    assert lr[:3] == pytest.approx([2e-3 / 3, 4e-3 / 3, 2e-3])
    assert lr[3:] == pytest.approx([2e-3] * 12)
