"""Greedy transcription speed on CPU: real-time factor of the reference BiLSTM.

Builds the model of ``--config`` (default: the speechocean762 3 x 256 BiLSTM) with random
weights -- the same compute as trained ones -- or loads ``--ckpt``, and times
:class:`seqkit.inference.transcriber.Transcriber` (features, CMVN, encoder, CTC head, greedy
decoding) over ``--seconds`` of audio cut into utterances of ``--utterance-seconds``, at
batch sizes 1 and 8.  The audio is ``--audio FILE`` repeated, or synthesised (tones and noise;
the compute does not depend on what is said).  Then one ``--long-seconds`` recording, written
to a temporary WAV, is transcribed from disk whole and in ``--chunk-seconds`` windows.

    python tools/bench_transcribe.py --threads 2 --seconds 120

RTF = wall seconds / audio seconds (lower is faster); x real time = 1 / RTF.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightning.pytorch.cli import instantiate_module  # noqa: E402

from seqkit.commands.checkpoint import load_task  # noqa: E402
from seqkit.data.audio import load_audio  # noqa: E402
from seqkit.data.tokenizer import CharTokenizer  # noqa: E402
from seqkit.inference.reader import BlockReader  # noqa: E402
from seqkit.inference.transcriber import Transcriber  # noqa: E402
from seqkit.tasks.speech_to_text import SpeechToText  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "speech_to_text" / "speechocean762_bilstm.yaml"


def random_task(config: Path) -> SpeechToText:
    """The config's model with random weights and a 28-letter character vocabulary."""
    init_args = dict(yaml.safe_load(config.read_text())["model"]["init_args"])
    init_args.pop("optimizer", None)
    init_args["tokenizer"] = CharTokenizer().fit(["abcdefghijklmnopqrstuvwxyz '"]).state()
    path = "seqkit.tasks.speech_to_text.SpeechToText"
    return instantiate_module(SpeechToText, {"_class_path": path, **init_args}).eval()


def synthesise(seconds: float, rate: int, seed: int = 0) -> torch.Tensor:
    """Tones gliding in pitch plus noise: speech-like levels.  # (S,)"""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 150 + 50 * np.sin(2 * np.pi * 0.5 * t)
    wave = 0.2 * np.sin(2 * np.pi * np.cumsum(pitch) / rate) + 0.02 * rng.standard_normal(t.size)
    return torch.from_numpy(wave.astype(np.float32))


def source(args: argparse.Namespace, rate: int) -> torch.Tensor:
    if args.audio is None:
        return synthesise(args.seconds, rate)
    wave = load_audio(args.audio, rate)
    return wave.repeat(int(np.ceil(args.seconds * rate / wave.numel())))[: int(args.seconds * rate)]


def time_batches(transcriber: Transcriber, utterances: list[torch.Tensor]) -> float:
    start = time.perf_counter()
    for first in range(0, len(utterances), transcriber.batch_size):
        transcriber.transcribe(utterances[first : first + transcriber.batch_size])
    return time.perf_counter() - start


def row(name: str, audio: float, wall: float) -> str:
    return f"{name:<28} {audio:>9.1f} {wall:>9.2f} {wall / audio:>8.4f} {audio / wall:>9.1f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--ckpt", help="a trained checkpoint instead of random weights")
    parser.add_argument("--audio", help="a real recording, repeated to --seconds (default: synthesised)")
    parser.add_argument("--seconds", type=float, default=120.0, help="audio per batch-size measurement")
    parser.add_argument("--utterance-seconds", type=float, default=5.0)
    parser.add_argument("--long-seconds", type=float, default=300.0, help="the long recording (0: skip)")
    parser.add_argument("--chunk-seconds", type=float, default=30.0)
    parser.add_argument("--overlap-seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    task = load_task(args.ckpt) if args.ckpt else random_task(args.config)
    rate = int(task.features.sample_rate)
    wave = source(args, rate)
    size = int(args.utterance_seconds * rate)
    utterances = [wave[i : i + size] for i in range(0, wave.numel(), size)]
    audio = wave.numel() / rate
    params = sum(p.numel() for p in task.parameters()) / 1e6
    print(f"model: {args.ckpt or args.config.name} ({params:.1f} M parameters), {args.threads} thread(s), "
          f"torch {torch.__version__}, {'file ' + args.audio if args.audio else 'synthesised audio'}")
    print(f"{'':<28} {'audio s':>9} {'wall s':>9} {'RTF':>8} {'x real':>10}")
    for batch_size in (1, 8):
        transcriber = Transcriber(task, batch_size=batch_size)
        transcriber.transcribe(utterances[:batch_size])  # warm-up: first-call allocations
        wall = time_batches(transcriber, utterances)
        print(row(f"batch {batch_size} ({args.utterance_seconds:g} s utts)", audio, wall), flush=True)
    if args.long_seconds > 0:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "long.wav"
            long_wave = synthesise(args.long_seconds, rate, seed=1) if args.audio is None else \
                wave.repeat(int(np.ceil(args.long_seconds / audio)))[: int(args.long_seconds * rate)]
            sf.write(path, long_wave.numpy(), rate, subtype="PCM_16")
            transcriber = Transcriber(task, batch_size=8)
            start = time.perf_counter()
            transcriber.transcribe([load_audio(str(path), rate)])
            print(row(f"{args.long_seconds:g} s file, whole", args.long_seconds, time.perf_counter() - start), flush=True)
            start = time.perf_counter()
            reader = BlockReader(str(path), rate)
            transcriber.decode([transcriber.long_frames(reader, args.chunk_seconds, args.overlap_seconds)])
            reader.close()
            name = f"{args.long_seconds:g} s file, {args.chunk_seconds:g} s chunks"
            print(row(name, args.long_seconds, time.perf_counter() - start), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
