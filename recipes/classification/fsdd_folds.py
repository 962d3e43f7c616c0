"""FSDD held-out-speaker protocol: train on three speakers, test on the fourth, for each speaker.

    python recipes/classification/fsdd_folds.py [--speakers george lucas] [-- FIT ARGS...]

Each fold runs ``seqkit fit`` with ``--data.init_args.test_speaker SPEAKER`` into
``OUT/SPEAKER/version_N``, then ``seqkit test`` on that run's last checkpoint (the
config has no validation split: the test speaker stays unseen until the test).  Prints
every fold's accuracy and their mean, and writes them to ``OUT/folds.json``.
Arguments after ``--`` go to ``seqkit fit`` (e.g. ``-- --trainer.max_epochs 2``).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

SPEAKERS = ("george", "jackson", "lucas", "nicolas")


def latest_run(root: Path) -> Path:
    """The highest-numbered ``root/version_N`` (the run ``seqkit fit`` just made)."""
    runs = [(int(m.group(1)), p) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    if not runs:
        raise FileNotFoundError(f"no version_N run folder in {root}")
    return max(runs)[1]


def run_fold(seqkit: list[str], config: str, speaker: str, out: Path, fit_args: list[str]) -> dict:
    """Fit and test one fold; return its test totals (accuracy, correct, examples, ...)."""
    data = ["--data.init_args.test_speaker", speaker]
    root = out / speaker
    subprocess.run([*seqkit, "fit", "--config", config, *data, "--trainer.default_root_dir", str(root), *fit_args], check=True)
    run = latest_run(root)
    subprocess.run([*seqkit, "test", "--config", config, *data, "--ckpt_path", str(run / "checkpoints" / "last.ckpt")], check=True)
    report = json.loads((run / "test" / "accuracy_report.json").read_text(encoding="utf-8"))
    return {"speaker": speaker, "run": str(run), **report["totals"]}


def summarize(folds: list[dict]) -> str:
    lines = [f"{'test speaker':<14}accuracy"]
    lines += [f"{f['speaker']:<14}{100 * f['accuracy']:.2f}% ({f['correct']} / {f['examples']})" for f in folds]
    lines.append(f"{'mean':<14}{100 * sum(f['accuracy'] for f in folds) / len(folds):.2f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fit_args = args[args.index("--") + 1 :] if "--" in args else []
    args = args[: args.index("--")] if "--" in args else args
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/classification/fsdd_bigru.yaml")
    parser.add_argument("--speakers", nargs="+", default=list(SPEAKERS))
    parser.add_argument("--out", default="runs/fsdd_folds", help="one folder of runs per test speaker")
    parser.add_argument("--seqkit", default=f"{shlex.quote(sys.executable)} -m seqkit.cli", help="the seqkit command")
    opts = parser.parse_args(args)
    out = Path(opts.out)
    folds = [run_fold(shlex.split(opts.seqkit), opts.config, s, out, fit_args) for s in opts.speakers]
    mean = sum(f["accuracy"] for f in folds) / len(folds)
    out.mkdir(parents=True, exist_ok=True)
    (out / "folds.json").write_text(json.dumps({"folds": folds, "mean_accuracy": mean}, indent=1) + "\n", encoding="utf-8")
    print("\n" + summarize(folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
