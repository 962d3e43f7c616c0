"""The recipes' prepare scripts on the real shared corpora; skipped where a corpus is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.data.audio import load_audio
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import default_data_dir


def corpus(name: str, marker: str) -> Path:
    root = default_data_dir() / name
    if not (root / marker).exists():
        pytest.skip(f"{root / marker} not found; set SEQKIT_DATA to the shared data folder")
    return root


def test_yesno(tmp_path: Path, capsys, load_script) -> None:
    root = corpus("yesno", "waves_yesno")
    prepare = load_script("recipes/speech_to_text/yesno/prepare.py")
    assert prepare.main(["--data", str(root), "--out", str(tmp_path), "--no-word-runs"]) == 0
    train = read_manifest(tmp_path / "train.jsonl", data_root=root)
    test = read_manifest(tmp_path / "test.jsonl", data_root=root)
    assert (len(train), len(test)) == (31, 29)
    assert [u.id for u in train + test] == sorted(u.id for u in train + test)  # first 31 in sorted order
    first = train[0]
    assert first.id == "0_0_0_0_1_1_1_1" and first.text == "lo lo lo lo ken ken ken ken"
    assert first.speaker == "yesno" and Path(first.audio).is_file()
    assert all(len(u.text.split()) == 8 for u in train + test)
    assert "train: 31 utterances" in capsys.readouterr().out


def test_yesno_word_runs_are_suffixes_of_the_training_files(tmp_path: Path, load_script) -> None:
    root = corpus("yesno", "waves_yesno")
    assert load_script("recipes/speech_to_text/yesno/prepare.py").main(["--data", str(root), "--out", str(tmp_path)]) == 0
    train = read_manifest(tmp_path / "train.jsonl", data_root=root)
    whole = {u.id: u for u in train if u.segment is None}
    segments = [u for u in train if u.segment is not None]
    assert len(whole) == 31 and len(read_manifest(tmp_path / "test.jsonl", data_root=root)) == 29
    parents = {u.id.rsplit("_from", 1)[0] for u in segments}
    assert len(parents) >= 25 and len(segments) == 7 * len(parents)
    for u in segments:
        parent = whole[u.id.rsplit("_from", 1)[0]]
        word = int(u.id.rsplit("_from", 1)[1])
        assert u.audio == parent.audio and u.text.split() == parent.text.split()[word - 1 :]
        assert 0 < u.start < parent.duration and u.start + u.duration == pytest.approx(parent.duration, abs=0.002)
        assert load_audio(u.audio, 8000, segment=u.segment).numel() == pytest.approx(8000 * u.duration, abs=10)
    # Half the segments open with "ken", which no whole training file does.
    assert sum(u.text.startswith("ken") for u in segments) > len(segments) / 3


def test_speechocean762(tmp_path: Path, capsys, load_script) -> None:
    root = corpus("speechocean762", "train/wav.scp")
    prepare = load_script("recipes/speech_to_text/speechocean762/prepare.py")
    assert prepare.main(["--data", str(root), "--out", str(tmp_path)]) == 0
    train = read_manifest(tmp_path / "train.jsonl", data_root=root)
    dev = read_manifest(tmp_path / "dev.jsonl", data_root=root)
    assert len(train) + len(dev) == 2500
    train_spk, dev_spk = {u.speaker for u in train}, {u.speaker for u in dev}
    assert (len(train_spk), len(dev_spk)) == (100, 25)
    assert not train_spk & dev_spk
    assert len({u.id for u in train + dev}) == 2500
    assert all(Path(u.audio).is_file() for u in dev)
    out = capsys.readouterr().out
    assert "dev: " in out and " h -> " in out
    # Seeded: a second run picks the same dev speakers.
    assert prepare.main(["--data", str(root), "--out", str(tmp_path / "again")]) == 0
    assert {u.speaker for u in read_manifest(tmp_path / "again" / "dev.jsonl", data_root=root)} == dev_spk


def test_dev_speakers_are_stratified(load_script) -> None:
    prepare = load_script("recipes/speech_to_text/speechocean762/prepare.py")
    strata = {f"a{i}": "adult-f" for i in range(50)} | {f"m{i}": "minor-m" for i in range(30)}
    strata |= {f"x{i}": "adult-m" for i in range(20)}
    dev = prepare.pick_dev_speakers(strata, 10, seed=1)
    assert len(dev) == 10
    assert sum(s.startswith("a") for s in dev) == 5 and sum(s.startswith("m") for s in dev) == 3
    assert dev == prepare.pick_dev_speakers(strata, 10, seed=1)
