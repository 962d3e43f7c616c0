"""Read a finished run directory (the layout README.md's "Run directory" documents).

    RUN/config.yaml  hparams.yaml  metrics.csv  run_info.json  checkpoints/*.ckpt
    RUN/test/        config.yaml (with ckpt_path)  metrics.csv  run_info.json
                     wer_report.json | accuracy_report.json  (what `seqkit test` wrote)
    RUN/validate/    the same for `seqkit validate`

Everything but ``config.yaml`` is optional: a report says what a run does not record.
Bad files raise :class:`RunError` naming the file (and the line of a CSV).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TASKS = {
    "SpeechToText": "speech",
    "SequenceClassifier": "classification",
    "CharLanguageModel": "language_model",
}
EVALUATION_STAGES = ("test", "validate")


class RunError(ValueError):
    """A run directory that cannot be reported on."""


@dataclass
class Evaluation:
    """One ``seqkit test`` or ``seqkit validate`` of a checkpoint, in ``RUN/<stage>``."""

    stage: str
    path: Path
    ckpt_path: str | None
    metrics: dict[str, float]  # the last value of every column of its metrics.csv
    run_info: dict | None
    wer: dict | None = None  # wer_report.json
    accuracy: dict | None = None  # accuracy_report.json


@dataclass
class Run:
    path: Path
    name: str
    task: str  # speech | classification | language_model | unknown
    class_path: str
    config: dict
    config_text: str
    metrics: list[dict[str, float]]  # metrics.csv rows, empty cells left out
    checkpoints: list[Path]
    run_info: dict | None
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def evaluation(self) -> Evaluation | None:
        """The test when there is one, else the validation."""
        return self.evaluations[0] if self.evaluations else None


def read_metrics(path: Path) -> list[dict[str, float]]:
    """CSVLogger's ``metrics.csv`` as rows of the non-empty numeric cells."""
    if not path.is_file():
        return []
    rows: list[dict[str, float]] = []
    with open(path, newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=2):
            values: dict[str, float] = {}
            for key, text in row.items():
                if key is None or text is None or text == "":
                    continue
                try:
                    values[key] = float(text)
                except ValueError:
                    raise RunError(f"{path}:{line_no}: column {key!r} holds {text!r}, not a number") from None
            rows.append(values)
    return rows


def last_values(rows: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        out.update(row)
    return out


def read_yaml(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as err:
        raise RunError(f"{path}: cannot be read ({err.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RunError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a mapping at the top, found {type(data).__name__}")
    return data, text


def read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object")
    return data


def task_of(class_path: str) -> str:
    return TASKS.get(class_path.rpartition(".")[2], "unknown")


def _evaluation(run_path: Path, stage: str) -> Evaluation | None:
    folder = run_path / stage
    if not folder.is_dir():
        return None
    config = read_yaml(folder / "config.yaml")[0] if (folder / "config.yaml").is_file() else {}
    wer, accuracy = read_json(folder / "wer_report.json"), read_json(folder / "accuracy_report.json")
    for name, report, keys in (("wer_report.json", wer, ("totals", "utterances")), ("accuracy_report.json", accuracy, ("totals", "classes"))):
        if report is not None and not all(k in report for k in keys):
            raise RunError(f"{folder / name}: lacks {', '.join(k for k in keys if k not in report)}")
    return Evaluation(stage=stage, path=folder, ckpt_path=config.get("ckpt_path"),
                      metrics=last_values(read_metrics(folder / "metrics.csv")),
                      run_info=read_json(folder / "run_info.json"), wer=wer, accuracy=accuracy)


def load_run(path: str | Path) -> Run:
    """Everything a report shows about the run in ``path``."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run directory")
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise RunError(f"{config_path}: missing; a run directory is what `seqkit fit` writes (config.yaml, metrics.csv, checkpoints/)")
    config, text = read_yaml(config_path)
    model = config.get("model") or {}
    class_path = model.get("class_path", "") if isinstance(model, dict) else ""
    evaluations = [e for stage in EVALUATION_STAGES if (e := _evaluation(path, stage)) is not None]
    name = path.resolve().name
    if name.startswith("version_"):  # runs/digits/version_0 -> digits/version_0
        name = f"{path.resolve().parent.name}/{name}"
    return Run(
        path=path,
        name=name,
        task=task_of(class_path),
        class_path=class_path,
        config=config,
        config_text=text,
        metrics=read_metrics(path / "metrics.csv"),
        checkpoints=sorted((path / "checkpoints").glob("*.ckpt")),
        run_info=read_json(path / "run_info.json"),
        evaluations=evaluations,
    )


def checkpoint_used(run: Run) -> Path | None:
    """The evaluated checkpoint, found in this run's ``checkpoints/`` however the run was moved."""
    evaluation = run.evaluation
    if evaluation is None or not evaluation.ckpt_path:
        return None
    given = Path(evaluation.ckpt_path)
    local = run.path / "checkpoints" / given.name
    return local if local.is_file() else given


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists of mappings get their index (``callbacks.0.class_path``)."""
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    if isinstance(config, list) and any(isinstance(v, (dict, list)) for v in config):
        out = {}
        for index, value in enumerate(config):
            out.update(flatten(value, f"{prefix}{index}."))
        return out
    return {prefix[:-1]: config}
