"""`seqkit check-data` reports every problem of a manifest in one pass, by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from seqkit.commands.check_data import main


def test_every_problem_in_one_pass(tmp_path: Path, capsys) -> None:
    (tmp_path / "wav").mkdir()
    t = np.arange(8000) / 16000
    soundfile.write(tmp_path / "wav" / "ok.wav", (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    soundfile.write(tmp_path / "wav" / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    (tmp_path / "wav" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    good = {"id": "a", "audio": "wav/ok.wav", "duration": 0.5, "text": "one two", "speaker": "s"}
    lines = [
        json.dumps(good),
        json.dumps({**good, "id": "b", "text": "  "}),
        json.dumps({**good, "id": "c", "audio": "wav/missing.wav"}),
        json.dumps({**good, "id": "d", "audio": "wav/corrupt.wav"}),
        json.dumps({**good, "id": "e", "audio": "wav/silent.wav"}),
        json.dumps({**good, "id": "f", "audio": "../outside.wav"}),
        "{not json",
        json.dumps({**good, "text": "one"}),
        json.dumps({**good, "id": "g", "text": "xyz"}),
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(good) + "\n")

    assert main([str(manifest), "--train-manifest", str(train)]) == 1

    out = capsys.readouterr().out
    expected = [
        (2, "empty transcript"),
        (3, "audio file not found"),
        (4, "unreadable audio"),
        (5, "audio is all zeros"),
        (6, "escapes the data root"),
        (7, "malformed JSON"),
        (8, "duplicate id (first on line 1)"),
        (9, "every symbol of the transcript is out of vocabulary"),
    ]
    for line, reason in expected:
        assert any(f"m.jsonl:{line}" in row and reason in row for row in out.splitlines()), (line, reason, out)
    assert "m.jsonl:1 " not in out
    assert out.strip().splitlines()[-1] == "8 problem(s), 8 error(s) in 1 manifest(s)"


def test_clean_manifest_exits_zero(tmp_path: Path, capsys) -> None:
    t = np.arange(8000) / 16000
    soundfile.write(tmp_path / "ok.wav", (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "audio": "ok.wav", "duration": 0.5, "text": "hi"}) + "\n")
    assert main([str(manifest)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out
