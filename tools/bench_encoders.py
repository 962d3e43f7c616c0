#!/usr/bin/env python
"""Encoder speed: forward + backward time of seqkit's RNNEncoder per cell, at equal width.

Every row trains the same shape of bidirectional stack (``--layers`` x ``--hidden`` units
per direction) on the same random batch (B, T, F) with all lengths = T, and times one
training step's encoder work: forward, a loss, backward (the optimizer step is the same
for every cell and left out).  Rows cover the cells (cuDNN's LSTM and GRU step through
time; minGRU is a parallel scan) and the frame-stacking factors, the other speed lever:
stacking k frames divides the steps by k.  Each row is timed ``--iters`` times after
``--warmup`` unmeasured steps; the median is reported with the ratio against the first
row of the same precision (LSTM, no stacking, by default).

    python tools/bench_encoders.py                       # CPU-sized default
    python tools/bench_encoders.py --device cuda --batch 64 --frames 800 --hidden 320 \\
        --layers 4 --precision 32 bf16-mixed --json encoders.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import typing
from pathlib import Path

import torch

from seqkit.encoders.rnn import Cell, RNNEncoder

AUTOCAST = {"32": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def time_step(encoder: RNNEncoder, x: torch.Tensor, lengths: torch.Tensor, precision: str, iters: int, warmup: int) -> tuple[float, float]:
    """Median seconds of forward + backward over ``iters`` steps, and peak MiB (CUDA; else 0)."""
    device = x.device
    dtype = AUTOCAST[precision]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = []
    for step in range(warmup + iters):
        sync()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out, _ = encoder(x, lengths)  # (B, T / k, 2H)
        out.float().square().mean().backward()
        sync()
        if step >= warmup:
            seconds.append(time.perf_counter() - start)
        encoder.zero_grad(set_to_none=True)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    return statistics.median(seconds), peak


def benchmark(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.frames, args.input_size, device=device)
    lengths = torch.full((args.batch,), args.frames, dtype=torch.int64)
    rows = []
    for precision in args.precision:
        for cell in args.cells:
            for stack in args.stack:
                encoder = RNNEncoder(
                    args.input_size, cell=cell, hidden_size=args.hidden, num_layers=args.layers,
                    bidirectional=True, dropout=0.0, stack_frames=stack,
                ).to(device)
                seconds, peak = time_step(encoder, x, lengths, precision, args.iters, args.warmup)
                rows.append({"precision": precision, "cell": cell, "stack": stack, "ms": 1000 * seconds,
                             "frames_per_sec": args.batch * args.frames / seconds, "peak_mib": peak,
                             "parameters": sum(p.numel() for p in encoder.parameters())})
                del encoder
    for row in rows:
        base = next(r for r in rows if r["precision"] == row["precision"])
        row["speedup_vs_first"] = base["ms"] / row["ms"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    config = {k: v for k, v in vars(args).items() if k != "json"}
    return {"device": name, "torch": torch.__version__, "config": config, "rows": rows}


def report(results: dict) -> str:
    c = results["config"]
    lines = [
        f"Encoder forward+backward on {results['device']}, torch {results['torch']}: bidirectional, "
        f"{c['layers']} layers x {c['hidden']} units/direction, batch {c['batch']} x {c['frames']} frames x "
        f"{c['input_size']} features; median of {c['iters']} steps after {c['warmup']} warm-up",
        "",
        "| precision | cell | stack | ms/step | input frames/s | peak MiB | params | speed-up vs first row |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['precision']} | {r['cell']} | x{r['stack']} | {r['ms']:.1f} | {r['frames_per_sec']:,.0f} | "
            f"{r['peak_mib']:.0f} | {r['parameters']:,} | {r['speedup_vs_first']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--cells", nargs="+", choices=typing.get_args(Cell), default=["lstm", "gru", "mingru"])
    p.add_argument("--stack", nargs="+", type=int, default=[1, 4], help="frame-stacking factors")
    p.add_argument("--precision", nargs="+", choices=tuple(AUTOCAST), default=["32"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--input-size", type=int, default=80)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="CPU intra-op threads, 0 for torch's default")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if args.device == "cpu" and "16-mixed" in args.precision:
        p.error("16-mixed needs --device cuda")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = benchmark(args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
