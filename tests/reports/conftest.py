"""Run directories laid out as ``seqkit fit`` and ``seqkit test`` leave them, for the report tests.

``metrics.csv`` has the layout of Lightning's CSVLogger (sorted header, one row per logging
call, empty cells for what that call did not log): importing Lightning here would cost more
than all these tests.  ``run_info.json`` has the keys :class:`seqkit.callbacks.run_info.RunInfo`
writes, and the WER / accuracy reports come from the real builders and writers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from seqkit.reports.accuracy import build_accuracy_report, write_accuracy_report
from seqkit.reports.wer import build_wer_report, write_wer_report

CLASS_PATHS = {
    "speech": "seqkit.tasks.speech_to_text.SpeechToText",
    "classification": "seqkit.tasks.sequence_classification.SequenceClassifier",
    "language_model": "seqkit.tasks.language_model.CharLanguageModel",
}
WALL_SECONDS, BUSY_SECONDS = 10.0, 8.0  # of every stage in run_info.json


def write_metrics(path: Path, rows: list[dict]) -> None:
    """One CSV row per logging call, under the sorted union of the logged keys."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({key for row in rows for key in row}))
        writer.writeheader()
        writer.writerows(rows)


def write_run_info(folder: Path, stage: str, amounts: dict[str, float]) -> None:
    """What RunInfo writes after ``stage`` processed ``amounts`` (examples, audio_seconds, characters)."""
    key = "train" if stage == "fit" else stage
    info = {"stage": stage, "started_at": "2026-01-02T03:04:05+00:00", "device": "cpu: Test CPU (1 threads)",
            "accelerator": "cpu", "precision": "32-true", "world_size": 1, "num_nodes": 1,
            "versions": {"torch": "2.5.1", "lightning": "2.6.6", "python": "3.11.7"},
            "wall_seconds": WALL_SECONDS, f"{key}_seconds": BUSY_SECONDS}
    if stage == "fit":
        info |= {"epochs": 2, "steps": 12}
    for name, value in amounts.items():
        info[f"{key}_{name}"] = value
        info[f"{name}_per_second"] = value / BUSY_SECONDS
    (folder / "run_info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def _make_run(path: Path, task: str = "speech", metrics: list[dict] | None = None, info: dict | None = None,
              checkpoints: dict[str, int] | None = None, trainer: dict | None = None, model_args: dict | None = None) -> Path:
    """A fitted run: ``task`` is a key of CLASS_PATHS or a class path; ``info`` the amounts of its
    run_info.json (none without); ``checkpoints`` maps file names to sizes in bytes."""
    (path / "checkpoints").mkdir(parents=True)
    config = {"seed_everything": 0,
              "trainer": trainer or {"accelerator": "auto", "devices": "auto", "precision": None, "max_epochs": 2},
              "model": {"class_path": CLASS_PATHS.get(task, task), "init_args": model_args or {"dropout": 0.1}}}
    text = "# lightning.pytorch==2.6.6\n" + yaml.safe_dump(config, sort_keys=False)  # as LightningCLI saves it
    (path / "config.yaml").write_text(text, encoding="utf-8")
    if metrics:
        write_metrics(path / "metrics.csv", metrics)
    if info is not None:
        write_run_info(path, "fit", info)
    for name, size in (checkpoints if checkpoints is not None else {"last.ckpt": 1000}).items():
        (path / "checkpoints" / name).write_bytes(b"\0" * size)
    return path


def _evaluate(run: Path, stage: str = "test", ckpt: str | None = "last.ckpt", metrics: dict | None = None,
              info: dict | None = None, wer: list[dict] | None = None,
              accuracy: tuple[list[dict], list[str]] | None = None) -> Path:
    """``seqkit test`` (or ``validate``) of ``ckpt`` (a name in RUN/checkpoints, or an absolute path):
    its config.yaml, metrics.csv, run_info.json, and the reports of ``wer`` records or ``accuracy``
    (records, class names)."""
    folder = run / stage
    folder.mkdir()
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    if ckpt is not None:
        config["ckpt_path"] = ckpt if Path(ckpt).is_absolute() else str(run / "checkpoints" / ckpt)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    if metrics is not None:
        write_metrics(folder / "metrics.csv", [{"epoch": 0, "step": 0, **metrics}])
    if info is not None:
        write_run_info(folder, stage, info)
    if wer is not None:
        write_wer_report(build_wer_report(wer), folder)
    if accuracy is not None:
        records, names = accuracy
        write_accuracy_report(build_accuracy_report(records, names), folder, records)
    return folder


@pytest.fixture(scope="session")
def make_run() -> Callable[..., Path]:
    """``make_run(path, task, metrics=..., info=..., checkpoints=..., trainer=..., model_args=...)``: a fitted run."""
    return _make_run


@pytest.fixture(scope="session")
def evaluate() -> Callable[..., Path]:
    """``evaluate(run, stage, ckpt, metrics=..., info=..., wer=..., accuracy=...)``: its test or validation folder."""
    return _evaluate
