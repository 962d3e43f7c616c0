"""Ensembles of classifier runs: the mean of the class probabilities several tests gave each example.

Every ``seqkit test`` of a classifier writes, beside its ``accuracy_report.json``, the
per-example records it was built from (``test_predictions.jsonl``: id, group, label and the
probability of every class).  Runs that differ only in their random seed make different
mistakes; averaging their probabilities (as InceptionTime does with five networks) is
usually more accurate than any one of them.  The members must have tested the same
examples, with the same labels and classes: anything else is an error naming the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqkit.reports.accuracy import PREDICTIONS_FILE, build_accuracy_report, write_accuracy_report


class EnsembleError(ValueError):
    """Test runs that cannot be averaged; the message names the run and the example."""


@dataclass
class EvaluatedRun:
    path: Path  # RUN/test: holds accuracy_report.json and test_predictions.jsonl
    classes: list[str]
    records: list[dict]  # sorted by id
    accuracy: float


def read_test_run(test_dir: Path | str) -> EvaluatedRun:
    """A classifier's test folder (``RUN/test``, as ``seqkit test`` writes it)."""
    test_dir = Path(test_dir)
    report_path, predictions_path = test_dir / "accuracy_report.json", test_dir / PREDICTIONS_FILE
    for path in (report_path, predictions_path):
        if not path.is_file():
            raise EnsembleError(f"{test_dir}: no {path.name} (run `seqkit test` on a classifier checkpoint first)")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    records = []
    with open(predictions_path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
                record["id"], record["label"], record["probs"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise EnsembleError(f"{predictions_path}:{line_number}: not a prediction record ({error})") from None
            records.append(record)
    return EvaluatedRun(test_dir, list(report["classes"]), sorted(records, key=lambda r: r["id"]),
                   float(report["totals"]["accuracy"]))


def average_runs(runs: list[EvaluatedRun]) -> list[dict]:
    """One record per example whose ``probs`` are the mean of the runs' probabilities."""
    if not runs:
        raise EnsembleError("no test runs to ensemble")
    first = runs[0]
    for run in runs[1:]:
        if run.classes != first.classes:
            raise EnsembleError(f"{run.path}: classes {run.classes} differ from {first.path}'s {first.classes}")
        ids, first_ids = [r["id"] for r in run.records], [r["id"] for r in first.records]
        if ids != first_ids:
            missing = sorted(set(first_ids) - set(ids))[:3] or sorted(set(ids) - set(first_ids))[:3]
            raise EnsembleError(f"{run.path}: tested other examples than {first.path} (e.g. {missing})")
        for record, reference in zip(run.records, first.records):
            if record["label"] != reference["label"]:
                raise EnsembleError(f"{run.path}: example {record['id']!r} has label {record['label']}, "
                                    f"{first.path} says {reference['label']}")
    probs = np.mean([[r["probs"] for r in run.records] for run in runs], axis=0)  # (examples, classes)
    return [{**reference, "probs": row.tolist()} for reference, row in zip(first.records, probs)]


def write_ensemble(test_dirs: list[Path | str], out: Path | str) -> dict:
    """Average the test runs and write the ensemble's accuracy report, its averaged
    ``test_predictions.jsonl`` and ``members.json`` (each member's accuracy) into ``out``.
    Returns ``{"members": [...], "report": ...}``."""
    runs = [read_test_run(path) for path in test_dirs]
    records = average_runs(runs)
    report = build_accuracy_report(records, runs[0].classes)
    out = Path(out)
    write_accuracy_report(report, out, records)
    members = [{"test_dir": str(run.path), "accuracy": run.accuracy} for run in runs]
    (out / "members.json").write_text(json.dumps({"members": members, "ensemble": report["totals"]}, indent=1) + "\n",
                                      encoding="utf-8")
    return {"members": members, "report": report}
