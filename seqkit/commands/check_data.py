"""``seqkit check-data MANIFEST...``: report every problem of a manifest in one pass.

Checks each line (JSON, fields, paths under the data root, duplicate ids), each audio
file (missing, unreadable, empty, all-zero, NaN/Inf, duration), and, given a checkpoint or
the training manifest, each transcript against the tokenizer and, with a checkpoint, the
CTC length (label longer than the encoder's output frames).  Exits 1 if anything is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from seqkit.data.checks import Problem, check_audio, check_ctc_length, check_transcript
from seqkit.data.manifest import ManifestError, parse_manifest_line
from seqkit.data.paths import expand_data_path
from seqkit.data.tokenizer import CharTokenizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit check-data", description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+")
    parser.add_argument("--data-root", help="folder audio paths are relative to (default: the manifest's)")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="flag longer utterances")
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument("--ckpt", help="checkpoint: its tokenizer, sample rate and encoder frames are used")
    vocab.add_argument("--train-manifest", help="fit a character tokenizer on this manifest's texts")
    return parser


def scan(manifest: Path, data_root: Path | None, args, task, tokenizer) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    with open(manifest, encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, raw in enumerate(tqdm(lines, desc=f"checking {manifest.name}", file=sys.stderr), start=1):
        if not raw.strip():
            continue
        try:
            utt = parse_manifest_line(raw, manifest, number, data_root)
        except ManifestError as err:
            problems.append(Problem(f"{manifest}:{number}", str(err).removeprefix(f"{manifest}:{number}: ")))
            continue
        if utt.id in seen:
            problems.append(Problem(utt.where, f"duplicate id (first on line {seen[utt.id]})"))
        seen.setdefault(utt.id, number)
        if utt.duration > args.max_seconds:
            problems.append(Problem(utt.where, f"{utt.duration:.1f}s is longer than --max-seconds {args.max_seconds}", fatal=False))
        problems += check_audio(utt, args.sample_rate)
        if tokenizer is not None:
            problems += check_transcript(utt, tokenizer)
        if task is not None:
            problems += check_ctc_length(utt, tokenizer, task.output_frames)
    return problems


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    task = tokenizer = None
    if args.ckpt:
        from seqkit.commands.checkpoint import load_task

        task = load_task(args.ckpt)
        tokenizer = task.tokenizer
        args.sample_rate = task.features.sample_rate
    elif args.train_manifest:
        from seqkit.data.manifest import read_manifest

        root = expand_data_path(args.data_root) if args.data_root else None
        tokenizer = CharTokenizer().fit(u.text for u in read_manifest(expand_data_path(args.train_manifest), root))
    data_root = Path(expand_data_path(args.data_root)) if args.data_root else None
    total = fatal = 0
    for manifest in args.manifests:
        problems = scan(Path(expand_data_path(manifest)), data_root, args, task, tokenizer)
        for problem in problems:
            print(problem)
        total += len(problems)
        fatal += sum(p.fatal for p in problems)
    print(f"{total} problem(s), {fatal} error(s) in {len(args.manifests)} manifest(s)")
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
