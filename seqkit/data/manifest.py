"""JSONL manifests: one utterance a line.

Each line is a JSON object with ``id``, ``audio`` (a path relative to the manifest's
folder), ``duration`` (seconds), ``text`` and ``speaker``.  An optional ``start`` (seconds)
makes the line a segment of a longer recording: ``[start, start + duration)``.  Every problem
is reported with the manifest's path and line number, so a user can open the file and fix it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

REQUIRED_FIELDS = ("id", "audio", "duration", "text")


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str  # resolved absolute path
    duration: float
    text: str
    speaker: str = ""
    line: int = 0  # 1-based line in the manifest, for error messages
    manifest: str = ""
    # For audio stored inside an archive (a tar shard): the bytes [offset, offset + size).
    offset: int | None = None
    size: int | None = None
    # A segment of a longer recording (Kaldi's ``segments``): [start, start + duration) seconds.
    start: float | None = None

    @property
    def where(self) -> str:
        return f"{self.manifest}:{self.line} (id={self.id})"

    @property
    def segment(self) -> tuple[float, float] | None:
        """(start, duration) seconds for :func:`seqkit.data.audio.load_audio`, or None: the whole file."""
        return None if self.start is None else (self.start, self.duration)


def resolve_audio_path(manifest: Path, audio: str, data_root: Path | None = None) -> Path:
    """Resolve ``audio`` under ``data_root`` (default: the manifest's folder).

    Absolute paths and ``..`` escapes are rejected: a manifest must not point outside
    its data root.
    """
    root = (data_root or manifest.parent).resolve()
    if os.path.isabs(audio):
        raise ManifestError(f"absolute audio path {audio!r} is not allowed; make it relative to {root}")
    path = (root / audio).resolve()
    if not path.is_relative_to(root):
        raise ManifestError(f"audio path {audio!r} escapes the data root {root}")
    if path == root:
        raise ManifestError(f"audio path {audio!r} names the data root {root}, not a file")
    return path


def parse_manifest_line(raw: str, manifest: Path, line: int, data_root: Path | None = None) -> Utterance:
    where = f"{manifest}:{line}"
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ManifestError(f"{where}: malformed JSON: {err.msg}") from None
    except (ValueError, RecursionError) as err:  # a number of thousands of digits, or deep nesting
        raise ManifestError(f"{where}: unreadable JSON: {type(err).__name__}: {str(err)[:80]}") from None
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED_FIELDS if key not in record]
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    try:
        duration = float(record["duration"])
    except (TypeError, ValueError, OverflowError):
        raise ManifestError(f"{where}: duration {record['duration']!r} is not a number") from None
    if not (duration > 0 and math.isfinite(duration)):
        raise ManifestError(f"{where}: duration must be a positive finite number, got {duration}")
    if not isinstance(record["text"], str) or not isinstance(record["audio"], str):
        raise ManifestError(f"{where}: 'text' and 'audio' must be strings")
    if "\x00" in record["audio"]:
        raise ManifestError(f"{where}: audio path {record['audio']!r} holds a NUL character")
    try:
        audio = resolve_audio_path(manifest, record["audio"], data_root)
    except ManifestError as err:
        raise ManifestError(f"{where}: {err}") from None
    offset, size = record.get("offset"), record.get("size")
    if (offset is None) != (size is None):
        raise ManifestError(f"{where}: 'offset' and 'size' (a byte range inside 'audio') come together")
    if offset is not None and not (_natural(offset) and _natural(size) and size > 0):
        raise ManifestError(f"{where}: 'offset' and 'size' must be integers >= 0 and > 0, got {offset!r}, {size!r}")
    start = record.get("start")
    if start is not None and not (
        isinstance(start, (int, float)) and not isinstance(start, bool) and math.isfinite(start) and start >= 0
    ):
        raise ManifestError(f"{where}: 'start' (seconds into the audio) must be a finite number >= 0, got {start!r}")
    return Utterance(
        id=str(record["id"]),
        audio=str(audio),
        duration=duration,
        text=record["text"],
        speaker=str(record.get("speaker", "")),
        line=line,
        manifest=str(manifest),
        offset=offset,
        size=size,
        start=None if start is None else float(start),
    )


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_manifest(path: str | os.PathLike, data_root: str | os.PathLike | None = None) -> list[Utterance]:
    """Read every utterance; raise :class:`ManifestError` on the first bad line or duplicate id."""
    manifest = Path(path)
    if not manifest.is_file():
        raise ManifestError(f"manifest {manifest} does not exist")
    root = Path(data_root) if data_root is not None else None
    utterances: list[Utterance] = []
    seen: dict[str, int] = {}
    with open(manifest, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            utt = parse_manifest_line(raw, manifest, line_number, root)
            if utt.id in seen:
                raise ManifestError(f"{manifest}:{line_number}: duplicate id {utt.id!r} (first on line {seen[utt.id]})")
            seen[utt.id] = line_number
            utterances.append(utt)
    if not utterances:
        raise ManifestError(f"manifest {manifest} has no utterances")
    return utterances


def write_manifest(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write ``records`` (dicts with the manifest fields, ``audio`` relative to ``path``'s folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            for key in REQUIRED_FIELDS:
                if key not in record:
                    raise ValueError(f"record {record!r} lacks {key!r}")
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)  # atomic: a crash never leaves half a manifest
    return count


def utterance_record(utt: Utterance, relative_to: Path) -> dict:
    """The manifest dict of ``utt`` with its audio path relative to ``relative_to``."""
    record = asdict(utt)
    record.pop("line")
    record.pop("manifest")
    if utt.offset is None:
        record.pop("offset")
        record.pop("size")
    if utt.start is None:
        record.pop("start")
    record["audio"] = os.path.relpath(utt.audio, relative_to)
    return record
