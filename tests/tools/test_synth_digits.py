"""tools/synth_digits.py: a tiny eSpeak NG digits corpus is valid, speaker-disjoint and reproducible."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

TOOL = Path(__file__).resolve().parents[2] / "tools" / "synth_digits.py"
DIGIT_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}


@pytest.fixture(scope="module")
def tool(load_script) -> ModuleType:
    pytest.importorskip("espeakng_loader")
    return load_script("tools/synth_digits.py")


def _build(tool: ModuleType, out: Path, seed: int = 0, **overrides) -> dict:
    args = ["--out", str(out), "--train", "10", "--dev", "2", "--test", "4", "--seed", str(seed), "--quiet"]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    assert tool.main(args) == 0
    return {split: [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()] for split in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def corpus(tool: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("digits")
    return out, _build(tool, out)


def test_manifests_have_the_requested_sizes(corpus: tuple[Path, dict]) -> None:
    _, manifests = corpus
    assert {split: len(records) for split, records in manifests.items()} == {"train": 10, "dev": 2, "test": 4}


def test_audio_is_16k_mono_speech_matching_the_manifest(corpus: tuple[Path, dict]) -> None:
    out, manifests = corpus
    for record in (r for records in manifests.values() for r in records):
        assert set(record) == {"id", "audio", "duration", "text", "speaker"}
        assert record["audio"] == f"wav/{record['id']}.wav"
        audio, rate = sf.read(out / record["audio"], dtype="float32")
        info = sf.info(out / record["audio"])
        assert rate == 16000 and audio.ndim == 1 and info.subtype == "PCM_16"
        assert np.sqrt(np.mean(audio**2)) > 0.01  # speech, not silence or noise floor
        assert record["duration"] == pytest.approx(len(audio) / rate, abs=1e-6)
        assert 0.2 < record["duration"] < 10


def test_transcripts_are_one_to_seven_digit_words(corpus: tuple[Path, dict]) -> None:
    _, manifests = corpus
    for record in (r for records in manifests.values() for r in records):
        words = record["text"].split()
        assert 1 <= len(words) <= 7
        assert set(words) <= DIGIT_WORDS
        assert record["text"] == " ".join(words)  # single spaces, lowercase words only


def test_test_speakers_are_held_out(corpus: tuple[Path, dict]) -> None:
    out, manifests = corpus
    settings = json.loads((out / "settings.json").read_text())
    train_voices, test_voices = set(settings["speakers"]["train"]), set(settings["speakers"]["test"])
    assert train_voices and test_voices and not train_voices & test_voices
    assert {r["speaker"] for r in manifests["train"] + manifests["dev"]} <= train_voices
    assert {r["speaker"] for r in manifests["test"]} <= test_voices


def test_same_seed_gives_identical_corpus(tool: ModuleType, corpus: tuple[Path, dict], tmp_path: Path) -> None:
    out, manifests = corpus
    again = _build(tool, tmp_path / "again")
    assert again == manifests
    for record in manifests["test"]:  # the audio too, not only the manifest
        assert (tmp_path / "again" / record["audio"]).read_bytes() == (out / record["audio"]).read_bytes()


def test_other_seed_gives_other_corpus(tool: ModuleType, corpus: tuple[Path, dict], tmp_path: Path) -> None:
    _, manifests = corpus
    other = _build(tool, tmp_path / "other", seed=1)
    assert [r["text"] for r in other["train"]] != [r["text"] for r in manifests["train"]]


def test_complete_output_is_skipped_unless_forced(tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--out", str(tmp_path), "--train", "2", "--dev", "0", "--test", "1", "--quiet"]
    assert tool.main(args) == 0
    stamp = (tmp_path / "wav" / "train_00000.wav").stat().st_mtime_ns
    capsys.readouterr()
    assert tool.main(args) == 0
    assert "already complete" in capsys.readouterr().out
    assert (tmp_path / "wav" / "train_00000.wav").stat().st_mtime_ns == stamp
    assert tool.main(args + ["--force"]) == 0
    assert "wrote 3 utterances" in capsys.readouterr().out
    assert tool.main(["--out", str(tmp_path), "--train", "1", "--dev", "0", "--test", "1", "--quiet"]) == 0
    assert "wrote 2 utterances" in capsys.readouterr().out  # new settings: rebuilt
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == ["test_00000.wav", "train_00000.wav"]


def test_missing_library_is_a_clear_error(tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = tool.main(["--out", str(tmp_path), "--train", "1", "--test", "1", "--espeak-lib", str(tmp_path / "nope.so"), "--quiet"])
    assert code == 2
    assert "libespeak-ng not found" in capsys.readouterr().err


def test_isolated_digits_at_8k(tool: ModuleType, tmp_path: Path) -> None:
    manifests = _build(tool, tmp_path, digits="1,1", sample_rate=8000)
    for record in (r for records in manifests.values() for r in records):
        assert record["text"] in DIGIT_WORDS
        assert sf.info(tmp_path / record["audio"]).samplerate == 8000


def test_without_a_test_split_every_voice_trains(tool: ModuleType, tmp_path: Path) -> None:
    held_out = _speakers(tool, tmp_path / "a", test=4)
    all_train = _speakers(tool, tmp_path / "b", test=0)
    assert held_out["test"] and not all_train["test"]
    assert sorted(all_train["train"]) == sorted(held_out["train"] + held_out["test"])


def _speakers(tool: ModuleType, out: Path, test: int) -> dict:
    assert tool.main(["--out", str(out), "--train", "2", "--dev", "0", "--test", str(test), "--quiet"]) == 0
    return json.loads((out / "settings.json").read_text())["speakers"]
