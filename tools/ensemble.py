"""Ensemble classifier runs: average their test probabilities, then write one accuracy report.

    # NATOPS, five seeds of one config, each fitted and tested with `seqkit test`
    python tools/ensemble.py runs/natops_seeds/seed_*/version_0/test --out runs/natops_seeds/ensemble

Each argument is a ``RUN/test`` folder written by ``seqkit test`` (its ``accuracy_report.json``
and ``test_predictions.jsonl``).  Prints every member's accuracy and the ensemble's, and writes
``accuracy_report.{json,md}``, ``confusion_matrix.png`` and the averaged
``test_predictions.jsonl`` to ``--out``, plus ``members.json`` naming the runs averaged.
``tools/run_folds.py --seeds`` fits, tests and ensembles in one command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit.reports.accuracy import format_summary
from seqkit.reports.ensemble import EnsembleError, write_ensemble


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dirs", nargs="+", metavar="RUN/test", help="test folders written by `seqkit test`")
    parser.add_argument("--out", type=Path, required=True, help="folder for the ensemble's report")
    opts = parser.parse_args(argv)
    try:
        result = write_ensemble(opts.test_dirs, opts.out)
    except EnsembleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for member in result["members"]:
        print(f"{100 * member['accuracy']:6.2f}%  {member['test_dir']}")
    print(f"ensemble of {len(result['members'])}: " + format_summary(result["report"]))
    print(f"report: {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
