"""DurationBatchSampler: DDP sharding, budgets, reshuffling, determinism and padding."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seqkit.data.sampler import DurationBatchSampler

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _padded_seconds(batch: list[int], durations: list[float]) -> float:
    return max(durations[i] for i in batch) * len(batch)


def _ranks(durations, max_batch_seconds, world, epoch=0, **kwargs) -> list[list[list[int]]]:
    per_rank = []
    for rank in range(world):
        sampler = DurationBatchSampler(durations, max_batch_seconds, num_replicas=world, rank=rank, **kwargs)
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(sampler) == len(batches)
        per_rank.append(batches)
    return per_rank


durations_strategy = st.lists(st.floats(min_value=0.2, max_value=20.0, allow_nan=False), min_size=1, max_size=150)


@SETTINGS
@given(
    durations=durations_strategy,
    max_batch_seconds=st.floats(min_value=5.0, max_value=120.0),
    world=st.integers(min_value=1, max_value=4),
    num_buckets=st.integers(min_value=1, max_value=30),
    shuffle=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_ranks_partition_the_epoch(durations, max_batch_seconds, world, num_buckets, shuffle, seed) -> None:
    for epoch in (0, 1, 2):
        greedy = DurationBatchSampler(
            durations, max_batch_seconds, num_buckets, shuffle, seed, num_replicas=1, rank=0
        )
        greedy.set_epoch(epoch)
        count = len(greedy.all_batches())
        if -(-count // world) * world > len(durations):
            # Splitting batches cannot reach a multiple of the world size: a clear error, no silent repeat.
            event("cannot shard")
            with pytest.raises(ValueError, match=f"multiple of {world}"):
                _ranks(durations, max_batch_seconds, world, epoch, num_buckets=num_buckets, shuffle=shuffle, seed=seed)
            continue
        per_rank = _ranks(durations, max_batch_seconds, world, epoch, num_buckets=num_buckets, shuffle=shuffle, seed=seed)
        event("split to shard" if count % world else "sharded as built")
        # Equal batch counts: no rank waits for another at the end of the epoch.
        assert len({len(batches) for batches in per_rank}) == 1
        assert len(per_rank[0]) >= 1
        seen = [index for batches in per_rank for batch in batches for index in batch]
        # Disjoint across ranks and every utterance exactly once: no repeats, no drops.
        assert sorted(seen) == list(range(len(durations)))
        for batches in per_rank:
            for batch in batches:
                assert batch, "empty batch"
                if len(batch) > 1:
                    assert _padded_seconds(batch, durations) <= max_batch_seconds + 1e-9
                # A single utterance longer than the budget goes alone: the only way over it.


def test_over_long_utterance_goes_alone() -> None:
    durations = [1.0, 1.0, 50.0, 1.0, 1.0, 1.0]
    batches = DurationBatchSampler(durations, 10.0, shuffle=False, num_replicas=1, rank=0).all_batches()
    assert [2] in batches
    assert all(_padded_seconds(b, durations) <= 10.0 for b in batches if b != [2])


def test_splits_largest_batches_to_a_multiple_of_the_world_size() -> None:
    durations = [1.0] * 10  # one batch of 10 fits in 10 s
    single = DurationBatchSampler(durations, 10.0, shuffle=False, num_replicas=1, rank=0).all_batches()
    assert single == [list(range(10))]
    four = DurationBatchSampler(durations, 10.0, shuffle=False, num_replicas=4, rank=0).all_batches()
    assert len(four) == 4
    assert sorted(i for b in four for i in b) == list(range(10))
    assert max(len(b) for b in four) - min(len(b) for b in four) <= 2


def test_too_few_utterances_for_the_world_size_raises() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        list(DurationBatchSampler([1.0, 2.0, 3.0], 100.0, num_replicas=4, rank=0))


def test_invalid_budget_raises() -> None:
    with pytest.raises(ValueError, match="positive"):
        DurationBatchSampler([1.0], 0.0)


@SETTINGS
@given(
    durations=st.lists(st.floats(min_value=0.5, max_value=15.0), min_size=40, max_size=150),
    world=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=1000),
    epoch=st.integers(min_value=0, max_value=50),
)
def test_deterministic_for_same_seed_and_epoch(durations, world, seed, epoch) -> None:
    first = _ranks(durations, 30.0, world, epoch, seed=seed)
    again = _ranks(durations, 30.0, world, epoch, seed=seed)
    assert first == again


def test_reshuffled_between_epochs() -> None:
    rng = random.Random(0)
    durations = [rng.uniform(1.0, 15.0) for _ in range(300)]
    sampler = DurationBatchSampler(durations, 60.0, num_replicas=2, rank=1, seed=7)
    epochs = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    for a in range(4):
        for b in range(a + 1, 4):
            assert epochs[a] != epochs[b]
            # Not only the batch order: the batches' contents change too.
            assert {tuple(sorted(x)) for x in epochs[a]} != {tuple(sorted(x)) for x in epochs[b]}
    # set_epoch back to an earlier epoch reproduces it exactly.
    sampler.set_epoch(1)
    assert list(sampler) == epochs[1]


def test_no_shuffle_is_sorted_by_duration_and_epoch_independent() -> None:
    rng = random.Random(1)
    durations = [rng.uniform(1.0, 15.0) for _ in range(100)]
    sampler = DurationBatchSampler(durations, 40.0, shuffle=False, num_replicas=1, rank=0)
    first = list(sampler)
    flat = [i for batch in first for i in batch]
    assert flat == sorted(range(100), key=durations.__getitem__)
    sampler.set_epoch(3)
    assert list(sampler) == first


def _padding_fraction(batches: list[list[int]], durations: list[float]) -> float:
    padded = sum(_padded_seconds(b, durations) for b in batches)
    return 1 - sum(durations) / padded


def _random_batches(durations: list[float], max_batch_seconds: float, seed: int) -> list[list[int]]:
    """The same greedy packing under the same budget, on a plain random order."""
    order = list(range(len(durations)))
    random.Random(seed).shuffle(order)
    batches, current, longest = [], [], 0.0
    for index in order:
        d = durations[index]
        if current and max(longest, d) * (len(current) + 1) > max_batch_seconds:
            batches.append(current)
            current, longest = [], 0.0
        current.append(index)
        longest = max(longest, d)
    return batches + [current]


def test_padding_fraction_far_below_random_batching() -> None:
    rng = random.Random(2)
    durations = [rng.uniform(1.0, 20.0) for _ in range(2000)]
    budget = 120.0
    for epoch in range(3):
        sampler = DurationBatchSampler(durations, budget, num_buckets=20, num_replicas=2, rank=0, seed=3)
        sampler.set_epoch(epoch)
        bucketed = _padding_fraction(sampler.all_batches(), durations)
        random_ = _padding_fraction(_random_batches(durations, budget, epoch), durations)
        # Uniform 1..20 s: random batches pad ~40%+; 20 buckets keep it to a few percent.
        assert random_ > 0.3
        assert bucketed < 0.1
        assert bucketed < random_ / 4


def test_equal_lengths_are_mixed_across_the_dataset_order():
    # 100 examples of one length, "sorted by class" (index // 10): batches must mix classes.
    sampler = DurationBatchSampler([1.0] * 100, float("inf"), num_buckets=10, seed=0, num_replicas=1, rank=0, max_batch_items=10)
    classes_per_batch = [len({index // 10 for index in batch}) for batch in sampler]
    assert sum(classes_per_batch) / len(classes_per_batch) > 4


def test_max_batch_items_caps_the_batch_size():
    sampler = DurationBatchSampler([1.0, 2.0, 3.0, 4.0, 5.0], 1000.0, num_replicas=1, rank=0, max_batch_items=2)
    batches = sampler.all_batches()
    assert max(len(b) for b in batches) == 2 and sorted(i for b in batches for i in b) == list(range(5))
    with pytest.raises(ValueError, match="max_batch_items"):
        DurationBatchSampler([1.0], 10.0, max_batch_items=0)


def test_resume_at_skips_the_trained_batches_of_that_epoch_only() -> None:
    durations = [0.5 + 0.1 * (i % 7) for i in range(40)]
    reference = DurationBatchSampler(durations, 2.0, num_buckets=4, seed=5)
    reference.set_epoch(3)
    epoch_3 = list(reference)
    reference.set_epoch(4)
    epoch_4 = list(reference)

    sampler = DurationBatchSampler(durations, 2.0, num_buckets=4, seed=5)
    sampler.resume_at(3, 4)
    assert sampler.epoch == 3
    assert list(sampler) == epoch_3[4:]
    assert list(sampler) == epoch_3[4:]  # every pass over the resumed epoch, not just the first
    assert len(sampler) == len(epoch_3)  # Lightning counts the trained batches itself
    sampler.set_epoch(3)
    assert list(sampler) == epoch_3[4:]
    sampler.set_epoch(4)
    assert list(sampler) == epoch_4
    sampler.set_epoch(3)
    assert list(sampler) == epoch_3  # the resume ended when the epoch moved on
