"""tools/tts_corpus.py: real eSpeak NG, Flite and Festival voices read a manifest's transcripts."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqkit.data.speech import SpeechDataModule

TEXTS = ["ONE", "ONE TWO THREE FOUR FIVE SIX SEVEN", "WE CALL IT BEAR", "ZERO", "GOOD MORNING", "THANK YOU VERY MUCH"]
ENGINES = [
    pytest.param("espeak", marks=pytest.mark.skipif(importlib.util.find_spec("espeakng_loader") is None,
                                                     reason="espeakng-loader is not installed")),
    pytest.param("flite", marks=pytest.mark.skipif(shutil.which("flite") is None, reason="Flite is not installed")),
    pytest.param("festival", marks=pytest.mark.skipif(shutil.which("festival") is None,
                                                       reason="Festival is not installed")),
]


@pytest.fixture(scope="module")
def tool(load_script):
    return load_script("tools/tts_corpus.py")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    # Only the transcripts are read: the source audio need not exist.
    lines = [json.dumps({"id": f"u{k}", "audio": f"gone/u{k}.flac", "duration": 2.0, "text": t, "speaker": "real"})
             for k, t in enumerate(TEXTS)]
    path = tmp_path / "source.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_every_transcript_is_spoken_copies_times_by_speakers_of_fixed_size(tool, source: Path, tmp_path: Path,
                                                                           engine: str) -> None:
    out = tmp_path / engine
    assert tool.main(["--manifest", str(source), "--out", str(out), "--engine", engine, "--copies", "2",
                      "--per-speaker", "4", "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert Counter(r["text"] for r in records) == Counter(TEXTS * 2)
    assert sorted(Counter(r["speaker"] for r in records).values()) == [4, 4, 4]  # 12 utterances, 4 a speaker
    durations = {}
    for record in records:
        audio, rate = sf.read(out / record["audio"], dtype="float32")
        assert rate == 16000 and record["duration"] == pytest.approx(len(audio) / rate, abs=1e-3)
        assert np.sqrt(np.mean(audio**2)) > 0.005
        durations.setdefault(record["text"], []).append(record["duration"])
    # The transcript is what is spoken: seven words take far longer than one.
    assert min(durations[TEXTS[1]]) > 2.5 * max(durations[TEXTS[0]])
    # The corpus trains beside the real one, audio found relative to its own manifest.
    data = SpeechDataModule(train_manifest=str(source), extra_train_manifest=[str(out / "train.jsonl")], num_workers=0)
    assert len(data.utterances("fit")) == len(TEXTS) * 3


def test_same_arguments_same_audio(tool, source: Path, tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader")
    for out in ("a", "b"):
        assert tool.main(["--manifest", str(source), "--out", str(tmp_path / out), "--engine", "espeak",
                          "--seed", "3", "--quiet"]) == 0
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
    for wav in sorted((tmp_path / "a" / "wav").glob("*.wav")):
        np.testing.assert_array_equal(sf.read(wav)[0], sf.read(tmp_path / "b" / "wav" / wav.name)[0])


def test_bad_counts_are_refused(tool, source: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        tool.main(["--manifest", str(source), "--out", str(tmp_path), "--engine", "espeak", "--copies", "0"])


def test_a_text_file_is_spoken_line_by_line_by_prefixed_speakers(tool, tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader")
    text = tmp_path / "sentences.txt"
    text.write_text("A LIGHT YET ENGROSSING PIECE\n\nCHARMING IF OVERLY COMPLICATED\n")
    out = tmp_path / "out"
    assert tool.main(["--text", str(text), "--out", str(out), "--engine", "espeak", "--prefix", "reviews",
                      "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    # Ids name the line (the blank second line is skipped); neither ids nor speakers collide with
    # another corpus's.
    assert {r["id"]: r["text"] for r in records} == {"reviews0_line1": "A LIGHT YET ENGROSSING PIECE",
                                                     "reviews0_line3": "CHARMING IF OVERLY COMPLICATED"}
    assert {r["speaker"] for r in records} == {"reviews-0"}
    assert all(sf.info(out / r["audio"]).duration > 1.0 for r in records)


def test_a_blank_text_file_is_refused_by_name(tool, tmp_path: Path, capsys) -> None:
    text = tmp_path / "blank.txt"
    text.write_text("\n  \n")
    assert tool.main(["--text", str(text), "--out", str(tmp_path / "out"), "--engine", "espeak", "--quiet"]) == 2
    assert f"{text}: no sentences" in capsys.readouterr().err


def test_manifest_and_text_are_exclusive(tool, source: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        tool.main(["--manifest", str(source), "--text", str(source), "--out", str(tmp_path), "--engine", "espeak"])


@pytest.mark.skipif(shutil.which("festival") is None, reason="Festival is not installed")
def test_a_line_the_engine_cannot_speak_is_named_and_the_rest_kept(tool, tmp_path: Path, capsys) -> None:
    text = tmp_path / "sentences.txt"
    text.write_text("GOOD MORNING\n.\nTHANK YOU\n")  # Festival's voices fail on a lone full stop
    out = tmp_path / "out"
    assert tool.main(["--text", str(text), "--out", str(out), "--engine", "festival", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert f"error: {text}: line2 (" in captured.err and "Festival failed" in captured.err
    assert "wrote 2 utterances" in captured.out and "1 left out" in captured.out
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["festival0_line1", "festival0_line3"]
