"""Cross-validation driver: one ``seqkit fit`` + ``seqkit test`` per value of a data argument.

    # FSDD held-out speakers: train on three speakers, test on the fourth, for each speaker
    python tools/run_folds.py --config configs/classification/fsdd_bigru.yaml \
        --arg data.init_args.test_speaker --values george jackson lucas nicolas --out runs/fsdd_folds
    # MR 10-fold cross-validation
    python tools/run_folds.py --config configs/text_classification/mr_bilstm.yaml \
        --arg data.init_args.fold --values 0 1 2 3 4 5 6 7 8 9 --out runs/mr_folds
    # NATOPS (fixed TRAIN/TEST files, no folds): five seeds and their ensemble
    python tools/run_folds.py --config configs/classification/natops_bigru.yaml \
        --seeds 0 1 2 3 4 --out runs/natops_seeds

Each fold runs ``seqkit fit`` with ``--ARG VALUE`` into ``OUT/VALUE/version_N``, then
``seqkit test`` on that run's last checkpoint (the test part stays unseen until the test).
Prints every fold's accuracy and their mean, and writes them to ``OUT/folds.json``.
``--jobs 2`` runs two fits at a time (folds, and seeds within a fold; results keep their order).
Arguments after ``--`` go to ``seqkit fit`` (e.g. ``-- --trainer.max_epochs 2``).  Without
``--arg``, the config's own split is the one fold (runs directly under ``OUT``).

``--seeds 0 1 2`` makes each fold an ensemble: one fit and test per seed
(``--seed_everything S`` into ``OUT/VALUE/seed_S``), then the mean of their test
probabilities (``seqkit.reports.ensemble``) in ``OUT/VALUE/ensemble``; the fold's accuracy is
the ensemble's, and ``folds.json`` keeps every member's too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seqkit.reports.ensemble import write_ensemble


def latest_run(root: Path) -> Path:
    """The highest-numbered ``root/version_N`` (the run ``seqkit fit`` just made)."""
    runs = [(int(m.group(1)), p) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    if not runs:
        raise FileNotFoundError(f"no version_N run folder in {root}")
    return max(runs)[1]


def fit_and_test(seqkit: list[str], config: str, data: list[str], root: Path, fit_args: list[str]) -> Path:
    """One ``seqkit fit`` into ``root``, then ``seqkit test`` of its last checkpoint; returns RUN/test.

    The test replays the run's own saved ``config.yaml``, so overrides given to the fit
    (a model argument after ``--``) build the same model the checkpoint holds."""
    subprocess.run([*seqkit, "fit", "--config", config, *data, "--trainer.default_root_dir", str(root), *fit_args], check=True)
    run = latest_run(root)
    subprocess.run(
        [*seqkit, "test", "--config", str(run / "config.yaml"), "--ckpt_path", str(run / "checkpoints" / "last.ckpt")],
        check=True,
    )
    return run / "test"


def fold_result(name: str, folder: Path, test_dirs: list[Path], ensembled: bool) -> dict:
    """A fold's test totals (accuracy, correct, examples, ...): its one run's, or the ensemble's
    of its seeds (written to ``folder/ensemble``) with every member's accuracy."""
    if not ensembled:
        report = json.loads((test_dirs[0] / "accuracy_report.json").read_text(encoding="utf-8"))
        return {"fold": name, "run": str(test_dirs[0].parent), **report["totals"]}
    result = write_ensemble(test_dirs, folder / "ensemble")
    return {"fold": name, "run": str(folder / "ensemble"), **result["report"]["totals"], "members": result["members"]}


def summarize(folds: list[dict]) -> str:
    lines = [f"{'fold':<14}accuracy"]
    for f in folds:
        line = f"{f['fold']:<14}{100 * f['accuracy']:.2f}% ({f['correct']} / {f['examples']})"
        if "members" in f:
            line += "  ensemble of " + ", ".join(f"{100 * m['accuracy']:.2f}" for m in f["members"])
        lines.append(line)
    lines.append(f"{'mean':<14}{100 * sum(f['accuracy'] for f in folds) / len(folds):.2f}%")
    members = [m["accuracy"] for f in folds for m in f.get("members", [])]
    if members:  # what one model scores, for comparison with the ensembles
        lines.append(f"{'single runs':<14}{100 * sum(members) / len(members):.2f}% (mean of {len(members)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fit_args = args[args.index("--") + 1 :] if "--" in args else []
    args = args[: args.index("--")] if "--" in args else args
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--arg", help="the data argument that picks the fold, e.g. data.init_args.fold "
                        "(none: the config's own split is the one fold, e.g. to ensemble --seeds)")
    parser.add_argument("--values", nargs="+", help="one fold per value")
    parser.add_argument("--out", required=True, help="one folder of runs per value")
    parser.add_argument("--seqkit", default=f"{shlex.quote(sys.executable)} -m seqkit.cli", help="the seqkit command")
    parser.add_argument("--seeds", nargs="+", help="ensemble these seeds in every fold (default: one run, the config's seed)")
    parser.add_argument("--jobs", type=int, default=1, help="fits run at a time (default 1); each gets "
                        "OMP_NUM_THREADS = cores / jobs unless it is set")
    opts = parser.parse_args(args)
    if bool(opts.arg) != bool(opts.values):
        parser.error("--arg and --values go together")
    out, seqkit = Path(opts.out), shlex.split(opts.seqkit)
    if opts.jobs < 1:
        parser.error("--jobs must be at least 1")
    if opts.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:  # share the cores instead of oversubscribing them
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // opts.jobs))
    # (name, data arguments, folder) per fold; without --arg the config's split is the only one.
    folds = [(v, [f"--{opts.arg}", v], out / v) for v in opts.values] if opts.arg else [("config split", [], out)]
    # One fit and test per fold and seed: the unit that --jobs runs side by side.
    runs = [(name, data, folder / f"seed_{seed}", ["--seed_everything", seed, *fit_args]) if seed is not None
            else (name, data, folder, fit_args)
            for name, data, folder in folds for seed in (opts.seeds or [None])]
    with ThreadPoolExecutor(opts.jobs) as pool:
        test_dirs = list(pool.map(lambda run: fit_and_test(seqkit, opts.config, *run[1:]), runs))
    folds = [fold_result(name, folder, [d for run, d in zip(runs, test_dirs) if run[0] == name], bool(opts.seeds))
             for name, _, folder in folds]
    mean = sum(f["accuracy"] for f in folds) / len(folds)
    out.mkdir(parents=True, exist_ok=True)
    (out / "folds.json").write_text(json.dumps({"folds": folds, "mean_accuracy": mean}, indent=1) + "\n", encoding="utf-8")
    print("\n" + summarize(folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
