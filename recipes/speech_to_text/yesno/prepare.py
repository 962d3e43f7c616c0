#!/usr/bin/env python
"""Prepare Kaldi's yes/no corpus: ``train.jsonl`` (first 31 files) and ``test.jsonl`` (other 29).

Each file name is its transcript: ``0_1_1_0_0_1_0_1.wav`` -> "lo ken ken lo lo ken lo ken"
(1 = "ken", Hebrew for yes; 0 = "lo", no).  The split is the one of Kaldi's and icefall's
yesno recipes: sorted file names, the first 31 train, the rest test.

The corpus stays where it is (read-only, outside the repository): audio paths are
relative to the corpus folder, so read the manifests with
``read_manifest(path, data_root=$SEQKIT_DATA/yesno)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit.data.kaldi import CorpusError, make_record
from seqkit.data.paths import default_data_dir
from seqkit.data.manifest import ManifestError, write_manifest

REPO_ROOT = Path(__file__).resolve().parents[3]
WORDS = {"0": "lo", "1": "ken"}
SPEAKER = "yesno"  # one male speaker recorded everything
TRAIN_FILES = 31


def transcript(path: Path) -> str:
    """The words a file name spells; anything but eight 0/1 digits is an error naming the file."""
    digits = path.stem.split("_")
    if len(digits) != 8 or any(d not in WORDS for d in digits):
        raise CorpusError(f"{path}: expected a name of eight 0/1 digits like 0_1_1_0_0_1_0_1.wav")
    return " ".join(WORDS[d] for d in digits)


def yesno_records(corpus: Path) -> list[dict]:
    """One record per ``waves_yesno/*.wav``, in sorted file-name order."""
    files = sorted((corpus / "waves_yesno").glob("*.wav"))
    if not files:
        raise CorpusError(f"no .wav files in {corpus / 'waves_yesno'}; is SEQKIT_DATA right?")
    return [make_record(f.stem, f, transcript(f), SPEAKER, corpus, str(f)) for f in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the yesno corpus folder (default: $SEQKIT_DATA/yesno)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "yesno", help="where the manifests go")
    args = parser.parse_args(argv)
    corpus = args.data or default_data_dir() / "yesno"
    try:
        records = yesno_records(corpus)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, part in (("train", records[:TRAIN_FILES]), ("test", records[TRAIN_FILES:])):
        count = write_manifest(args.out / f"{name}.jsonl", part)
        minutes = sum(r["duration"] for r in part) / 60
        print(f"{name}: {count} utterances, {minutes:.1f} min -> {args.out / f'{name}.jsonl'}")
    print(f"audio paths are relative to the data root {corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
