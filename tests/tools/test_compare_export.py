"""tools/compare_export.py: an exported model run as a deployment would, against its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch
from lightning.pytorch.cli import instantiate_module

from seqkit.commands.export import main as export_main
from seqkit.data.tokenizer import CharTokenizer
from seqkit.tasks.speech_to_text import SpeechToText

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tool(load_script) -> ModuleType:
    return load_script("tools/compare_export.py")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """Six real WAV files (22.05 kHz, resampled on reading) by two speakers of different loudness."""
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    lines = []
    for i in range(6):
        seconds, gain = 0.4 + 0.15 * i, 0.05 if i % 2 else 0.4
        t = np.arange(int(seconds * 22050)) / 22050
        wave = gain * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"u{i}.wav", wave.astype(np.float32), 22050)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": seconds, "text": "ab", "speaker": f"s{i % 2}"}))
    path = folder / "dev.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def checkpoint(folder: Path, normalizer: str, seed: int) -> Path:
    hparams = {
        "_class_path": "seqkit.tasks.speech_to_text.SpeechToText",
        "tokenizer": CharTokenizer().fit(["abc cab"]).state(),
        "features": {"class_path": "seqkit.features.spectral.LogMelFilterbank", "init_args": {"sample_rate": 16000, "n_mels": 20}},
        "normalizer": {"class_path": f"seqkit.features.cmvn.{normalizer}"},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {"cell": "gru", "hidden_size": 16, "num_layers": 2, "stack_frames": 2}},
    }
    torch.manual_seed(seed)
    task = instantiate_module(SpeechToText, hparams)
    path = folder / f"{normalizer}-{seed}.ckpt"
    torch.save({"hyper_parameters": hparams, "state_dict": task.state_dict()}, path)
    return path


@pytest.mark.parametrize("normalizer", ["SpeakerCMVN", "UtteranceCMVN"])
def test_export_gives_the_checkpoint_greedy_paths(tool, manifest: Path, tmp_path: Path, normalizer: str, capsys) -> None:
    ckpt = checkpoint(tmp_path, normalizer, seed=0)
    onnx = tmp_path / "model.onnx"
    assert export_main(["--ckpt", str(ckpt), "--format", "onnx", "--out", str(onnx)]) == 0
    assert onnx.with_name("model.features.onnx").is_file() == (normalizer == "SpeakerCMVN")
    capsys.readouterr()
    assert tool.main(["--ckpt", str(ckpt), "--onnx", str(onnx), "--manifest", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "6 utterances: greedy path of the export equal to PyTorch's on 6;" in out


def test_another_model_disagrees(tool, manifest: Path, tmp_path: Path, capsys) -> None:
    """The comparison can fail: the export of other weights is checked against this checkpoint."""
    onnx = tmp_path / "other.onnx"
    assert export_main(["--ckpt", str(checkpoint(tmp_path, "SpeakerCMVN", seed=1)), "--format", "onnx", "--out", str(onnx)]) == 0
    capsys.readouterr()
    assert tool.main(["--ckpt", str(checkpoint(tmp_path, "SpeakerCMVN", seed=0)), "--onnx", str(onnx), "--manifest", str(manifest)]) == 1
    out = capsys.readouterr().out
    assert "equal to PyTorch's on 6;" not in out and "6 utterances" in out


def test_speaker_statistics_pool_all_frames_of_a_speaker(tool) -> None:
    frames = {"a": np.array([[0.0, 1.0], [2.0, 3.0]]), "b": np.array([[4.0, 5.0]]), "c": np.array([[10.0, 0.0]])}
    stats = tool.speaker_statistics(frames, {"a": "x", "b": "x", "c": "y"})
    np.testing.assert_allclose(stats["x"][0], [2.0, 3.0])
    np.testing.assert_allclose(stats["x"][1], np.sqrt(np.array([8 / 3, 8 / 3]) + 1e-5), rtol=1e-6)
    np.testing.assert_allclose(stats["y"][0], [10.0, 0.0])
    np.testing.assert_allclose(stats["y"][1], np.sqrt(1e-5), rtol=1e-6)
