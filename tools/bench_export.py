#!/usr/bin/env python
"""Exported vs PyTorch on CPU: max abs difference and per-call latency, for a recipe's model.

Builds the model of ``--config`` (default: the reference speechocean762 BiLSTM) with
random weights and a character vocabulary, writes it through ``seqkit export``'s code
path (ONNX and TorchScript), and runs PyTorch, onnxruntime and TorchScript on the same
random batch of waveforms (``--batch`` utterances, the longest ``--seconds`` long, the
others shorter).  Latency is the median of ``--iters`` calls after ``--warmup``; the
difference is over the valid output frames (log-probs).

    python tools/bench_export.py
    python tools/bench_export.py --batch 1 --seconds 10 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import string
import tempfile
import time
from pathlib import Path

import torch
import yaml
from lightning.pytorch.cli import instantiate_module

from seqkit.commands.checkpoint import _import
from seqkit.data.tokenizer import CharTokenizer
from seqkit.export.formats import ExportedModel, example_inputs, export, max_abs_diff
from seqkit.export.graph import ExportGraph

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "speech_to_text" / "speechocean762_bilstm.yaml"


def build_task(config: Path) -> torch.nn.Module:
    model = yaml.safe_load(config.read_text())["model"]
    init_args = {k: v for k, v in model["init_args"].items() if k not in ("optimizer", "decoder")}
    init_args["tokenizer"] = CharTokenizer().fit([string.ascii_lowercase + "' "]).state()
    torch.manual_seed(0)
    return instantiate_module(_import(model["class_path"]), {"_class_path": model["class_path"], **init_args}).eval()


def median_seconds(call, iters: int, warmup: int) -> float:
    times = []
    for step in range(warmup + iters):
        start = time.perf_counter()
        call()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch and onnxruntime intra-op threads (0: their defaults)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = build_task(args.config)
    graph = ExportGraph(task)
    rate = task.features.sample_rate
    inputs, lengths = example_inputs(task, graph, args.batch, int(args.seconds * rate), seed=1)
    print(f"model: {args.config.name}, {sum(p.numel() for p in task.parameters()) / 1e6:.2f} M parameters, random weights")
    print(f"graph: {' -> '.join(graph.spec.inside)}")
    print(f"batch: {args.batch} waveforms, {args.seconds:g} s longest, {lengths.sum().item() / rate:.1f} s of audio in all; "
          f"torch threads {torch.get_num_threads()}")
    with torch.inference_mode():
        reference = task(inputs, lengths)
        pytorch = median_seconds(lambda: task(inputs, lengths), args.iters, args.warmup)
    print(f"{'runtime':<12} {'latency/call':>12} {'max abs diff':>13}")
    print(f"{'pytorch':<12} {pytorch * 1000:>10.1f} ms {'-':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for fmt, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
            path = Path(folder) / f"model{suffix}"
            # Traced at another batch size and length than the one measured: the axes are dynamic.
            export(graph, example_inputs(task, graph, 2, rate, seed=0), path, fmt)
            model = ExportedModel(path, fmt)
            if fmt == "onnx" and args.threads:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = args.threads
                model.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            diff = max_abs_diff(reference, model(inputs, lengths))
            seconds = median_seconds(lambda: model(inputs, lengths), args.iters, args.warmup)
            print(f"{fmt:<12} {seconds * 1000:>10.1f} ms {diff:>13.2e}")


if __name__ == "__main__":
    main()
