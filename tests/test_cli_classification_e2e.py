"""Sequence classification end to end through the real ``seqkit`` CLI.

A tiny two-class UEA ``.ts`` problem (noisy rising vs falling ramps of random length)
runs through the GunPoint recipe's config: fit, then test and predict from the saved
config and checkpoint, each a separate process as a user runs them.  This exercises the
data -> model links (labels, input size) and rebuilding the model from a checkpoint.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqkit.data.uea import read_ts

from cli_runs import REPO, SEQKIT
from cli_runs import run as run_cli
from tiny_models import write_ts

CONFIG = REPO / "configs" / "classification" / "gunpoint_bigru.yaml"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(args, cwd, env={"OMP_NUM_THREADS": "1"})  # a tiny model: more threads only spin


def test_fit_test_predict(tmp_path: Path) -> None:
    write_ts(tmp_path / "train.ts", 80, seed=0)
    write_ts(tmp_path / "test.ts", 40, seed=1)
    runs = tmp_path / "runs"
    run([*SEQKIT, "fit", "--config", str(CONFIG),
         "--data.init_args.train_file", str(tmp_path / "train.ts"),
         "--data.init_args.test_file", str(tmp_path / "test.ts"),
         "--model.init_args.encoder.init_args.hidden_size", "16",
         "--model.init_args.encoder.init_args.stack_frames", "1",
         "--trainer.max_epochs", "15", "--trainer.default_root_dir", str(runs),
         "--trainer.enable_progress_bar", "false"], cwd=tmp_path)
    run_dir = runs / "version_0"
    last = run_dir / "checkpoints" / "last.ckpt"
    assert last.is_file()

    # Evaluate from the run's own config and checkpoint: the model is rebuilt from the checkpoint.
    evaluate = ["--config", str(run_dir / "config.yaml"), "--ckpt_path", str(last), "--trainer.enable_progress_bar", "false"]
    tested_run = run([*SEQKIT, "test", *evaluate], cwd=tmp_path)
    out = tested_run.stdout
    assert "dirpath has changed" not in tested_run.stderr  # evaluating adds no checkpoint callback
    assert "callbacks used to create the checkpoint" not in tested_run.stderr  # nor asks for them
    assert not (run_dir / "test" / "checkpoints").exists()
    report = json.loads((run_dir / "test" / "accuracy_report.json").read_text())
    assert report["classes"] == ["up", "down"]
    assert report["totals"]["examples"] == 40
    assert report["totals"]["accuracy"] >= 0.9, out[-2000:]
    assert (run_dir / "test" / "confusion_matrix.png").is_file()
    assert "accuracy" in out
    # Every example's class probabilities, for ensembles (tools/ensemble.py); they agree with the report.
    tested = [json.loads(line) for line in (run_dir / "test" / "test_predictions.jsonl").read_text().splitlines()]
    assert len(tested) == 40 and all(abs(sum(t["probs"]) - 1) < 1e-4 for t in tested)
    assert sum(max(range(2), key=t["probs"].__getitem__) == t["label"] for t in tested) == report["totals"]["correct"]

    # The checkpoint standardizes raw series itself (training statistics in its hyper-parameters):
    # `seqkit classify` on the raw test series as .npy gives the probabilities `seqkit test` gave.
    test_data = read_ts(tmp_path / "test.ts")
    arrays = {}
    for series, line in zip(test_data.series, test_data.lines):
        arrays[f"test:{line}"] = tmp_path / f"case{line}.npy"
        np.save(arrays[f"test:{line}"], series.astype(np.float32))
    out_file = tmp_path / "classified.jsonl"
    run([*SEQKIT, "classify", "--ckpt", str(last), *map(str, arrays.values()), "--top-k", "2", "--output", str(out_file)],
        cwd=tmp_path)
    classified = {r["path"]: dict(zip(r["labels"], r["probs"])) for r in map(json.loads, out_file.read_text().splitlines())}
    for record in tested:
        probs = classified[str(arrays[record["id"]])]
        assert [probs["up"], probs["down"]] == pytest.approx(record["probs"], abs=1e-5), record["id"]

    run([*SEQKIT, "predict", *evaluate], cwd=tmp_path)
    predictions = [json.loads(line) for line in (run_dir / "predict" / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 40
    assert all(set(p["labels"]) == {"up", "down"} and abs(sum(p["probs"]) - 1) < 1e-4 for p in predictions)
    assert json.loads((run_dir / "predict" / "run_info.json").read_text())["predict_examples"] == 40

    # Another fit can start its encoder from this run's checkpoint (plain data, as fit writes it).
    started = run([*SEQKIT, "fit", "--config", str(run_dir / "config.yaml"), "--trainer.max_epochs", "1",
                   "--trainer.default_root_dir", str(tmp_path / "runs_init"), "--model.init_args.encoder_init", str(last)],
                  cwd=tmp_path)
    assert f"encoder: 16 weight tensors from {last}" in started.stdout
