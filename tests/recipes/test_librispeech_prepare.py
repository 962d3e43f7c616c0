"""recipes/speech_to_text/librispeech/prepare.py on a tiny LibriSpeech-shaped tree of real FLAC files."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

from seqkit.data.manifest import read_manifest

SCRIPT = "recipes/speech_to_text/librispeech/prepare.py"
RATE = 16000
SPEAKERS = {"19": ("198", "227"), "1272": ("128104", "135031")}  # speaker -> its two chapters
UTTERANCES = 3  # per chapter
SUBSETS = {"train-clean-100": 0.5, "dev-clean": 0.3}  # subset -> shortest utterance (s)


@pytest.fixture(scope="module")
def prepare(load_script) -> ModuleType:
    return load_script(SCRIPT)


def write_flac(path: Path, seconds: float, hz: float = 440.0) -> None:
    t = np.arange(int(round(seconds * RATE))) / RATE
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), RATE, format="FLAC")


def make_tree(root: Path) -> dict[str, dict[str, tuple[float, str, str]]]:
    """``root/LibriSpeech/<subset>/<spk>/<chap>/`` with flacs and trans.txt; returns subset -> id -> (s, text, spk)."""
    written: dict[str, dict[str, tuple[float, str, str]]] = {}
    for subset, shortest in SUBSETS.items():
        written[subset] = {}
        for speaker, chapters in SPEAKERS.items():
            for chapter in chapters:
                folder = root / "LibriSpeech" / subset / speaker / chapter
                folder.mkdir(parents=True)
                lines = []
                for n in range(UTTERANCES):
                    utt = f"{speaker}-{chapter}-{n:04d}"
                    seconds, text = shortest + 0.25 * n, f"WORD{n} OF {subset.upper()} HE'S HERE"
                    write_flac(folder / f"{utt}.flac", seconds, hz=300 + 50 * n)
                    lines.append(f"{utt} {text}")
                    written[subset][utt] = (seconds, text, speaker)
                (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return written


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_writes_one_manifest_per_subset_with_measured_durations(prepare, tmp_path: Path, capsys) -> None:
    written = make_tree(tmp_path / "corpus")
    out = tmp_path / "manifests"
    assert prepare.main(["--root", str(tmp_path / "corpus"), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["dev-clean.jsonl", "train-960.jsonl", "train-clean-100.jsonl"]
    corpus = (tmp_path / "corpus" / "LibriSpeech").resolve()
    for subset, expected in written.items():
        records = read_lines(out / f"{subset}.jsonl")
        assert len(records) == len(SPEAKERS) * 2 * UTTERANCES
        assert [r["id"] for r in records] == sorted(expected)  # speaker, chapter, then transcript order
        for record in records:
            seconds, text, speaker = expected[record["id"]]
            assert record["text"] == text and record["speaker"] == speaker
            assert record["duration"] == pytest.approx(seconds, abs=1e-3)
            assert not Path(record["audio"]).is_absolute() and ".." not in Path(record["audio"]).parts
            assert record["audio"] == f"{subset}/{speaker}/{record['id'].split('-')[1]}/{record['id']}.flac"
            assert (corpus / record["audio"]).is_file()
    printed = capsys.readouterr().out
    assert "dev-clean: 12 utterances, 2 speakers" in printed
    assert f"relative to the data root {corpus}" in printed
    assert "not all 960 hours" in printed  # only one of the three training subsets is present


def test_train_960_holds_the_training_subsets_only(prepare, tmp_path: Path) -> None:
    make_tree(tmp_path)
    extra = tmp_path / "LibriSpeech" / "train-other-500"
    (extra / "40" / "222").mkdir(parents=True)
    write_flac(extra / "40" / "222" / "40-222-0000.flac", 0.4)
    (extra / "40" / "222" / "40-222.trans.txt").write_text("40-222-0000 OTHER TEXT\n")
    assert prepare.main(["--root", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    train = read_lines(tmp_path / "out" / "train-960.jsonl")
    parts = read_lines(tmp_path / "out" / "train-clean-100.jsonl") + read_lines(tmp_path / "out" / "train-other-500.jsonl")
    assert train == parts
    assert not any(r["audio"].startswith("dev-") for r in train)


def test_manifests_load_with_the_corpus_as_data_root(prepare, tmp_path: Path) -> None:
    make_tree(tmp_path)
    corpus = tmp_path / "LibriSpeech"
    # --root may also name the LibriSpeech folder itself; --subsets picks some.
    assert prepare.main(["--root", str(corpus), "--subsets", "dev-clean", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["dev-clean.jsonl"]  # no training subset: no train-960
    utts = read_manifest(tmp_path / "out" / "dev-clean.jsonl", data_root=corpus)
    assert len(utts) == 12
    assert all(Path(u.audio).is_file() and Path(u.audio).is_relative_to(corpus.resolve()) for u in utts)
    assert utts[0].id == "1272-128104-0000" and utts[0].speaker == "1272" and utts[0].duration == pytest.approx(0.3)
    # The paths are relative to the corpus, not to the manifest's folder (read_manifest's default).
    assert not Path(read_manifest(tmp_path / "out" / "dev-clean.jsonl")[0].audio).exists()


def test_every_bad_input_is_reported_with_file_and_line(prepare, tmp_path: Path, capsys) -> None:
    make_tree(tmp_path)
    chapter = tmp_path / "LibriSpeech" / "train-clean-100" / "19" / "198"
    transcript = chapter / "19-198.trans.txt"
    (chapter / "19-198-0001.flac").unlink()  # line 2 names a missing flac
    write_flac(chapter / "19-198-0009.flac", 0.5)  # a flac no line describes
    transcript.write_text(transcript.read_text().replace("19-198-0002 WORD2 OF TRAIN-CLEAN-100 HE'S HERE", "19-198-0002"))
    broken = tmp_path / "LibriSpeech" / "dev-clean" / "1272" / "135031" / "1272-135031-0000.flac"
    broken.write_bytes(b"not a flac")  # the first line of its chapter's transcript
    out = tmp_path / "out"
    assert prepare.main(["--root", str(tmp_path), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{transcript}:2: " in err and "19-198-0001.flac does not exist" in err
    assert f"{transcript}:3: utterance '19-198-0002' has no text" in err
    assert f"{chapter / '19-198-0009.flac'}: no line for '19-198-0009' in {transcript}" in err
    assert f"{broken.parent / '1272-135031.trans.txt'}:1: unreadable audio {broken}" in err
    assert "4 problem(s)" in err
    assert not out.exists()  # nothing is written when anything is wrong


def test_a_missing_subset_is_an_error(prepare, tmp_path: Path, capsys) -> None:
    make_tree(tmp_path)
    assert prepare.main(["--root", str(tmp_path), "--subsets", "test-other", "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "test-other under" in capsys.readouterr().err
    assert prepare.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "no subset under" in capsys.readouterr().err


def test_safe_extract_refuses_members_escaping_the_target(prepare, tmp_path: Path) -> None:
    # Local archives only: --download itself (network) is never run by the tests.
    good, bad = tmp_path / "good.tar.gz", tmp_path / "bad.tar.gz"
    for archive, name in ((good, "LibriSpeech/README.TXT"), (bad, "../escaped.txt")):
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    prepare.safe_extract(good, tmp_path / "target")
    assert (tmp_path / "target" / "LibriSpeech" / "README.TXT").read_text() == "hello"
    with pytest.raises(prepare.CorpusError, match="escape"):
        prepare.safe_extract(bad, tmp_path / "target")
    assert not (tmp_path / "escaped.txt").exists()
