"""Manifests from Kaldi data dirs and audio folders, on tiny synthetic sine-wave files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqkit.data.kaldi import CorpusError, folder_records, kaldi_records, read_table, read_wav_scp
from seqkit.data.manifest import read_manifest, write_manifest



def sine(path: Path, seconds: float, rate: int = 8000, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), 0.3 * np.sin(2 * np.pi * 440 * t), rate, format=fmt)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """speechocean762's layout: corpus/audio/... and corpus/train/{wav.scp,text,utt2spk}."""
    root = tmp_path / "corpus"
    sine(root / "audio" / "S1" / "u1.wav", 1.0)
    sine(root / "audio" / "S1" / "u2.flac", 0.5, rate=16000)
    sine(root / "audio" / "S2" / "u3.wav", 0.25)
    write(root / "train" / "wav.scp", "u1 audio/S1/u1.wav\nu2 audio/S1/u2.flac\n\nu3 audio/S2/u3.wav\n")
    write(root / "train" / "text", "u1\tHELLO   WORLD\nu2 YES\nu3\n")  # tabs, extra spaces, empty text
    write(root / "train" / "utt2spk", "u1 S1\nu2 S1\nu3 S2\n")
    return root


def test_kaldi_dir_records(corpus: Path) -> None:
    records = kaldi_records(corpus / "train")
    assert [r["id"] for r in records] == ["u1", "u2", "u3"]  # wav.scp order
    expected = {"id": "u1", "audio": "audio/S1/u1.wav", "duration": 1.0, "text": "HELLO WORLD", "speaker": "S1"}
    assert records[0] == expected
    assert records[1]["duration"] == pytest.approx(0.5) and records[2]["text"] == ""
    assert [r["speaker"] for r in records] == ["S1", "S1", "S2"]


def test_manifest_round_trip_with_data_root(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifests" / "all.jsonl"
    write_manifest(manifest, kaldi_records(corpus / "train"))
    utts = read_manifest(manifest, data_root=corpus)
    assert utts[1].audio == str((corpus / "audio" / "S1" / "u2.flac").resolve())
    assert utts[0].duration == pytest.approx(1.0)
    # Without the data root the paths resolve under the manifest's folder, where no audio is.
    assert not Path(read_manifest(manifest)[0].audio).is_file()


def test_without_utt2spk_speaker_is_unknown(corpus: Path) -> None:
    (corpus / "train" / "utt2spk").unlink()
    assert {r["speaker"] for r in kaldi_records(corpus / "train")} == {""}


def test_audio_root_and_data_root(corpus: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "kaldi"
    write(elsewhere / "wav.scp", "u1 S1/u1.wav\n")
    write(elsewhere / "text", "u1 HI\n")
    records = kaldi_records(elsewhere, audio_root=corpus / "audio", data_root=corpus)
    assert records[0]["audio"] == "audio/S1/u1.wav"
    with pytest.raises(CorpusError, match="outside the data root"):
        kaldi_records(elsewhere, audio_root=corpus / "audio", data_root=tmp_path / "kaldi")


def test_piped_wav_scp_entry_names_file_and_line(corpus: Path) -> None:
    write(corpus / "train" / "wav.scp", "u1 audio/S1/u1.wav\nu2 sox audio/S1/u2.flac -t wav - |\n")
    with pytest.raises(CorpusError, match=r"wav\.scp:2: piped command entries are not supported"):
        read_wav_scp(corpus / "train" / "wav.scp")
    write(corpus / "train" / "wav.scp", "u1 data/feats.ark:1234\n")
    with pytest.raises(CorpusError, match=r"wav\.scp:1: only plain audio file paths"):
        read_wav_scp(corpus / "train" / "wav.scp")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text", "u1 A\nu2 B\nu3 C\nu4 D\n", r"text:4: utterance 'u4' is not in wav\.scp"),
        ("text", "u1 A\nu2 B\n", r"wav\.scp:4: utterance 'u3' has no entry in text"),
        ("utt2spk", "u1 S1\nu2 S1\n", r"wav\.scp:4: utterance 'u3' has no entry in utt2spk"),
        ("utt2spk", "u1 S1\nu2 S1\nu3 S2\nu1 S3\n", r"utt2spk:4: duplicate key 'u1' \(first at .*utt2spk:1\)"),
        ("wav.scp", "u1 audio/S1/u1.wav\nu2 audio/S1/missing.wav\nu3 audio/S2/u3.wav\n",
         r"wav\.scp:2: audio file .*missing\.wav does not exist"),
        ("wav.scp", "u1 audio/S1/u1.wav\nu2\nu3 audio/S2/u3.wav\n", r"wav\.scp:2: 'u2' has no value"),
    ],
)
def test_errors_name_file_and_line(corpus: Path, name: str, content: str, message: str) -> None:
    write(corpus / "train" / name, content)
    with pytest.raises(CorpusError, match=message):
        kaldi_records(corpus / "train")


def test_unreadable_and_empty_audio(corpus: Path) -> None:
    write(corpus / "audio" / "S1" / "u1.wav", "not audio")
    with pytest.raises(CorpusError, match=r"wav\.scp:1: unreadable audio"):
        kaldi_records(corpus / "train")
    soundfile.write(str(corpus / "audio" / "S1" / "u1.wav"), np.zeros(0), 8000)
    with pytest.raises(CorpusError, match=r"wav\.scp:1: .* has no samples"):
        kaldi_records(corpus / "train")


def test_read_table_keeps_value_whitespace_normalised(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "t", "\ufeffa  x   y \nb\tz\n"))
    assert table["a"].value == "x y" and table["b"].value == "z" and table["b"].where.endswith("t:2")


@pytest.fixture()
def digits(tmp_path: Path) -> Path:
    """FSDD-like folder: {digit}_{speaker}_{take}, mixed formats, one file in a sub-folder."""
    root = tmp_path / "digits"
    sine(root / "0_george_0.wav", 0.5)
    sine(root / "1_jackson_0.flac", 0.25)
    sine(root / "2_lucas_3.ogg", 0.5, fmt="OGG")
    sine(root / "extra" / "3_nicolas_1.wav", 0.125)
    sine(root / "9_george_9.wav", 0.1)  # no transcript line: left out
    return root


def test_folder_records(digits: Path, tmp_path: Path) -> None:
    lines = "0_george_0 zero\n1_jackson_0.flac one\n2_lucas_3  two\nextra/3_nicolas_1 three\n"
    trans = write(tmp_path / "trans.txt", lines)
    records = folder_records(digits, trans, speaker_regex=r"^(?:.*/)?\d+_([a-z]+)_")
    assert [(r["id"], r["audio"], r["text"], r["speaker"]) for r in records] == [
        ("0_george_0", "0_george_0.wav", "zero", "george"),
        ("1_jackson_0", "1_jackson_0.flac", "one", "jackson"),
        ("2_lucas_3", "2_lucas_3.ogg", "two", "lucas"),
        ("extra/3_nicolas_1", "extra/3_nicolas_1.wav", "three", "nicolas"),
    ]
    assert records[3]["duration"] == pytest.approx(0.125)
    assert folder_records(digits, trans)[0]["speaker"] == ""


def test_folder_stem_lookup_finds_nested_files(digits: Path, tmp_path: Path) -> None:
    trans = write(tmp_path / "trans.txt", "3_nicolas_1 three\n")
    assert folder_records(digits, trans, speaker_regex=r"_(?P<speaker>[a-z]+)_")[0]["speaker"] == "nicolas"


@pytest.mark.parametrize(
    ("lines", "regex", "message"),
    [
        ("0_george_0 zero\n5_nobody_0 five\n", None, r"trans\.txt:2: no audio file for '5_nobody_0'"),
        ("0_george_0 zero\n", r"^X(\d)", r"trans\.txt:1: speaker regex .* does not match '0_george_0\.wav'"),
        ("0_george_0 zero\n0_george_0.wav zero\n", None, r"trans\.txt:2: .* same audio as .*trans\.txt:1"),
        ("0_george_0 zero\n", "(", r"invalid --speaker-regex"),
    ],
)
def test_folder_errors(digits: Path, tmp_path: Path, lines: str, regex: str | None, message: str) -> None:
    trans = write(tmp_path / "trans.txt", lines)
    with pytest.raises(CorpusError, match=message):
        folder_records(digits, trans, speaker_regex=regex)


def test_folder_ambiguous_stem(digits: Path, tmp_path: Path) -> None:
    sine(digits / "0_george_0.flac", 0.2)
    trans = write(tmp_path / "trans.txt", "0_george_0 zero\n")
    message = r"trans\.txt:1: '0_george_0' is ambiguous \(0_george_0\.flac, 0_george_0\.wav\)"
    with pytest.raises(CorpusError, match=message):
        folder_records(digits, trans)
    write(trans, "0_george_0.wav zero\n")  # the relative path with its extension settles it
    assert folder_records(digits, trans)[0]["audio"] == "0_george_0.wav"


def test_tool_kaldi_and_folder(corpus: Path, digits: Path, tmp_path: Path, capsys, load_script) -> None:
    tool = load_script("tools/make_manifest.py")
    out = tmp_path / "m" / "train.jsonl"
    assert tool.main(["kaldi", str(corpus / "train"), "--out", str(out)]) == 0
    assert len(read_manifest(out, data_root=corpus)) == 3
    assert "3 utterances" in capsys.readouterr().out
    trans = write(tmp_path / "trans.txt", "0_george_0 zero\n")
    out2 = digits / "all.jsonl"  # manifest inside the data root: plain read_manifest works
    args = ["folder", str(digits), "--transcripts", str(trans), "--out", str(out2), "--speaker-regex", r"_([a-z]+)_"]
    assert tool.main(args) == 0
    assert read_manifest(out2)[0].speaker == "george"
    write(corpus / "train" / "wav.scp", "u1 cat x.wav |\n")
    assert tool.main(["kaldi", str(corpus / "train"), "--out", str(out)]) == 1
    assert "wav.scp:1: piped command" in capsys.readouterr().err


@pytest.fixture()
def segmented(tmp_path: Path) -> Path:
    """A Kaldi dir whose wav.scp lists one 1-second recording and ``segments`` cuts it in two."""
    root = tmp_path / "seg"
    ramp = np.linspace(-0.5, 0.5, 8000, dtype=np.float32)  # every sample distinct
    root.mkdir()
    soundfile.write(str(root / "rec.wav"), ramp, 8000, subtype="FLOAT")
    write(root / "data" / "wav.scp", "r1 rec.wav\n")
    write(root / "data" / "segments", "a r1 0.0 0.4\nb r1 0.5 -1\n")
    write(root / "data" / "text", "a HELLO\nb WORLD\n")
    write(root / "data" / "utt2spk", "a S1\nb S1\n")
    return root


def test_segments_make_one_record_per_segment_and_read_back_those_samples(
    segmented: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soundfile

    from seqkit.data.audio import load_audio

    headers, info = [], soundfile.info
    monkeypatch.setattr(soundfile, "info", lambda path: headers.append(path) or info(path))
    records = kaldi_records(segmented / "data")
    assert len(headers) == 1  # the recording's header, once for both of its segments
    assert [(r["id"], r["audio"], r["start"], r["duration"], r["text"]) for r in records] == [
        ("a", "rec.wav", 0.0, 0.4, "HELLO"), ("b", "rec.wav", 0.5, 0.5, "WORLD")]
    write_manifest(tmp_path / "m.jsonl", records)
    a, b = read_manifest(tmp_path / "m.jsonl", data_root=segmented)
    ramp = np.linspace(-0.5, 0.5, 8000, dtype=np.float32)
    assert np.array_equal(load_audio(a.audio, 8000, segment=a.segment).numpy(), ramp[:3200])
    assert np.array_equal(load_audio(b.audio, 8000, segment=b.segment).numpy(), ramp[4000:])


@pytest.mark.parametrize(
    ("segments", "message"),
    [("a r1 0.0 0.4\nb r9 0.5 -1\n", r"segments:2: recording 'r9' is not in wav\.scp"),
     ("a r1 0.0 0.4\nb r1 0.5 1.5\n", r"segments:2: segment ends at 1\.5 s, after its recording \(1\.0 s\)"),
     ("a r1 0.0 0.4\nb r1 0.6 0.5\n", r"segments:2: segment 0\.6-0\.5 s: need 0 <= start < end"),
     ("a r1 0.0\nb r1 0.5 -1\n", r"segments:1: expected '<utterance> <recording> <start> <end>'"),
     ("a r1 0.0 x\nb r1 0.5 -1\n", r"segments:1: 'x' is not a time in seconds"),
     ("a r1 0.0 0.4\n", r"text:2: utterance 'b' is not in segments")],
)
def test_bad_segments_name_file_and_line(segmented: Path, segments: str, message: str) -> None:
    write(segmented / "data" / "segments", segments)
    with pytest.raises(CorpusError, match=message):
        kaldi_records(segmented / "data")
