"""``seqkit transcribe --ckpt CKPT FILE...``: one transcript per audio file.

The checkpoint carries the model's config, weights and tokenizer, so nothing else is needed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import AudioError, load_audio
from seqkit.decoding.beam import BeamSearchDecoder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit transcribe", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="audio files (any format libsndfile reads)")
    parser.add_argument("--ckpt", required=True, help="checkpoint written by `seqkit fit`")
    parser.add_argument("--decoder", choices=["greedy", "beam"], default="greedy")
    parser.add_argument("--beam-size", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        task = load_task(args.ckpt, args.device)
    except (FileNotFoundError, ValueError) as err:  # UntrustedCheckpointError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    beam = None
    if args.decoder == "beam":
        beam = BeamSearchDecoder(beam_size=args.beam_size, lexicon_free=True)
        beam.prepare(task.tokenizer, None, Path(tempfile.mkdtemp(prefix="seqkit-beam-")))
    failures = 0
    for path in tqdm(args.files, desc="transcribing", disable=len(args.files) < 10, file=sys.stderr):
        try:
            waveform = load_audio(path, task.features.sample_rate)
        except AudioError as err:
            print(f"error: {err}", file=sys.stderr)
            failures += 1
            continue
        with torch.inference_mode():
            batch = waveform.unsqueeze(0).to(task.device)  # (1, S)
            lengths = torch.tensor([waveform.numel()], device=task.device)
            log_probs, out_lengths = task(batch, lengths)
            text = task.decode(log_probs, out_lengths)[0] if beam is None else beam.decode(log_probs.cpu(), out_lengths.cpu())[0]
        print(f"{path}\t{text}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
