"""Packed sequences vs seqkit's padded bidirectional layer: forward+backward time, one run.

    python tools/bench_padding.py [--cell lstm --hidden 256 --batch 32 --frames 200 --device cpu]

Three ways to run one bidirectional layer over a padded batch of varied lengths:
  packed   pack_padded_sequence -> bidirectional RNN -> pad_packed_sequence (exact)
  seqkit   RecurrentLayer: forward RNN + backward RNN on sequences reversed within their
           lengths (exact: padding never reaches a valid frame)
  leaky    plain padded bidirectional RNN (fast, but the backward direction reads padding)
The three are timed in interleaved rounds so background load hits them alike; medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.encoders.rnn import RecurrentLayer

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(CELLS), default="lstm")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--features", type=int, default=320, help="input size (80 mels x 4 stacked)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=200, help="longest sequence")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    # Lengths spread like a duration bucket: 85-100% of the longest.
    lengths = torch.randint(int(args.frames * 0.85), args.frames + 1, (args.batch,))
    lengths[0] = args.frames
    x = torch.randn(args.batch, args.frames, args.features, device=device)

    seqkit_layer = RecurrentLayer(args.cell, args.features, args.hidden, bidirectional=True).to(device)
    fused = CELLS[args.cell](args.features, args.hidden, batch_first=True, bidirectional=True).to(device)

    def packed() -> torch.Tensor:
        packed_in = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)  # lengths: CPU int64
        out, _ = fused(packed_in)
        return pad_packed_sequence(out, batch_first=True, total_length=args.frames)[0]

    ways = {
        "packed": packed,
        "seqkit": lambda: seqkit_layer(x, lengths),
        "leaky": lambda: fused(x)[0],
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_index in range(args.rounds + 1):
        for name, run in ways.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            run().sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if round_index:  # round 0 warms up
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
    print(f"{args.cell} hidden {args.hidden}, batch {args.batch} x {args.frames} frames, {device}, torch {torch.__version__}")
    for name, ms in medians.items():
        print(f"  {name:7s} {ms:8.1f} ms/step   {medians['packed'] / ms:5.2f}x packed speed")
    return medians


if __name__ == "__main__":
    main()
