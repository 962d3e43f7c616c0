#!/usr/bin/env python
"""Host time of moving one training batch to the device: Lightning's generic transfer
against the data modules' own (``BucketedDataModule.transfer_batch_to_device``).

The batch is a real one: the first ``--utterances`` of the manifest, read and collated by
``SpeechDataset`` and ``collate_speech`` as training does.  Lightning's
``move_data_to_device`` walks every item of the batch, the strings of its id, text and
speaker lists included; the data modules move the tensors alone.  Each method is timed over
``--calls`` calls, in ``--rounds`` alternating rounds; the median round is printed.  On
CUDA the copies are asynchronous, so this is the host's share of a step, which is what a
fast GPU step waits for.

    python tools/bench_batch_transfer.py                  # speechocean762 batch of 60, CPU
    python tools/bench_batch_transfer.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from seqkit.data.bucketed import BucketedDataModule
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path
from seqkit.data.speech import SpeechDataset, collate_speech
from seqkit.data.tokenizer import CharTokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]


def real_batch(manifest: str, data_root: str, utterances: int) -> dict:
    chosen = read_manifest(expand_data_path(manifest), expand_data_path(data_root))[:utterances]
    tokenizer = CharTokenizer().fit(u.text for u in chosen)
    dataset = SpeechDataset(chosen, tokenizer, 16000, "error")
    return collate_speech([dataset[i] for i in range(len(chosen))])


def seconds_per_call(move, batch: dict, device: torch.device, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        move(batch, device)
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", default=str(REPO_ROOT / "data" / "speechocean762" / "train.jsonl"))
    p.add_argument("--data-root", default="${SEQKIT_DATA}/speechocean762", help="audio paths are relative to it")
    p.add_argument("--utterances", type=int, default=60)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = p.parse_args(argv)
    if not Path(expand_data_path(args.manifest)).is_file():
        print(f"error: no manifest {args.manifest}; prepare speechocean762 first:\n"
              "  python recipes/speech_to_text/speechocean762/prepare.py", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    device = torch.device(args.device)
    batch = real_batch(args.manifest, args.data_root, args.utterances)
    data_module = BucketedDataModule()
    methods = {
        "lightning move_data_to_device": move_data_to_device,
        "seqkit data module": lambda b, d: data_module.transfer_batch_to_device(b, d, 0),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    for round_ in range(args.rounds):
        for name in list(methods)[:: 1 if round_ % 2 == 0 else -1]:  # A B, B A, ...
            times[name].append(seconds_per_call(methods[name], batch, device, args.calls))
    seconds = sum(batch["lengths"].tolist()) / 16000
    print(f"batch: {len(batch['ids'])} utterances, {seconds:.0f} s of audio, {len(batch)} fields | {args.device}, "
          f"torch {torch.__version__}, {args.rounds} rounds x {args.calls} calls")
    for name, values in times.items():
        print(f"{name:32}{statistics.median(values) * 1e6:>9.1f} us a call (median round)")
    ratio = statistics.median(times["lightning move_data_to_device"]) / statistics.median(times["seqkit data module"])
    print(f"seqkit's transfer is {ratio:.0f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
