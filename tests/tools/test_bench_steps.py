"""tools/bench_steps.py: the step clock and the summary computed from it."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="module")
def steps(load_script) -> ModuleType:
    return load_script("tools/bench_steps.py")


def _log(steps: ModuleType, periods: list[float], waits: list[float], firsts: list[bool], lengths: list[list[int]]):
    log = steps.StepLog(warmup=0, sync=lambda: None)
    log.period, log.wait, log.epoch_start, log.lengths = periods, waits, firsts, lengths
    log.fetch, log.peak_mb = sum(waits) / 2, 100.0
    return log


def test_summary_takes_per_step_medians_and_fastest_over_rounds(steps: ModuleType) -> None:
    lengths = [[16000, 8000], [16000]]  # 1.5 s then 1 s of audio at 16 kHz
    rounds = [
        _log(steps, [1.0, 2.0], [0.1, 0.2], [True, False], lengths),
        _log(steps, [3.0, 1.0], [0.3, 0.1], [True, False], lengths),
        _log(steps, [2.0, 4.0], [0.2, 0.4], [True, False], lengths),
    ]
    s = steps.summarize(rounds, sample_rate=16000)
    assert s["audio_sec_per_sec"] == pytest.approx(2.5 / (2.0 + 2.0))  # medians: step 1 -> 2.0, step 2 -> 2.0
    assert s["audio_sec_per_sec_best"] == pytest.approx(2.5 / (1.0 + 1.0))
    assert s["runs_audio_sec_per_sec"] == pytest.approx([2.5 / 3, 2.5 / 4, 2.5 / 6])
    assert s["loader_share"] == pytest.approx(1.3 / 13.0)
    assert s["fetch_share"] == pytest.approx(0.65 / 13.0)
    assert s["loader_share_within_epochs"] == pytest.approx(0.7 / 7.0)  # the second steps only
    assert s["epoch_start_wait_median_s"] == pytest.approx(0.2)
    assert s["peak_memory_mb"] == 100.0


def test_summary_without_an_epoch_start_or_with_only_epoch_starts(steps: ModuleType) -> None:
    inside = steps.summarize([_log(steps, [1.0], [0.5], [False], [[100]])], sample_rate=100)
    assert inside["epoch_start_wait_median_s"] is None and inside["loader_share_within_epochs"] == pytest.approx(0.5)
    openers = steps.summarize([_log(steps, [1.0], [0.5], [True], [[100]])], sample_rate=100)
    assert openers["loader_share_within_epochs"] is None and openers["epoch_start_wait_median_s"] == 0.5


def test_step_log_skips_warmup_and_charges_the_wait_to_the_step(steps: ModuleType) -> None:
    log = steps.StepLog(warmup=1, sync=lambda: None)
    batch = {"lengths": torch.tensor([3, 2]), "ids": ["a", "b"]}
    for epoch_start in (True, False, False):
        log.started()
        log.ended(batch, epoch_start)
    assert len(log.period) == 2 and log.epoch_start == [False, False]
    assert log.lengths == [[3, 2], [3, 2]] and log.ids == [["a", "b"], ["a", "b"]]
    assert all(0 <= w <= p for w, p in zip(log.wait, log.period))


def test_timed_loader_yields_every_batch_and_times_only_after_warmup(steps: ModuleType) -> None:
    log = steps.StepLog(warmup=1, sync=lambda: None)
    loader = steps.TimedLoader(torch.utils.data.DataLoader(list(range(5)), batch_size=2), log)
    assert len(loader) == 3 and loader.batch_size == 2  # other attributes are the loader's
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    assert log.fetch == 0.0  # no step has ended yet: all of it was warm-up
    log._steps = 1
    list(loader)
    assert log.fetch > 0.0
