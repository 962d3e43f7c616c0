#!/usr/bin/env python
"""Pack a manifest's audio into tar shards, with an index that is itself a manifest.

    python tools/write_shards.py data/speechocean762/train.jsonl --data-root '${SEQKIT_DATA}/speechocean762' \\
        --out data/speechocean762/shards --shard-mb 256

Each shard ``shard-000000.tar`` holds, per utterance, ``KEY.<ext>`` (the audio file's bytes,
unchanged) and ``KEY.json`` (its id, text, speaker and duration): the WebDataset layout, so
the shards also stream with the ``webdataset`` library or ``tar``.  ``OUT/index.jsonl`` is
a seqkit manifest in the input's order whose lines point into the shards::

    {"id": "u1", "audio": "shard-000000.tar", "offset": 1536, "size": 40960, "duration": 1.2, ...}

so ``--data.train_manifest OUT/index.jsonl`` trains from the shards with everything a
manifest has: the same durations, hence the same duration-bucketed batches per epoch as
training from the original manifest, data checks, DDP sharding and mid-epoch resume.  A
shard is one large file instead of thousands of small ones (what network file systems and
copies to local disk prefer); each utterance is read by one seek and one contiguous read.
Shards are written to a temporary name and renamed when complete.

A segment (a manifest line with ``start``, e.g. from Kaldi ``segments``) is stored as its
own samples only, not its whole recording: FLAC for 8-24-bit PCM sources (bit-exact), WAV
float32 otherwise (exactly the samples ``load_audio`` decodes from the recording).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
from pathlib import Path
from typing import Iterator

import soundfile
from tqdm import tqdm

from seqkit.data.audio import segment_frames
from seqkit.data.manifest import ManifestError, Utterance, read_manifest, write_manifest
from seqkit.data.paths import expand_data_path


def shard_groups(utterances: list[Utterance], max_bytes: int) -> Iterator[list[Utterance]]:
    """Consecutive runs of utterances whose audio adds up to at most ``max_bytes`` (at least one each)."""
    group: list[Utterance] = []
    total = 0
    for utt in utterances:
        size = stored_size_estimate(utt)
        if group and total + size > max_bytes:
            yield group
            group, total = [], 0
        group.append(utt)
        total += size
    if group:
        yield group


def stored_size_estimate(utt: Utterance) -> int:
    """Bytes ``utt`` takes in a shard: its file, or a segment's share of its recording."""
    size = os.path.getsize(utt.audio)
    if utt.segment is None:
        return size
    return min(size, int(size * utt.duration / max(soundfile.info(utt.audio).duration, 1e-9)) + 1024)


# Bit-exact in FLAC; any other source is stored as the float32 samples load_audio decodes.
FLAC_SUBTYPES = {"PCM_S8": "int16", "PCM_16": "int16", "PCM_24": "int32"}


def segment_audio(utt: Utterance) -> tuple[bytes, str]:
    """The samples of segment ``utt`` as a file of their own: (bytes, extension)."""
    info = soundfile.info(utt.audio)
    start, frames = segment_frames(utt.segment, info.frames, info.samplerate, f"{utt.where}: {utt.audio}")
    dtype = FLAC_SUBTYPES.get(info.subtype, "float32")
    data, rate = soundfile.read(utt.audio, start=start, frames=frames, dtype=dtype, always_2d=True)  # (T, C)
    buffer = io.BytesIO()
    if info.subtype in FLAC_SUBTYPES:
        soundfile.write(buffer, data, rate, format="FLAC", subtype=info.subtype)
        return buffer.getvalue(), "flac"
    soundfile.write(buffer, data, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue(), "wav"


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(payload))


def write_shard(path: Path, utterances: list[Utterance], first_key: int) -> list[dict]:
    """Write one shard; return the index records of its utterances."""
    tmp = path.with_name(path.name + ".tmp")
    members, metas = [], []
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for number, utt in enumerate(utterances, start=first_key):
            key = f"{number:09d}"  # ids may hold dots, which WebDataset reads as extensions
            meta = {"id": utt.id, "text": utt.text, "speaker": utt.speaker, "duration": utt.duration}
            if utt.segment is None:
                payload, ext = Path(utt.audio).read_bytes(), Path(utt.audio).suffix.lstrip(".").lower() or "audio"
            else:
                payload, ext = segment_audio(utt)
            _add_bytes(tar, f"{key}.{ext}", payload)
            _add_bytes(tar, f"{key}.json", json.dumps(meta, ensure_ascii=False).encode())
            members.append(f"{key}.{ext}")
            metas.append(meta)
    with tarfile.open(tmp) as tar:  # the byte ranges, as a reader of the finished file sees them
        where = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
    os.replace(tmp, path)
    return [{**meta, "audio": path.name, "offset": where[name][0], "size": where[name][1]}
            for name, meta in zip(members, metas)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", help="JSONL manifest to pack")
    parser.add_argument("--data-root", help="audio paths are relative to it (default: the manifest's folder)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the shards and index.jsonl")
    parser.add_argument("--shard-mb", type=float, default=256.0, help="audio megabytes per shard, at most")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.shard_mb <= 0:
        parser.error("--shard-mb must be positive")
    try:
        utterances = read_manifest(expand_data_path(args.manifest), expand_data_path(args.data_root) if args.data_root else None)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    missing = [f"{u.where}: {u.audio}: audio file not found" for u in utterances if not os.path.isfile(u.audio)]
    if missing:
        print("error: cannot pack missing audio:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    if any(u.offset is not None for u in utterances):
        print(f"error: {args.manifest} already points into archives; pack the original manifest", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    groups = list(shard_groups(utterances, int(args.shard_mb * 2**20)))
    for number, group in enumerate(tqdm(groups, desc="shards", unit="shard", disable=args.quiet)):
        records += write_shard(args.out / f"shard-{number:06d}.tar", group, first_key=len(records))
    count = write_manifest(args.out / "index.jsonl", records)
    print(f"wrote {count} utterances in {len(groups)} shard(s) to {args.out} (index: {args.out / 'index.jsonl'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
