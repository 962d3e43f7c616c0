"""Manifest records from corpora on disk: Kaldi data dirs, or a folder of audio plus transcripts.

Both sources end in the same :func:`make_record`, which measures the audio with
``soundfile.info`` and writes its path *relative to a data root*.  The data root is the
corpus folder, not the manifest's folder: corpora live outside the repository (read-only,
shared), so a manifest-relative path would need ``..`` escapes that
:func:`seqkit.data.manifest.read_manifest` rejects.  Read such a manifest with
``read_manifest(path, data_root=<corpus folder>)``; moving the corpus then only changes
that one setting.  When the data root is the manifest's own folder, plain
``read_manifest(path)`` works.

Every error names the file and line it comes from.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import soundfile
from tqdm import tqdm

from seqkit.data.manifest import ManifestError

# Extensions libsndfile can read without being told the sample format ("raw" cannot).
AUDIO_EXTENSIONS = frozenset(
    {fmt.lower() for fmt in soundfile.available_formats() if fmt != "RAW"} | {"aif", "oga", "opus", "sph"}
)


class CorpusError(ManifestError):
    """A corpus file that cannot be turned into a manifest; the message names file and line."""


@dataclass(frozen=True)
class Entry:
    """One ``key value`` line of a Kaldi-style table."""

    key: str
    value: str
    where: str  # "path:line"


def read_table(path: str | os.PathLike, allow_empty: bool = False) -> dict[str, Entry]:
    """Read ``key value...`` lines (space- or tab-separated; the value is the rest of the line).

    Blank lines are skipped; whitespace inside the value is collapsed to single spaces.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path} does not exist")
    table: dict[str, Entry] = {}
    with open(path, encoding="utf-8-sig") as handle:  # -sig: tolerate a BOM from Windows editors
        for number, raw in enumerate(handle, start=1):
            fields = raw.split(maxsplit=1)
            if not fields:
                continue
            where = f"{path}:{number}"
            key, value = fields[0], " ".join(fields[1].split()) if len(fields) > 1 else ""
            if not value and not allow_empty:
                raise CorpusError(f"{where}: {key!r} has no value")
            if key in table:
                raise CorpusError(f"{where}: duplicate key {key!r} (first at {table[key].where})")
            table[key] = Entry(key, value, where)
    return table


def read_wav_scp(path: str | os.PathLike) -> dict[str, Entry]:
    """``wav.scp`` with plain file paths only; piped commands and ark offsets are refused."""
    table = read_table(path)
    for entry in table.values():
        if entry.value.endswith("|"):
            raise CorpusError(
                f"{entry.where}: piped command entries are not supported ({entry.value!r}); "
                "convert the audio to files first (e.g. with the command itself) and list their paths"
            )
        if entry.value == "-" or re.search(r"\.ark:\d+$", entry.value):
            raise CorpusError(f"{entry.where}: only plain audio file paths are supported, got {entry.value!r}")
    return table


def audio_duration(path: Path, where: str) -> float:
    """Duration in seconds from the file header; errors say which line named the file."""
    if not path.is_file():
        raise CorpusError(f"{where}: audio file {path} does not exist")
    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError) as err:
        raise CorpusError(f"{where}: unreadable audio {path} ({err})") from None
    if not info.frames > 0:
        raise CorpusError(f"{where}: audio file {path} has no samples")
    return info.frames / info.samplerate


def relative_audio_path(path: Path, data_root: Path, where: str) -> str:
    """``path`` relative to ``data_root`` (POSIX separators), refusing anything outside it."""
    # Resolved like read_manifest resolves them, so what is written here reads back.
    root, resolved = data_root.resolve(), path.resolve()
    if not resolved.is_relative_to(root):
        raise CorpusError(
            f"{where}: audio {path} is outside the data root {root}; choose a data root holding all audio"
        )
    return resolved.relative_to(root).as_posix()


def make_record(utt_id: str, audio: Path, text: str, speaker: str, data_root: Path, where: str,
                duration: float | None = None) -> dict:
    """A manifest record: ``audio`` relative to ``data_root``, duration measured from the file unless given."""
    return {
        "id": utt_id,
        "audio": relative_audio_path(audio, data_root, where),
        "duration": round(audio_duration(audio, where) if duration is None else duration, 4),
        "text": text,
        "speaker": speaker,
    }


def _check_same_keys(reference: dict[str, Entry], ref_name: str, other: dict[str, Entry], other_name: str) -> None:
    """Every key of ``other`` must be in ``reference`` and vice versa; name the first offender."""
    for entry in other.values():
        if entry.key not in reference:
            raise CorpusError(f"{entry.where}: utterance {entry.key!r} is not in {ref_name}")
    for entry in reference.values():
        if entry.key not in other:
            raise CorpusError(f"{entry.where}: utterance {entry.key!r} has no entry in {other_name}")


@dataclass(frozen=True)
class Segment:
    """One line of Kaldi's ``segments``: an utterance is [start, end) seconds of a recording."""

    recording: str
    start: float
    end: float  # -1: to the end of the recording (Kaldi's convention)
    where: str


def read_segments(path: Path, recordings: dict[str, Entry]) -> dict[str, Segment]:
    """``<utterance> <recording> <start> <end>`` lines, checked against ``wav.scp``'s recordings."""
    segments = {}
    for entry in read_table(path).values():
        fields = entry.value.split()
        if len(fields) != 3:
            raise CorpusError(f"{entry.where}: expected '<utterance> <recording> <start> <end>', got {entry.value!r}")
        recording, start, end = fields[0], _seconds(fields[1], entry.where), _seconds(fields[2], entry.where)
        if recording not in recordings:
            raise CorpusError(f"{entry.where}: recording {recording!r} is not in wav.scp")
        if start < 0 or not (end > start or end == -1):
            raise CorpusError(f"{entry.where}: segment {start}-{end} s: need 0 <= start < end (or end = -1)")
        segments[entry.key] = Segment(recording, start, end, entry.where)
    return segments


def _seconds(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CorpusError(f"{where}: {text!r} is not a time in seconds") from None
    if not math.isfinite(value):
        raise CorpusError(f"{where}: {text!r} is not a time in seconds")
    return value


def kaldi_records(
    kaldi_dir: str | os.PathLike,
    audio_root: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
) -> list[dict]:
    """Records of a Kaldi data dir (``wav.scp``, ``text``, optional ``utt2spk`` and ``segments``).

    Relative wav.scp paths are resolved under ``audio_root`` (default: the dir's parent,
    the layout of speechocean762 and of many OpenSLR corpora).  Manifest paths are
    written relative to ``data_root`` (default: ``audio_root``).  Without ``utt2spk``
    the speaker is ``""`` (unknown).  With ``segments``, wav.scp lists recordings and each
    utterance is a segment of one (a record with ``start``), in segments order; otherwise
    each wav.scp line is an utterance, in wav.scp order.
    """
    kaldi_dir = Path(kaldi_dir)
    if not kaldi_dir.is_dir():
        raise CorpusError(f"Kaldi data dir {kaldi_dir} does not exist")
    audio_root = Path(audio_root) if audio_root is not None else kaldi_dir.parent
    data_root = Path(data_root) if data_root is not None else audio_root
    wavs = read_wav_scp(kaldi_dir / "wav.scp")
    has_segments = (kaldi_dir / "segments").is_file()
    segments = read_segments(kaldi_dir / "segments", wavs) if has_segments else {}
    utterances = {utt: Entry(utt, seg.recording, seg.where) for utt, seg in segments.items()} if has_segments else wavs
    utterance_file = "segments" if has_segments else "wav.scp"
    texts = read_table(kaldi_dir / "text", allow_empty=True)  # Kaldi allows empty transcripts
    _check_same_keys(utterances, utterance_file, texts, "text")
    speakers: dict[str, Entry] = {}
    if (kaldi_dir / "utt2spk").is_file():
        speakers = read_table(kaldi_dir / "utt2spk")
        _check_same_keys(utterances, utterance_file, speakers, "utt2spk")
    records, recording_seconds = [], {}  # a recording's header is read once, however many segments it has
    for utt in tqdm(utterances, desc=f"reading {kaldi_dir}", unit="utt", disable=None):
        spk = speakers[utt].value if speakers else ""
        segment = segments.get(utt)
        entry = wavs[segment.recording] if segment else wavs[utt]
        audio = audio_root / entry.value
        if entry.value not in recording_seconds:
            recording_seconds[entry.value] = audio_duration(audio, entry.where)
        record = make_record(utt, audio, texts[utt].value, spk, data_root, entry.where, recording_seconds[entry.value])
        records.append(_cut(record, segment) if segment else record)
    return records


def _cut(record: dict, segment: Segment) -> dict:
    """``record`` of a whole recording -> the record of ``segment`` of it."""
    total = record["duration"]
    end = total if segment.end == -1 else segment.end
    if end > total + 0.01:  # 10 ms of slack for rounded times
        raise CorpusError(f"{segment.where}: segment ends at {end} s, after its recording ({total} s)")
    return {**record, "duration": round(min(end, total) - segment.start, 4), "start": segment.start}


def _speaker_pattern(speaker_regex: str | None) -> re.Pattern | None:
    if speaker_regex is None:
        return None
    try:
        return re.compile(speaker_regex)
    except re.error as err:
        raise CorpusError(f"invalid --speaker-regex {speaker_regex!r}: {err}") from None


def _speaker(pattern: re.Pattern, name: str, where: str) -> str:
    """The named group ``speaker``, else group 1, else the whole match, searched in ``name``."""
    match = pattern.search(name)
    if match is None:
        raise CorpusError(f"{where}: speaker regex {pattern.pattern!r} does not match {name!r}")
    if "speaker" in pattern.groupindex:
        return match.group("speaker")
    return match.group(1) if pattern.groups else match.group(0)


def index_audio(folder: Path) -> dict[str, list[Path]]:
    """Audio files under ``folder`` by relative path without suffix and by bare stem."""
    index: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS and path.is_file():
            rel = path.relative_to(folder).with_suffix("").as_posix()
            index.setdefault(rel, []).append(path)
            if rel != path.stem:
                index.setdefault(path.stem, []).append(path)
    return index


def find_audio(folder: Path, key: str, index: dict[str, list[Path]], where: str) -> Path:
    """The audio file a transcript key names: a relative path (with or without suffix) or a stem."""
    if (folder / key).is_file():
        return folder / key
    candidates = index.get(key.removesuffix("/"), [])
    if not candidates:
        raise CorpusError(f"{where}: no audio file for {key!r} under {folder}")
    if len(candidates) > 1:
        names = ", ".join(p.relative_to(folder).as_posix() for p in candidates)
        raise CorpusError(f"{where}: {key!r} is ambiguous ({names}); give the relative path with its extension")
    return candidates[0]


def folder_records(
    audio_dir: str | os.PathLike,
    transcripts: str | os.PathLike,
    speaker_regex: str | None = None,
    data_root: str | os.PathLike | None = None,
) -> list[dict]:
    """Records of a folder of audio files described by ``<stem or relative path> <text>`` lines.

    The utterance id is the file's path under ``audio_dir`` without its suffix.  The
    speaker comes from ``speaker_regex`` searched in that relative path (``""`` without
    one).  Audio files no line mentions are left out.  Paths are written relative to
    ``data_root`` (default: ``audio_dir``).
    """
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise CorpusError(f"audio folder {audio_dir} does not exist")
    data_root = Path(data_root) if data_root is not None else audio_dir
    pattern = _speaker_pattern(speaker_regex)
    lines = read_table(transcripts, allow_empty=True)
    index = index_audio(audio_dir)
    records, seen = [], {}
    for entry in tqdm(lines.values(), desc=f"reading {audio_dir}", unit="utt", disable=None):
        audio = find_audio(audio_dir, entry.key, index, entry.where)
        utt_id = audio.relative_to(audio_dir).with_suffix("").as_posix()
        if utt_id in seen:
            raise CorpusError(f"{entry.where}: {entry.key!r} names the same audio as {seen[utt_id]}")
        seen[utt_id] = entry.where
        speaker = _speaker(pattern, audio.relative_to(audio_dir).as_posix(), entry.where) if pattern else ""
        records.append(make_record(utt_id, audio, entry.value, speaker, data_root, entry.where))
    return records
