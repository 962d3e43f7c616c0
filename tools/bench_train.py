#!/usr/bin/env python
"""Training throughput: seqkit (Lightning) against a bare PyTorch loop, same model, same batches.

Method.  One process trains the speech-to-text model two ways:

* **seqkit** -- ``lightning.Trainer.fit`` of a :class:`SpeechToText` task on a
  :class:`SpeechDataModule`, the path ``seqkit fit`` takes (gradient clipping at 5,
  warm-up LR schedule, ``self.log`` calls; its loggers and callbacks with ``--loggers``).  A callback stamps the clock at
  ``on_train_batch_start`` (batch fetched and on the device) and ``on_train_batch_end``
  (optimizer and scheduler stepped).
* **bare** -- the same modules (log-mel -> utterance CMVN -> RNN encoder -> CTC head,
  built in the same order under the same seed, so the initial weights are equal), fed
  by a DataLoader built from the same dataset, ``DurationBatchSampler`` (same seed and
  epoch) and collate function; AdamW, ``backward``, ``clip_grad_norm_``, ``step``.

A step's time is the period from the end of one step to the end of the next, so the
wait for the next batch and any loop overhead are charged to it; the first ``--warmup``
steps of every run (worker start-up, allocator growth) are not measured.  Both methods
see the same batches (the first ``warmup + steps`` from epoch 0 on; checked by utterance id).
The loader share is the part of the step spent before the batch is in hand on the device.
CPU timings on a shared machine are noisy, so each method runs ``--rounds`` times in
alternating order (A B, B A, A B, ...: a slow spell or a drift hits both alike), every
step's time is the median over rounds, and throughput is real (unpadded) audio seconds
over the summed median step times (also shown: the fastest round of each step, as noise
only adds time).  Audio files are read once beforehand so neither method pays for a
cold page cache.  Torch runs one intra-op thread by default (``--threads``): on a small
machine shared with other jobs, every multi-threaded op waits at its barrier for a
descheduled thread, which made steps 2-5x slower and erratic on 2 busy cores.

Padding fraction = 1 - real samples / padded samples, over the measured batches, and
over a whole epoch of the sampler (durations only) for several ``num_buckets``.

    python tools/bench_train.py                      # speechocean762 baseline shape, CPU
    python tools/bench_train.py --device cuda --precision bf16-mixed --json bench.json
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import sys
import tempfile
import typing
import warnings
from pathlib import Path
from typing import Callable, Iterator

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import Tensor, nn
from torch.utils.data import DataLoader

from seqkit.data.manifest import write_manifest
from seqkit.data.paths import expand_data_path
from seqkit.data.sampler import DurationBatchSampler
from seqkit.data.speech import SpeechDataModule, SpeechDataset, collate_speech
from seqkit.encoders.rnn import Cell, RNNEncoder
from seqkit.features.cmvn import UtteranceCMVN
from seqkit.features.spectral import LogMelFilterbank
from seqkit.heads.ctc import CTCHead
from seqkit.tasks.speech_to_text import SpeechToText

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling, also when loaded by path
from bench_steps import StepLog, StepTimer, TimedLoader, make_sync, peak_mb, reset_peak, summarize  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PREPARE = "recipes/speech_to_text/speechocean762/prepare.py"
SWEEP_BUCKETS = (1, 10, 30, 60)
CLIP = 5.0


class BareModel(nn.Module):
    """``SpeechToText.forward`` without Lightning (no SpecAugment in either method)."""

    def __init__(self, features: nn.Module, normalizer: nn.Module, encoder: RNNEncoder, head: CTCHead) -> None:
        super().__init__()
        self.features, self.normalizer, self.encoder, self.head = features, normalizer, encoder, head

    def forward(self, waveforms: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        feats, frames = self.features(waveforms, lengths)
        encoded, out_lengths = self.encoder(self.normalizer(feats, frames), frames)
        return self.head(encoded), out_lengths


def build_parts(args: argparse.Namespace) -> tuple[LogMelFilterbank, UtteranceCMVN, Callable[[int], RNNEncoder]]:
    features = LogMelFilterbank(sample_rate=args.sample_rate, n_mels=args.n_mels)
    encoder = functools.partial(
        RNNEncoder, cell=args.cell, hidden_size=args.hidden, num_layers=args.layers, stack_frames=args.stack
    )
    return features, UtteranceCMVN(), encoder


def build_task(args: argparse.Namespace, tokenizer_state: dict) -> SpeechToText:
    torch.manual_seed(args.seed)
    features, normalizer, encoder = build_parts(args)
    optimizer = functools.partial(torch.optim.AdamW, lr=args.lr)
    return SpeechToText(tokenizer_state, features, encoder, CTCHead, normalizer=normalizer, optimizer=optimizer)


def build_bare(args: argparse.Namespace, vocab_size: int) -> BareModel:
    torch.manual_seed(args.seed)  # same seed, same construction order as SpeechToText: same weights
    features, normalizer, make_encoder = build_parts(args)
    encoder = make_encoder(features.output_size)
    return BareModel(features, normalizer, encoder, CTCHead(encoder.output_size, vocab_size))


def run_seqkit(args: argparse.Namespace, dm: SpeechDataModule, device: torch.device) -> StepLog:
    log = StepLog(args.warmup, make_sync(device))
    task = build_task(args, dm.tokenizer_state)
    with tempfile.TemporaryDirectory() as root:
        loggers: list | bool = False
        if args.loggers:  # what `seqkit fit` attaches; its LearningRateMonitor needs a logger
            loggers = [CSVLogger(root, name="", version="v"), TensorBoardLogger(root, name="", version="v")]
        else:
            task.configure_callbacks = lambda: []  # LearningRateMonitor refuses logger=False
        trainer = L.Trainer(
            accelerator="cpu" if device.type == "cpu" else "gpu", devices=1, precision=args.precision,
            max_steps=args.warmup + args.steps, logger=loggers, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
            num_sanity_val_steps=0, limit_val_batches=0, gradient_clip_val=CLIP,
            callbacks=[StepTimer(log)], default_root_dir=root,
        )
        reset_peak(device)
        make_loader = dm.train_dataloader
        dm.train_dataloader = lambda: TimedLoader(make_loader(), log)
        try:
            trainer.fit(task, datamodule=dm)
        finally:
            del dm.train_dataloader  # the class's method again
        log.peak_mb = peak_mb(device)
    return log


def bare_loader(args: argparse.Namespace, dm: SpeechDataModule, device: torch.device) -> DataLoader:
    """What ``SpeechDataModule.train_dataloader`` builds, spelled out."""
    utterances = dm.utterances("fit")  # after the task's data checks (on_bad=skip)
    sampler = DurationBatchSampler(
        [u.duration for u in utterances], dm.max_batch_seconds, num_buckets=dm.num_buckets, shuffle=True, seed=dm.seed
    )
    return DataLoader(
        SpeechDataset(utterances, dm.tokenizer, dm.sample_rate, dm.on_bad),
        batch_sampler=sampler,
        collate_fn=collate_speech,
        num_workers=dm.num_workers,
        persistent_workers=dm.num_workers > 0,
        pin_memory=device.type == "cuda",
    )


def epochs(loader: DataLoader | TimedLoader) -> Iterator[tuple[dict, bool]]:
    """(batch, first of its epoch) over successive epochs, calling ``set_epoch`` as Lightning does."""
    epoch = 0
    while True:
        loader.batch_sampler.set_epoch(epoch)
        for index, batch in enumerate(loader):
            yield batch, index == 0
        epoch += 1


def run_bare(args: argparse.Namespace, dm: SpeechDataModule, device: torch.device) -> StepLog:
    log = StepLog(args.warmup, make_sync(device))
    model = build_bare(args, dm.tokenizer.vocab_size).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    autocast_dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(args.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "16-mixed")  # as Lightning's 16-mixed
    blocking = device.type == "cpu"
    reset_peak(device)
    batches = epochs(TimedLoader(bare_loader(args, dm, device), log))
    for _ in range(args.warmup + args.steps):
        host_batch, epoch_start = next(batches)
        batch = {k: v.to(device, non_blocking=not blocking) if isinstance(v, Tensor) else v for k, v in host_batch.items()}
        log.started()
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            log_probs, out_lengths = model(batch["waveforms"], batch["lengths"])
            loss = CTCHead.loss(log_probs, out_lengths, batch["targets"], batch["target_lengths"])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        scaler.step(optimizer)
        scaler.update()
        log.ended(batch, epoch_start)
    log.peak_mb = peak_mb(device)
    return log


def epoch_padding(durations: list[float], max_batch_seconds: float, num_buckets: int, seed: int) -> float:
    """Padding fraction of one whole shuffled epoch of the sampler, from durations alone."""
    batches = DurationBatchSampler(durations, max_batch_seconds, num_buckets=num_buckets, seed=seed).all_batches()
    padded = sum(len(b) * max(durations[i] for i in b) for b in batches)
    return 1 - sum(durations) / padded


def prime_page_cache(dm: SpeechDataModule, n_batches: int) -> None:
    """Read the audio of the batches the runs will use, so the first run is not the only cold one."""
    utterances = dm.utterances("fit")
    sampler = DurationBatchSampler([u.duration for u in utterances], dm.max_batch_seconds, dm.num_buckets, seed=dm.seed)
    for batch in sampler.all_batches()[:n_batches]:  # epoch 0: all a short run uses
        for index in batch:
            Path(utterances[index].audio).read_bytes()


def benchmark(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    dm = SpeechDataModule(
        train_manifest=args.manifest, data_root=args.data_root, sample_rate=args.sample_rate,
        max_batch_seconds=args.max_batch_seconds, num_buckets=args.num_buckets, num_workers=args.num_workers,
        on_bad="skip", seed=args.seed,
    )
    prime_page_cache(dm, args.warmup + args.steps)
    runs: dict[str, list[StepLog]] = {"seqkit": [], "bare": []}
    for round_ in range(args.rounds):
        order = ("seqkit", "bare") if round_ % 2 == 0 else ("bare", "seqkit")  # A B, B A, ...
        for method in order:
            run = run_seqkit if method == "seqkit" else run_bare
            runs[method].append(run(args, dm, device))
            gc.collect()
    first = runs["seqkit"][0]
    same = all(log.ids == first.ids for logs in runs.values() for log in logs)
    real = sum(sum(lengths) for lengths in first.lengths)
    padded = sum(len(lengths) * max(lengths) for lengths in first.lengths)
    durations = [u.duration for u in dm.utterances("fit")]
    seqkit, bare = summarize(runs["seqkit"], args.sample_rate), summarize(runs["bare"], args.sample_rate)
    return {
        "manifest": str(getattr(args, "source_manifest", args.manifest)),
        "repeat": args.repeat,
        "utterances": len(durations),
        "hours": sum(durations) / 3600,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "lightning": L.__version__,
        "config": {k: v for k, v in vars(args).items() if k not in ("manifest", "source_manifest", "data_root", "device", "json")},
        "vocab_size": dm.tokenizer.vocab_size,
        "same_batches": same,
        "measured_steps": len(first.period),
        "measured_audio_seconds": real / args.sample_rate,
        "padding_fraction": 1 - real / padded,
        "epoch_padding_by_num_buckets": {
            str(n): epoch_padding(durations, args.max_batch_seconds, n, args.seed) for n in SWEEP_BUCKETS
        },
        "seqkit": seqkit, "bare": bare,
        "ratio_seqkit_over_bare": seqkit["audio_sec_per_sec"] / bare["audio_sec_per_sec"],
        "ratio_best_seqkit_over_bare": seqkit["audio_sec_per_sec_best"] / bare["audio_sec_per_sec_best"],
    }


def report(r: dict) -> str:
    c = r["config"]
    repeat = f" listed {r['repeat']} times" if r["repeat"] > 1 else ""
    memory = "peak GPU mem" if "cpu" not in r["device"] else "peak RSS"
    rows = [
        f"{r['manifest']}{repeat}: {r['utterances']} utterances, "
        f"{r['hours']:.2f} h | {r['device']}, "
        f"torch {r['torch']}, lightning {r['lightning']}",
        f"model: {c['layers']}x{c['hidden']} bi-{c['cell']}, {c['n_mels']} mel x{c['stack']} stacked, CTC over "
        f"{r['vocab_size']} chars; batches <= {c['max_batch_seconds']:g} s padded, {c['num_buckets']} buckets, "
        f"{c['num_workers']} workers, precision {c['precision']}",
        f"{c['rounds']} rounds (A B, B A, ...) x {c['steps']} measured steps after {c['warmup']} warm-up, "
        f"same batches: {'yes' if r['same_batches'] else 'NO'}, {r['measured_audio_seconds']:.0f} s of audio per run",
        "",
        f"{'':20}{'audio-s/s':>10}{'fastest':>9}{'step median':>13}{'loader share':>14}{memory:>13}   per round",
    ]
    for name, key in (("seqkit (Lightning)", "seqkit"), ("bare PyTorch loop", "bare")):
        m = r[key]
        rows.append(
            f"{name:20}{m['audio_sec_per_sec']:>10.1f}{m['audio_sec_per_sec_best']:>9.1f}"
            f"{m['step_time_median_s']:>11.3f} s{m['loader_share']:>14.1%}{m['peak_memory_mb']:>10.0f} MB   "
            + " ".join(f"{x:.1f}" for x in m["runs_audio_sec_per_sec"])
        )
    for name, key in (("seqkit", "seqkit"), ("bare", "bare")):
        m = r[key]
        within, start = m["loader_share_within_epochs"], m["epoch_start_wait_median_s"]
        parts = [f"inside the DataLoader's next() {m['fetch_share']:.1%} of the time"]
        if within is not None:
            parts.append(f"loader share without the first step of each epoch {within:.1%}")
        parts.append(f"a new epoch's first batch waited {start * 1000:.0f} ms (median)" if start is not None else "no epoch started")
        rows.append(f"{name}: " + "; ".join(parts))
    sweep = "  ".join(f"{n}: {p:.1%}" for n, p in r["epoch_padding_by_num_buckets"].items())
    rows += [
        "" if r["same_batches"] else "\nWARNING: the methods saw different batches (an epoch boundary? Lightning "
        "never calls DurationBatchSampler.set_epoch)",
        f"ratio seqkit/bare: {r['ratio_seqkit_over_bare']:.3f} (target >= 0.9; per-step medians over rounds), "
        f"{r['ratio_best_seqkit_over_bare']:.3f} (fastest round of each step)",
        f"padding over the measured batches: {r['padding_fraction']:.1%} (target <= 10%)",
        f"padding over a whole epoch, by num_buckets (max {c['max_batch_seconds']:g} s): {sweep}",
    ]
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", default=str(REPO_ROOT / "data" / "speechocean762" / "train.jsonl"))
    p.add_argument("--data-root", default="${SEQKIT_DATA}/speechocean762", help="audio paths are relative to it")
    p.add_argument("--cell", choices=typing.get_args(Cell), default="lstm")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--stack", type=int, default=4, help="frames stacked before the encoder")
    p.add_argument("--n-mels", type=int, default=80)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--max-batch-seconds", type=float, default=60.0)
    p.add_argument("--num-buckets", type=int, default=30)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=7, help="measured steps per run")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured steps at the start of every run")
    p.add_argument("--rounds", type=int, default=3, help="runs of each method, in alternating order")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads, 0 for torch's default (see the module docstring)")
    p.add_argument("--precision", choices=("32", "bf16-mixed", "16-mixed"), default="32", help="16-mixed: CUDA only")
    p.add_argument("--loggers", action="store_true",
                   help="seqkit side: CSV+TensorBoard loggers and the task's callbacks, as `seqkit fit` has")
    p.add_argument("--repeat", type=int, default=1,
                   help="list every utterance N times: epochs of many batches from a small corpus (a new "
                        "epoch's first batch waits for one worker, which short epochs would overweight)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.rounds < 1:
        p.error("--warmup, --steps and --rounds must be >= 1 (the first step has no previous end to time from)")
    if args.precision == "16-mixed" and args.device != "cuda":
        p.error("--precision 16-mixed needs --device cuda (fp16 autocast is a GPU mode)")
    return args


def repeated(args: argparse.Namespace, folder: Path) -> argparse.Namespace:
    """``args`` reading a manifest that lists every utterance ``args.repeat`` times (new ids)."""
    lines = Path(expand_data_path(args.manifest)).read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    copies = [{**r, "id": f"{r['id']}-copy{k}"} for k in range(args.repeat) for r in records]
    path = folder / f"x{args.repeat}.jsonl"
    write_manifest(path, copies)
    # Audio paths stay relative to --data-root, so the copy may live elsewhere.
    return argparse.Namespace(**{**vars(args), "manifest": str(path), "source_manifest": args.manifest})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(expand_data_path(args.manifest)).is_file():
        print(f"error: no manifest {args.manifest}; prepare speechocean762 first:\n"
              f"  python {PREPARE} --out data/speechocean762", file=sys.stderr)
        return 1
    # Lightning's start-up chatter and known warnings would bury the table.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        for message in ("does not have many workers", "is an instance of `nn.Module`", "LeafSpec"):
            warnings.filterwarnings("ignore", message=f".*{message}.*")
        with tempfile.TemporaryDirectory() as tmp:
            results = benchmark(repeated(args, Path(tmp)) if args.repeat > 1 else args)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
