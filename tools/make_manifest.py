#!/usr/bin/env python
"""Build a seqkit JSONL manifest from a Kaldi data dir or from a folder of audio files.

    python tools/make_manifest.py kaldi CORPUS/train --out data/x/all.jsonl [--audio-root CORPUS]
    python tools/make_manifest.py folder AUDIO_DIR --transcripts trans.txt --out data/y/all.jsonl \
        [--speaker-regex '^\\d+_([a-z]+)_']

Audio paths are written relative to ``--data-root`` (default: the audio root for
``kaldi``, the audio folder for ``folder``), so read the manifest with
``read_manifest(MANIFEST, data_root=DATA_ROOT)``.  The logic lives in
:mod:`seqkit.data.kaldi`; this file only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit.data.kaldi import folder_records, kaldi_records
from seqkit.data.manifest import ManifestError, write_manifest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="source", required=True)
    kaldi = sub.add_parser("kaldi", help="a Kaldi data dir: wav.scp, text, optional utt2spk and segments")
    kaldi.add_argument("dir", type=Path, help="the data dir")
    kaldi.add_argument("--audio-root", type=Path, help="folder relative wav.scp paths start from (default: DIR/..)")
    folder = sub.add_parser("folder", help="a folder of audio files plus a transcript file")
    folder.add_argument("dir", type=Path, help="the audio folder (searched recursively)")
    folder.add_argument("--transcripts", type=Path, required=True, help="lines '<file stem or relative path> <text>'")
    folder.add_argument("--speaker-regex", help="regex searched in each file's relative path; group 1 (or ?P<speaker>)")
    for p in (kaldi, folder):
        p.add_argument("--out", type=Path, required=True, help="the manifest to write (.jsonl)")
        p.add_argument("--data-root", type=Path, help="folder the manifest's audio paths are relative to")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.source == "kaldi":
            data_root = args.data_root or args.audio_root or args.dir.parent
            records = kaldi_records(args.dir, audio_root=args.audio_root, data_root=data_root)
        else:
            data_root = args.data_root or args.dir
            records = folder_records(args.dir, args.transcripts, args.speaker_regex, data_root=data_root)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not records:
        print(f"error: no utterances found in {args.dir}", file=sys.stderr)
        return 1
    count = write_manifest(args.out, records)
    hours = sum(r["duration"] for r in records) / 3600
    speakers = len({r["speaker"] for r in records})
    print(f"wrote {count} utterances ({hours:.2f} h, {speakers} speakers) to {args.out}")
    if data_root.resolve() == args.out.parent.resolve():
        print(f"read it with read_manifest({str(args.out)!r})")
    else:
        print(f"audio paths are relative to {data_root}: "
              f"read it with read_manifest(path, data_root={str(data_root)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
