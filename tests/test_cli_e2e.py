"""End to end through the real ``seqkit`` CLI on a tiny synthesised digits corpus.

fit -> replay of the saved config -> test (WER report) -> predict -> transcribe, each a
separate process, as a user runs them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from cli_runs import DIGITS_CONFIG as CONFIG
from cli_runs import REPO, SEQKIT, run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("digits")
    run(
        [sys.executable, str(REPO / "tools" / "synth_digits.py"), "--out", str(out),
         "--train", "400", "--dev", "40", "--test", "40", "--seed", "1", "--quiet"],
        cwd=REPO,
    )
    return out


def test_fit_test_transcribe(corpus: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    common = [
        "--config", str(CONFIG),
        "--data.train_manifest", str(corpus / "train.jsonl"),
        "--data.val_manifest", str(corpus / "dev.jsonl"),
        "--data.test_manifest", str(corpus / "test.jsonl"),
        "--data.num_workers", "0",
        "--trainer.default_root_dir", str(runs),
        "--trainer.enable_progress_bar", "false",
    ]
    run([*SEQKIT, "fit", *common, "--trainer.max_epochs", "12", "--model.init_args.encoder.init_args.hidden_size", "96"], cwd=tmp_path)
    run_dir = runs / "version_0"
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "metrics.csv").is_file()
    best = sorted((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert best, "no best-WER checkpoint written"

    # The run's saved config replays it: same model and data, whatever the command line was.
    replay_root = tmp_path / "replay"
    run([*SEQKIT, "fit", "--config", str(run_dir / "config.yaml"), "--trainer.max_epochs", "1",
         "--trainer.default_root_dir", str(replay_root)], cwd=tmp_path)
    original, replayed = (yaml.safe_load((d / "config.yaml").read_text()) for d in (run_dir, replay_root / "version_0"))
    assert replayed["model"] == original["model"] and replayed["data"] == original["data"]

    tested = run([*SEQKIT, "test", *common, "--ckpt_path", str(best[0])], cwd=tmp_path)
    report = json.loads((run_dir / "test" / "wer_report.json").read_text())
    assert (run_dir / "test" / "wer_report.md").is_file()
    assert report["totals"]["utterances"] == 40
    # 12 epochs on 400 utterances: far from the demo's accuracy, far better than chance (WER ~1).
    assert report["totals"]["wer"] < 0.5, report["totals"]
    assert "WER" in tested.stdout

    run([*SEQKIT, "predict", *common, "--data.predict_manifest", str(corpus / "test.jsonl"), "--ckpt_path", str(best[0])], cwd=tmp_path)
    predictions = [json.loads(line) for line in (run_dir / "predict" / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 40 and {"id", "text"} <= set(predictions[0])
    info = json.loads((run_dir / "predict" / "run_info.json").read_text())
    assert info["stage"] == "predict" and info["predict_examples"] == 40 and info["predict_audio_seconds"] > 0

    wavs = sorted((corpus / "wav").glob("test_*.wav"))[:3]
    out = run([*SEQKIT, "transcribe", "--ckpt", str(best[0]), *map(str, wavs)], cwd=tmp_path).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert [line.split("\t")[0] for line in lines] == [str(w) for w in wavs]
    digits = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    assert any(set(line.split("\t")[1].split()) & digits for line in lines)


def test_weight_averaging_added_from_the_command_line(corpus: Path, tmp_path: Path) -> None:
    """Lightning's EMAWeightAveraging as a Trainer callback: validation and every checkpoint use
    the averaged weights, which `load_task` (transcribe, classify, export) then loads, and the
    run resumes with both the average and the live weights."""
    import torch

    from seqkit.commands.checkpoint import load_task

    runs = tmp_path / "runs"
    common = [
        "--config", str(CONFIG),
        "--data.train_manifest", str(corpus / "train.jsonl"),
        "--data.val_manifest", str(corpus / "dev.jsonl"),
        "--data.num_workers", "0",
        "--model.init_args.encoder.init_args.hidden_size", "32",
        "--trainer.default_root_dir", str(runs),
        "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging", "--trainer.callbacks.decay", "0.9",
    ]
    run([*SEQKIT, "fit", *common, "--trainer.max_epochs", "2"], cwd=tmp_path)
    last = runs / "version_0" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    averaged, live = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert averaged.keys() == live.keys()
    assert any(not torch.equal(averaged[k], live[k]) for k in averaged)  # two different sets of weights
    loaded = load_task(last).state_dict()
    assert all(torch.equal(loaded[k], averaged[k]) for k in averaged)

    run([*SEQKIT, "fit", *common, "--trainer.max_epochs", "3", "--ckpt_path", str(last)], cwd=tmp_path)
    resumed = torch.load(runs / "version_1" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["epoch"] == 2 and resumed["averaging_state"]["n_averaged"] > checkpoint["averaging_state"]["n_averaged"]
