"""DurationBatchSampler in two real DDP processes (gloo on CPU): ranks read their rank and
world size from the process group and together see every utterance exactly once."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp

from seqkit.data.sampler import DurationBatchSampler

WORLD = 2


def _rank_main(rank: int, init_file: str, out_dir: str, durations: list[float]) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        sampler = DurationBatchSampler(durations, max_batch_seconds=20.0, num_buckets=5, seed=3)
        epochs = {}
        for epoch in range(2):
            sampler.set_epoch(epoch)
            epochs[epoch] = {"len": len(sampler), "batches": list(sampler)}
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(epochs))
    finally:
        dist.destroy_process_group()


def test_two_processes_share_an_epoch_exactly(tmp_path: Path) -> None:
    rng = random.Random(0)
    durations = [rng.uniform(0.5, 8.0) for _ in range(97)]
    mp.spawn(_rank_main, args=(str(tmp_path / "init"), str(tmp_path), durations), nprocs=WORLD, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    for epoch in ("0", "1"):
        batches = [r[epoch]["batches"] for r in ranks]
        assert len(batches[0]) == len(batches[1]) == ranks[0][epoch]["len"]  # equal steps: no DDP hang
        seen = [i for rank_batches in batches for batch in rank_batches for i in batch]
        assert sorted(seen) == list(range(len(durations)))  # every utterance once, no duplicates
        audio = [sum(durations[i] for batch in rank_batches for i in batch) for rank_batches in batches]
        assert min(audio) > 0.6 * max(audio)  # the ranks get similar amounts of audio
    assert ranks[0]["0"]["batches"] != ranks[0]["1"]["batches"]  # reshuffled each epoch
