"""``seqkit generate --ckpt CKPT --prompt TEXT``: sample text from a character language model.

Prints the prompt followed by ``--length`` sampled characters.  The checkpoint carries the
model's config, weights and vocabulary, so nothing else is needed.
"""

from __future__ import annotations

import argparse
import sys

import torch

from seqkit.commands.checkpoint import load_task


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit generate", description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="checkpoint of a language model written by `seqkit fit`")
    parser.add_argument("--prompt", required=True, help="text to continue; every character must be in the model's vocabulary")
    parser.add_argument("--length", type=int, default=500, help="characters to sample (default 500)")
    parser.add_argument("--temperature", type=float, default=1.0, help="<1 sharper, >1 more random, 0 greedy (default 1)")
    parser.add_argument("--top-k", type=int, help="sample only among the k likeliest characters")
    parser.add_argument("--seed", type=int, help="same seed and device, same text")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        task = load_task(args.ckpt, args.device)
    except (FileNotFoundError, ValueError) as err:  # UntrustedCheckpointError is a ValueError
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not hasattr(task, "generate"):
        parser.error(f"{args.ckpt} holds a {type(task).__name__}, not a language model")
    try:
        text = task.generate(args.prompt, args.length, args.temperature, args.top_k, args.seed)
    except ValueError as err:  # bad prompt character or out-of-range option
        parser.error(str(err))
    sys.stdout.write(args.prompt + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
