"""``seqkit report RUN_DIR [RUN_DIR...] [--out PATH]``: a finished run's results as one HTML file and Markdown.

One run: ``RUN/report.html`` and ``RUN/report.md`` (figures of the Markdown in
``RUN/report_figures/``).  Several runs: a comparison of their headline metrics and config
differences, then each run's report, in ``--out`` (default ``./report.html``).
The HTML is self-contained: figures are embedded, and it loads nothing else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit.reports.build import build_document, write_report
from seqkit.reports.run_dir import Run, RunError, checkpoint_used, load_run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit report", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by `seqkit fit` (RUN/config.yaml, ...)")
    parser.add_argument("--out", type=Path, help="HTML file to write; the .md goes beside it "
                        "(default RUN/report.html for one run, ./report.html for several)")
    parser.add_argument("--samples", type=int, default=0, metavar="N",
                        help="language models: generate N samples from the evaluated (else last) checkpoint")
    parser.add_argument("--sample-length", type=int, default=300, help="characters per sample (default 300)")
    parser.add_argument("--sample-prompt", help="prompt of the samples (default: a newline when the vocabulary has one)")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    return parser


def generate_samples(run: Run, count: int, length: int, prompt: str | None, temperature: float) -> list[dict]:
    """``count`` samples from the run's checkpoint with the model's own ``generate`` (seeds 0..count-1)."""
    from seqkit.commands.checkpoint import load_task

    ckpt = checkpoint_used(run)
    if ckpt is None or not ckpt.is_file():
        last = run.path / "checkpoints" / "last.ckpt"
        ckpt = last if last.is_file() else (run.checkpoints[-1] if run.checkpoints else None)
    if ckpt is None:
        raise RunError(f"{run.path}: no checkpoint to generate samples from")
    task = load_task(ckpt, "cpu")
    if prompt is None:
        tokens = list(task.vocabulary.state()["tokens"]) if hasattr(task.vocabulary, "state") else []
        prompt = "\n" if "\n" in tokens else (tokens[0] if tokens else "\n")
    return [{"prompt": prompt, "temperature": temperature, "seed": seed, "checkpoint": str(ckpt),
             "text": task.generate(prompt, length, temperature, None, seed)} for seed in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.samples < 0 or args.sample_length < 1:
        parser.error("--samples must be >= 0 and --sample-length >= 1")
    if args.out is not None and args.out.suffix.lower() == ".md":
        parser.error(f"--out {args.out}: name the HTML file (e.g. report.html); the .md is written beside it")
    try:
        runs = [load_run(path) for path in args.runs]
        samples = {}
        for run in runs:
            if args.samples and run.task == "language_model":
                samples[str(run.path)] = generate_samples(run, args.samples, args.sample_length, args.sample_prompt, args.temperature)
        out = args.out or (runs[0].path / "report.html" if len(runs) == 1 else Path("report.html"))
        html_path, md_path = write_report(build_document(runs, samples), out)
    except (RunError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {html_path}\nmarkdown: {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
