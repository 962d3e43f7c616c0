#!/usr/bin/env python
"""Fuzz ``seqkit.data.audio.load_audio`` with mutated WAV and FLAC bytes.

    python tools/fuzz_audio.py --iterations 10000 --seed 0 --save-failures /tmp/fuzz-audio

Inputs are mutations (bit flips, byte replacement, truncation, chunk duplication or
deletion, header fields set to boundary values, splices) of short WAV/FLAC seeds written
here, or empty or random files; one in ten is read by offset/size from a bigger file.  A
load must return a non-empty finite float32 1-D tensor or raise ``AudioError``; anything
else fails: another exception, a wrong result, a load over ``--timeout`` s (SIGALRM), one
needing over ``--memory-mb`` of address space (RLIMIT_AS: a tiny file must not exhaust
memory).  A load that no signal interrupts ends the process (exit 3) after 3 x --timeout.
Exit status 1 on any failure.  Rerun input I of seed S: ``--seed S --start I --iterations 1``.
"""

from __future__ import annotations

import argparse
import faulthandler
import io
import json
import os
import random
import re
import resource
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import torch
from tqdm import tqdm

from seqkit.data.audio import AudioError, load_audio

TARGET_RATE = 16000
SEED_SPECS = [  # name, sample rate, channels, container, subtype, seconds
    ("pcm16-mono-8k.wav", 8000, 1, "WAV", "PCM_16", 0.1),
    ("pcm16-stereo-16k.wav", 16000, 2, "WAV", "PCM_16", 0.05),
    ("float-mono-48k.wav", 48000, 1, "WAV", "FLOAT", 0.03),
    ("float-stereo-44k.wav", 44100, 2, "WAV", "FLOAT", 0.03),
    ("flac16-mono-16k.flac", 16000, 1, "FLAC", "PCM_16", 0.1),
    ("flac24-stereo-22k.flac", 22050, 2, "FLAC", "PCM_24", 0.05),
]
Field = tuple[str, int, int, bool]  # name, bit offset, bit width, little-endian (byte aligned) else big-endian
MUTATIONS = ("flip_bits", "replace_bytes", "truncate", "duplicate_chunk", "delete_chunk", "field", "field", "splice")


@dataclass
class Seed:
    name: str
    data: bytes
    fields: list[Field]


@dataclass
class Summary:
    seed: int
    inputs: int = 0
    ok: int = 0
    errors: Counter = field(default_factory=Counter)  # clean AudioError, by reason class
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0


class Timeout(BaseException):  # raised by SIGALRM; not an Exception, so that no handler on the way swallows it
    pass


def wav_fields(data: bytes) -> list[Field]:
    fields, pos = [("riff_size", 32, 32, True)], 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        fields.append((f"{chunk.decode('latin-1').strip()}_size", (pos + 4) * 8, 32, True))
        if chunk == b"fmt ":
            fields += [(name, (pos + 8 + off) * 8, width, True) for name, off, width in (
                ("format", 0, 16), ("channels", 2, 16), ("sample_rate", 4, 32), ("byte_rate", 8, 32),
                ("block_align", 12, 16), ("bits", 14, 16))]
        pos += 8 + size + (size & 1)
    return fields


def flac_fields(data: bytes) -> list[Field]:
    fields, pos, last = [], 4, 0
    while pos + 4 <= len(data) and not last:
        fields.append(("block_length", (pos + 1) * 8, 24, False))
        if data[pos] & 0x7F == 0:  # STREAMINFO
            fields += [(name, (pos + 4) * 8 + bit, width, False) for name, bit, width in (
                ("min_block", 0, 16), ("max_block", 16, 16), ("min_frame", 32, 24), ("max_frame", 56, 24),
                ("sample_rate", 80, 20), ("channels", 100, 3), ("bits", 103, 5), ("total_samples", 108, 36))]
        last, pos = data[pos] & 0x80, pos + 4 + int.from_bytes(data[pos + 1 : pos + 4], "big")
    frame = data.find(b"\xff\xf8", pos)  # the first frame's header
    return fields + [(name, frame * 8 + bit, width, False) for name, bit, width in (
        ("frame_block_code", 16, 4), ("frame_rate_code", 20, 4), ("frame_channels", 24, 4),
        ("frame_sample_size", 28, 3))] * (frame >= 0)


def make_seeds() -> list[Seed]:
    rng, seeds = np.random.default_rng(0), []
    for name, rate, channels, container, subtype, seconds in SEED_SPECS:
        t = np.arange(int(rate * seconds)) / rate
        wave = 0.4 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((t.size, channels))
        buffer = io.BytesIO()
        soundfile.write(buffer, wave.astype(np.float32), rate, format=container, subtype=subtype)
        data = buffer.getvalue()
        seeds.append(Seed(name, data, wav_fields(data) if container == "WAV" else flac_fields(data)))
    return seeds


def field_bits(data: bytearray, spec: Field, value: int | None = None) -> int | None:
    """The field's value; with ``value``, set it first.  None when the field lies past the end."""
    _, bit, width, little = spec
    start, end, mask = bit // 8, (bit + width + 7) // 8, (1 << width) - 1
    if end > len(data):
        return None
    shift = 0 if little else (end - start) * 8 - (bit - start * 8) - width
    order = "little" if little else "big"
    word = int.from_bytes(data[start:end], order)
    if value is not None:
        word = word & ~(mask << shift) | (value & mask) << shift
        data[start:end] = word.to_bytes(end - start, order)
    return word >> shift & mask


def mutate(rng: random.Random, data: bytearray, seed: Seed, seeds: list[Seed]) -> str:
    """Change ``data`` in place by one random mutation; describe it."""
    kind, start = rng.choice(MUTATIONS), rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 512))
    if kind == "flip_bits":
        span = min(len(data), 64) if rng.random() < 0.5 else len(data)  # half of them in the header
        bits = [rng.randrange(span * 8) for _ in range(rng.randint(1, 8))]
        for bit in bits:
            data[bit // 8] ^= 1 << bit % 8
        return f"flip bits {bits}"
    if kind == "replace_bytes":
        where = [rng.randrange(len(data)) for _ in range(rng.randint(1, 16))]
        for pos in where:
            data[pos] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        return f"replace bytes at {where}"
    if kind == "truncate":
        del data[start:]
        return f"truncate at {start}"
    if kind == "duplicate_chunk":
        to = rng.randrange(len(data) + 1)
        data[to:to] = data[start:end]
        return f"copy [{start}:{end}] to {to}"
    if kind == "delete_chunk":
        del data[start:end]
        return f"delete [{start}:{end}]"
    if kind == "splice":
        other = rng.choice(seeds)
        cut = rng.randrange(len(other.data))
        data[start:] = other.data[cut:]
        return f"splice {other.name}[{cut}:] at {start}"
    spec = rng.choice(seed.fields)
    old, top = field_bits(data, spec), (1 << spec[2]) - 1
    if old is None:
        return f"field {spec[0]}: past the end"
    value = rng.choice((0, 1, 2, 3, 7, 8, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                        top, top >> 1, old + 1, old - 1, old * 2, old // 2, rng.randrange(top + 1))) & top
    field_bits(data, spec, value)
    return f"field {spec[0]} {old} -> {value}"


def make_input(rng: random.Random, seeds: list[Seed]) -> tuple[bytes, str]:
    roll = rng.random()
    if roll < 0.01:
        return b"", "empty file"
    if roll < 0.04:
        magic = rng.choice((b"", b"RIFF\xff\x00\x00\x00WAVEfmt ", b"fLaC"))
        return magic + rng.randbytes(rng.randrange(1, 4096)), f"random bytes after {magic!r}"
    seed = rng.choice(seeds)
    data, steps = bytearray(seed.data), []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if data:
            steps.append(mutate(rng, data, seed, seeds))
    return bytes(data), " | ".join([seed.name, *steps])


def _address_space() -> int | None:
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return None  # no /proc: no memory guard


def _on_alarm(signum: int, frame: object) -> None:
    raise Timeout


def guarded_load(path: str, offset: int | None, size: int | None, timeout: float, memory: int) -> torch.Tensor:
    """``load_audio`` under a SIGALRM time limit and an address-space limit of ``memory`` more bytes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used, previous = _address_space(), signal.signal(signal.SIGALRM, _on_alarm)
    try:
        if used is not None:
            resource.setrlimit(resource.RLIMIT_AS, (used + memory if hard < 0 else min(hard, used + memory), hard))
        signal.setitimer(signal.ITIMER_REAL, timeout)
        return load_audio(path, TARGET_RATE, offset=offset, size=size)
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # restored even when the alarm fires on the way out
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            signal.signal(signal.SIGALRM, previous)


def describe_header(data: bytes) -> str:
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - a description only
        return "unreadable header"
    return f"{info.format} {info.subtype} {info.channels}ch {info.samplerate} Hz {info.frames} frames"


def error_class(err: AudioError) -> str:
    reason = str(err).split(": ", 1)[-1]
    match = re.match(r"unreadable audio \((?:Error opening [^:]*: )?(.*)\)$", reason, flags=re.S)
    return re.sub(r"\b\d+\b", "N", f"unreadable: {match.group(1)}" if match else reason)[:100]


def run_one(rng: random.Random, data: bytes, path: Path, timeout: float, memory: int) -> tuple[str, str]:
    """("ok", ""), ("error", reason class), or a failure kind (exception, memory, result, hang) and detail."""
    offset = size = None
    if rng.random() < 0.1:  # inside a bigger file, as a member of a tar shard
        prefix = rng.randbytes(rng.randrange(1024))
        offset, size = len(prefix), len(data) + rng.choice((0, 0, 0, 1, 4096))
        data = prefix + data + rng.randbytes(rng.randrange(64))
    path.write_bytes(data)
    start = time.monotonic()
    try:
        wave = guarded_load(str(path), offset, size, timeout, memory)
    except AudioError as err:
        outcome = ("error", error_class(err))
    except Timeout:
        return "hang", f"interrupted after {timeout:g} s"
    except Exception as err:  # noqa: BLE001 - the point: any other exception is a failure
        memory_error = isinstance(err, MemoryError) or "allocate" in str(err)
        outcome = ("memory" if memory_error else "exception", f"{type(err).__name__}: {str(err)[:300]}")
    else:
        if not isinstance(wave, torch.Tensor) or wave.dtype != torch.float32 or wave.dim() != 1 or wave.numel() == 0:
            outcome = ("result", f"returned {getattr(wave, 'dtype', type(wave))} of shape {tuple(getattr(wave, 'shape', ()))}")
        elif bad := int((~torch.isfinite(wave)).sum()):
            outcome = ("result", f"non-finite output: {bad} of {wave.numel()} samples")
        else:
            outcome = ("ok", "")
    took = time.monotonic() - start
    return ("hang", f"took {took:.2f} s, then {outcome[0]} {outcome[1]}") if took > timeout else outcome


def watchdog(current: list, limit: float, stop: threading.Event) -> None:
    """End the process when one load has not returned after ``limit`` seconds (stuck where no signal reaches)."""
    while not stop.wait(0.5):
        started, what = current
        if started is not None and time.monotonic() - started > limit:
            print(f"\nfuzz_audio: HANG, no return after {limit:g} s: {what}", file=sys.stderr, flush=True)
            faulthandler.dump_traceback()
            os._exit(3)


def campaign(args: argparse.Namespace) -> Summary:
    seeds, summary, memory = make_seeds(), Summary(args.seed), args.memory_mb << 20
    with tempfile.TemporaryDirectory(prefix="fuzz_audio_") as folder:
        path = Path(folder) / "input.bin"
        for seed in seeds:  # the seeds load cleanly (and warm up resampling)
            path.write_bytes(seed.data)
            guarded_load(str(path), None, None, 60.0, memory)
        current: list = [None, ""]
        stop = threading.Event()
        threading.Thread(target=watchdog, args=(current, 3 * args.timeout, stop), daemon=True).start()
        begin = time.monotonic()
        for index in tqdm(range(args.start, args.start + args.iterations), desc="fuzz load_audio", unit="input",
                          disable=args.quiet, file=sys.stderr):
            rng = random.Random(f"{args.seed}:{index}")
            data, mutations = make_input(rng, seeds)
            current[:] = [time.monotonic(), f"input {index} of seed {args.seed}: {mutations}"]
            outcome, detail = run_one(rng, data, path, args.timeout, memory)
            current[0] = None
            summary.inputs += 1
            if outcome == "ok":
                summary.ok += 1
            elif outcome == "error":
                summary.errors[detail] += 1
            else:
                failure = {"index": index, "kind": outcome, "detail": detail, "mutations": mutations,
                           "header": describe_header(data)}
                summary.failures.append(failure)
                if args.save_failures:
                    args.save_failures.mkdir(parents=True, exist_ok=True)
                    stem = args.save_failures / f"seed{args.seed}-input{index}"
                    stem.with_suffix(".bin").write_bytes(data)
                    stem.with_suffix(".json").write_text(json.dumps(failure, indent=1))
        summary.seconds = time.monotonic() - begin
        stop.set()
    return summary


def report(summary: Summary, shown: int = 30) -> str:
    lines = [f"fuzz_audio: {summary.inputs} inputs (seed {summary.seed}) in {summary.seconds:.1f} s: {summary.ok} ok, "
             f"{sum(summary.errors.values())} clean AudioError, {len(summary.failures)} failures", "clean errors by reason:"]
    lines += [f"  {count:6d}  {reason}" for reason, count in summary.errors.most_common()]
    lines += ["failures by kind:"] + [f"  {n:6d}  {k}" for k, n in Counter(f["kind"] for f in summary.failures).most_common()]
    lines += [f"  FAIL input {f['index']} (--seed {summary.seed} --start {f['index']} --iterations 1): {f['kind']}: "
              f"{f['detail']}\n       mutations: {f['mutations']}\n       header: {f['header']}" for f in summary.failures[:shown]]
    if len(summary.failures) > shown:
        lines.append(f"  ... and {len(summary.failures) - shown} more (--save-failures DIR keeps them all)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10000, help="mutated inputs to load")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed: input I depends on it and on I only")
    parser.add_argument("--start", type=int, default=0, help="first input index (to rerun one input)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds one load may take")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address space one load may add")
    parser.add_argument("--save-failures", type=Path, help="write each failing input (.bin) and its record (.json)")
    parser.add_argument("--json", type=Path, help="write the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.timeout <= 0 or args.memory_mb < 1:
        parser.error("--iterations, --timeout and --memory-mb must be positive")
    summary = campaign(args)
    print(report(summary))
    if args.json:
        args.json.write_text(json.dumps({"seed": summary.seed, "inputs": summary.inputs, "ok": summary.ok,
                                         "seconds": summary.seconds, "errors": dict(summary.errors),
                                         "failures": summary.failures}, indent=1))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
