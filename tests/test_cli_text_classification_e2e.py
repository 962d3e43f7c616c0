"""Text classification through the real CLI: fit (with pretrained vectors) -> test -> predict."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from cli_runs import REPO, SEQKIT, run

CONFIG = REPO / "configs" / "text_classification" / "sst2_bilstm.yaml"
POSITIVE, NEGATIVE = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
FILLER = ["the", "film", "plot", "was", "a", "and", "acting", "it", "very", "story"]


def _sentences(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        label = i % 2
        words = rng.choices(FILLER, k=rng.randint(3, 9))
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label else NEGATIVE))
        lines.append(f"{label} {' '.join(words)}")
    return lines


def test_fit_test_predict_text_classifier(tmp_path: Path) -> None:
    for name, count, seed in (("train", 160, 0), ("dev", 40, 1), ("test", 40, 2)):
        (tmp_path / name).write_text("\n".join(_sentences(count, seed)) + "\n")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("\n".join(f"{w} " + " ".join(["0.1"] * 16) for w in POSITIVE + ["film", "unseen"]) + "\n")
    common = [
        "--config", str(CONFIG),
        "--data.init_args.train_file", str(tmp_path / "train"), "--data.init_args.val_file", str(tmp_path / "dev"),
        "--data.init_args.test_file", str(tmp_path / "test"), "--data.init_args.min_count", "1",
        "--data.init_args.batch_size", "16",
        "--model.init_args.features.init_args.embedding_dim", "16",
        "--model.init_args.encoder.init_args.hidden_size", "16",
        "--trainer.default_root_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar", "false",
    ]
    fitted = run([*SEQKIT, "fit", *common, "--trainer.max_epochs", "15", "--model.init_args.optimizer.init_args.lr", "0.01",
                  "--model.init_args.features.init_args.pretrained", str(vectors)], cwd=tmp_path)
    assert "pretrained vectors: 5 of 18 vocabulary words found" in fitted.stdout
    run_dir = tmp_path / "runs" / "version_0"
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["vocabulary"]["words"][:2] == ["<pad>", "<unk>"]  # the words travel with the model

    tested = run([*SEQKIT, "test", *common, "--ckpt_path", str(best)], cwd=tmp_path)
    report = json.loads((run_dir / "test" / "accuracy_report.json").read_text())
    assert report["totals"]["examples"] == 40 and report["totals"]["accuracy"] >= 0.9, report["totals"]
    assert "accuracy" in tested.stdout.lower()

    run([*SEQKIT, "predict", *common, "--data.init_args.predict_file", str(tmp_path / "test"), "--ckpt_path", str(best)], cwd=tmp_path)
    predictions = [json.loads(line) for line in (run_dir / "predict" / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 40 and predictions[0]["id"].startswith(str(tmp_path / "test"))

    # `seqkit classify` on the same sentences, unlabelled, one a line: the probabilities `seqkit test` gave.
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(line.partition(" ")[2] for line in _sentences(40, 2)) + "\n\n")  # a blank line is skipped
    out_file = tmp_path / "classified.jsonl"
    run([*SEQKIT, "classify", "--ckpt", str(best), str(sentences), "--top-k", "2", "--output", str(out_file)], cwd=tmp_path)
    classified = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [c["id"] for c in classified] == [f"{sentences}:{n}" for n in range(1, 41)]
    tested_probs = {r["id"]: r["probs"] for r in map(json.loads, (run_dir / "test" / "test_predictions.jsonl").read_text().splitlines())}
    for n, record in enumerate(classified, start=1):
        probs = dict(zip(record["labels"], record["probs"]))
        assert [probs["0"], probs["1"]] == pytest.approx(tested_probs[f"{tmp_path / 'test'}:{n}"], abs=1e-5)
