"""JSONL manifests: round trip, errors that name file:line, path safety and data_root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqkit.data.manifest import (
    ManifestError,
    Utterance,
    read_manifest,
    resolve_audio_path,
    utterance_record,
    write_manifest,
)

RECORDS = [
    {"id": "a", "audio": "audio/a.wav", "duration": 1.5, "text": "hello world", "speaker": "s1"},
    {"id": "b", "audio": "audio/sub/b.flac", "duration": 0.25, "text": "naïve café", "speaker": "s2"},
    {"id": "c", "audio": "c.wav", "duration": 3, "text": "no speaker"},
]


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _good_line(**overrides) -> str:
    record = {"id": "u", "audio": "u.wav", "duration": 1.0, "text": "hi"}
    record.update(overrides)
    return json.dumps(record)


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "train.jsonl"
    assert write_manifest(path, RECORDS) == 3
    assert not (tmp_path / "sub" / "train.jsonl.tmp").exists()
    utts = read_manifest(path)
    assert [u.id for u in utts] == ["a", "b", "c"]
    assert utts[0].audio == str((tmp_path / "sub" / "audio" / "a.wav").resolve())
    assert utts[1].text == "naïve café"  # UTF-8, not escaped
    assert "naïve" in path.read_text(encoding="utf-8")
    assert utts[2].speaker == "" and utts[2].duration == 3.0
    assert [u.line for u in utts] == [1, 2, 3]
    assert utts[1].where == f"{path}:2 (id=b)"
    # Back to records, relative to the manifest's folder: the same as written.
    records = [utterance_record(u, path.parent) for u in utts]
    expected = [dict(r, speaker=r.get("speaker", ""), duration=float(r["duration"])) for r in RECORDS]
    assert records == expected
    # And written again, read again: identical utterances.
    write_manifest(tmp_path / "sub" / "copy.jsonl", records)
    again = read_manifest(tmp_path / "sub" / "copy.jsonl")
    assert [(u.id, u.audio, u.duration, u.text, u.speaker) for u in again] == [
        (u.id, u.audio, u.duration, u.text, u.speaker) for u in utts
    ]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "m.jsonl", [_good_line(id="x"), "", "   ", _good_line(id="y")])
    utts = read_manifest(path)
    assert [(u.id, u.line) for u in utts] == [("x", 1), ("y", 4)]


def test_write_rejects_record_missing_a_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'text'"):
        write_manifest(tmp_path / "m.jsonl", [{"id": "a", "audio": "a.wav", "duration": 1.0}])
    assert not (tmp_path / "m.jsonl").exists()


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "u", "audio": "u.wav", "duration": 1.0, "text": "hi"', "malformed JSON"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"id": "u", "audio": "u.wav", "text": "hi"}', "missing field.*duration"),
        ('{"audio": "u.wav", "duration": 1.0}', "missing field.*id.*text"),
        (_good_line(duration="long"), "duration 'long' is not a number"),
        (_good_line(duration=None), "duration None is not a number"),
        (_good_line(duration=0), "duration must be a positive finite number"),
        (_good_line(duration=-2.5), "duration must be a positive finite number"),
        (_good_line(duration="nan"), "duration must be a positive finite number"),
        (_good_line(duration="inf"), "duration must be a positive finite number"),
        (_good_line(text=5), "must be strings"),
        (_good_line(audio=["u.wav"]), "must be strings"),
        (_good_line(audio="/etc/passwd"), "absolute audio path"),
        (_good_line(audio="../outside.wav"), "escapes the data root"),
        (_good_line(audio="audio/../../outside.wav"), "escapes the data root"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = _write_lines(tmp_path / "data" / "m.jsonl", [_good_line(id="ok1"), _good_line(id="ok2"), bad_line])
    with pytest.raises(ManifestError, match=message) as info:
        read_manifest(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "m.jsonl", [_good_line(id="a"), _good_line(id="b"), _good_line(id="a")])
    with pytest.raises(ManifestError, match=r"m\.jsonl:3: duplicate id 'a' \(first on line 1\)"):
        read_manifest(path)


def test_ids_are_compared_as_strings(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "m.jsonl", [_good_line(id=1), _good_line(id="1")])
    with pytest.raises(ManifestError, match="duplicate id '1'"):
        read_manifest(path)


def test_missing_and_empty_manifests(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.jsonl")
    empty = _write_lines(tmp_path / "empty.jsonl", ["", ""])
    with pytest.raises(ManifestError, match="no utterances"):
        read_manifest(empty)


def test_data_root_overrides_manifest_folder(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    path = _write_lines(tmp_path / "manifests" / "m.jsonl", [_good_line(audio="spk/u.wav")])
    (utt,) = read_manifest(path, data_root=root)
    assert utt.audio == str((root / "spk" / "u.wav").resolve())
    # Without data_root: relative to the manifest's folder.
    (utt,) = read_manifest(path)
    assert utt.audio == str((tmp_path / "manifests" / "spk" / "u.wav").resolve())


def test_escape_is_judged_against_the_data_root(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    path = _write_lines(tmp_path / "manifests" / "m.jsonl", [_good_line(audio="../manifests/u.wav")])
    with pytest.raises(ManifestError, match=f"{path}:1: .*escapes the data root"):
        read_manifest(path, data_root=root)


def test_symlink_out_of_the_root_is_an_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ManifestError, match="escapes"):
        resolve_audio_path(root / "m.jsonl", "link/u.wav")


def test_dotdot_that_stays_inside_is_allowed(tmp_path: Path) -> None:
    resolved = resolve_audio_path(tmp_path / "m.jsonl", "a/../b/u.wav")
    assert resolved == (tmp_path / "b" / "u.wav").resolve()


def test_utterance_where() -> None:
    utt = Utterance(id="x", audio="/a.wav", duration=1.0, text="t", line=7, manifest="m.jsonl")
    assert utt.where == "m.jsonl:7 (id=x)"


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"offset": 0}, "come together"), ({"offset": -1, "size": 10}, "integers"), ({"offset": 5, "size": 0}, "integers"),
     ({"offset": 1.5, "size": 10}, "integers")],
)
def test_byte_range_fields_are_validated(tmp_path, extra, message) -> None:
    (tmp_path / "a.tar").write_bytes(b"x" * 100)
    line = {"id": "u", "audio": "a.tar", "duration": 1.0, "text": "a", **extra}
    (tmp_path / "m.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(ManifestError, match=rf"m\.jsonl:1: .*{message}"):
        read_manifest(tmp_path / "m.jsonl")


def test_segment_start_is_read_validated_and_written_back(tmp_path) -> None:
    path = _write_lines(tmp_path / "m.jsonl", [_good_line(id="seg", start=1.25, duration=0.5), _good_line(id="whole")])
    seg, whole = read_manifest(path)
    assert seg.segment == (1.25, 0.5) and whole.segment is None
    assert utterance_record(seg, tmp_path)["start"] == 1.25 and "start" not in utterance_record(whole, tmp_path)
    for bad in (-0.5, "1", True, float("nan")):
        bad_path = _write_lines(tmp_path / "bad.jsonl", [_good_line(), json.dumps({**json.loads(_good_line()), "start": bad})])
        with pytest.raises(ManifestError, match=r"bad\.jsonl:2: 'start'"):
            read_manifest(bad_path)
