"""tools/bench_train.py: both methods train on the same batches and report sane numbers."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch

from seqkit.data.tokenizer import CharTokenizer

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_train.py"
TINY = ["--cell", "gru", "--hidden", "16", "--layers", "1", "--stack", "2", "--n-mels", "20"]


@pytest.fixture(scope="module")
def tool(load_script) -> ModuleType:
    return load_script("tools/bench_train.py")


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    rate, lines = 16000, []
    for i, (seconds, text) in enumerate(zip([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2], ["ab", "ba", "abc", "cab", "a b", "bca", "ab c", "cc"])):
        t = np.arange(int(seconds * rate)) / rate
        sf.write(tmp_path / f"u{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32), rate)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": seconds, "text": text, "speaker": f"s{i % 2}"}))
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _bench(tool: ModuleType, manifest: Path, out: Path, steps: int, repeat: int = 1, batch_seconds: str = "2.5") -> dict:
    # 2.5 s batches: 4 an epoch; 1 warm-up + 3 measured steps is exactly epoch 0
    args = ["--manifest", str(manifest), "--data-root", str(manifest.parent), *TINY, "--max-batch-seconds", batch_seconds,
            "--steps", str(steps), "--warmup", "1", "--rounds", "1", "--num-workers", "0", "--json", str(out),
            "--repeat", str(repeat)]
    assert tool.main(args) == 0
    return json.loads(out.read_text())


def test_bench_reports_both_throughputs(tool: ModuleType, manifest: Path, tmp_path: Path, capsys) -> None:
    result = _bench(tool, manifest, tmp_path / "bench.json", steps=3)
    assert result["seqkit"]["audio_sec_per_sec"] > 0 and result["bare"]["audio_sec_per_sec"] > 0
    assert result["ratio_seqkit_over_bare"] == pytest.approx(
        result["seqkit"]["audio_sec_per_sec"] / result["bare"]["audio_sec_per_sec"]
    )
    assert result["same_batches"] and result["measured_steps"] == 3
    assert 0 <= result["padding_fraction"] < 1
    assert set(result["epoch_padding_by_num_buckets"]) == {"1", "10", "30", "60"}
    assert all(0 <= p < 1 for p in result["epoch_padding_by_num_buckets"].values())
    assert 0 <= result["seqkit"]["loader_share"] < 1 and result["seqkit"]["peak_memory_mb"] > 0
    for method in ("seqkit", "bare"):  # loading in the main process (no workers): next() does real work
        assert 0 < result[method]["fetch_share"] < 1
    assert "ratio seqkit/bare" in capsys.readouterr().out


def test_both_methods_reshuffle_at_the_epoch_boundary(tool: ModuleType, manifest: Path, tmp_path: Path) -> None:
    # The bare loop calls set_epoch itself; Lightning must reach DurationBatchSampler.set_epoch
    # too, or the two would see different batches after the first epoch.
    assert _bench(tool, manifest, tmp_path / "bench.json", steps=4)["same_batches"]


def test_epoch_starts_are_timed_apart(tool: ModuleType, manifest: Path, tmp_path: Path) -> None:
    within = _bench(tool, manifest, tmp_path / "within.json", steps=3)  # epoch 0 only, after warm-up
    across = _bench(tool, manifest, tmp_path / "across.json", steps=4)  # the 4th measured step opens epoch 1
    for method in ("seqkit", "bare"):
        assert within[method]["epoch_start_wait_median_s"] is None
        assert within[method]["loader_share_within_epochs"] == pytest.approx(within[method]["loader_share"])
        assert across[method]["epoch_start_wait_median_s"] >= 0
        assert 0 <= across[method]["loader_share_within_epochs"] < 1
    whole = _bench(tool, manifest, tmp_path / "whole.json", steps=2, batch_seconds="100")  # an epoch is one batch
    assert whole["seqkit"]["loader_share_within_epochs"] is None and whole["seqkit"]["epoch_start_wait_median_s"] >= 0


def test_repeat_lists_the_corpus_again_for_longer_epochs(tool: ModuleType, manifest: Path, tmp_path: Path) -> None:
    result = _bench(tool, manifest, tmp_path / "bench.json", steps=4, repeat=2)
    assert result["utterances"] == 16 and result["repeat"] == 2 and result["manifest"] == str(manifest)
    assert result["same_batches"]
    assert result["seqkit"]["epoch_start_wait_median_s"] is None  # 8 batches an epoch now: step 5 is in epoch 0


def test_bare_model_starts_from_the_task_weights(tool: ModuleType) -> None:
    args = tool.parse_args(TINY)
    tokenizer = CharTokenizer()
    tokenizer.fit(["ab c"])
    task, bare = tool.build_task(args, tokenizer.state()), tool.build_bare(args, tokenizer.vocab_size)
    task_weights = {k: v for k, v in task.state_dict().items() if k.split(".")[0] in ("features", "normalizer", "encoder", "head")}
    assert task_weights.keys() == bare.state_dict().keys()
    assert all(torch.equal(v, bare.state_dict()[k]) for k, v in task_weights.items())


def test_missing_manifest_points_to_prepare(tool: ModuleType, tmp_path: Path, capsys) -> None:
    assert tool.main(["--manifest", str(tmp_path / "none.jsonl")]) == 1
    assert "prepare.py" in capsys.readouterr().err
