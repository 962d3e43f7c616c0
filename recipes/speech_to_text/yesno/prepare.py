#!/usr/bin/env python
"""Prepare Kaldi's yes/no corpus: ``train.jsonl`` (first 31 files) and ``test.jsonl`` (other 29).

Each file name is its transcript: ``0_1_1_0_0_1_0_1.wav`` -> "lo ken ken lo lo ken lo ken"
(1 = "ken", Hebrew for yes; 0 = "lo", no).  The split is the one of Kaldi's and icefall's
yesno recipes: sorted file names, the first 31 train, the rest test.

The corpus stays where it is (read-only, outside the repository): audio paths are
relative to the corpus folder, so read the manifests with
``read_manifest(path, data_root=$SEQKIT_DATA/yesno)``.

Word runs (on by default): every one of the 31 training files starts with "lo" and every
test file with "ken", so a model can learn "an utterance opens with lo".  Each training
file is cut in the pauses between its eight words (frame energy) and its suffixes,
starting at words 2..8, are added as segments (``start`` + ``duration``), so training
utterances open with both words.  A file whose words cannot be found is kept whole only,
and named.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile

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


def _runs(mask: np.ndarray) -> list[tuple[bool, int, int]]:
    """Maximal runs of equal values: (value, first index, end index)."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = [0, *edges.tolist(), len(mask)]
    return [(bool(mask[a]), a, b) for a, b in zip(bounds, bounds[1:])]


def word_starts(waveform: np.ndarray, rate: int, words: int) -> list[float] | None:
    """Seconds at which words 2..``words`` start: the middles of the pauses between words.

    A 10 ms frame is speech when its energy is within 25 dB of the loudest (smoothed over
    3 frames); runs under 80 ms are clicks.  With more speech runs than words, the shortest
    are taken for noises and dropped.  None when one of those is 200 ms or longer (a word
    split in two), when there are fewer runs than words (two words in one run) or when a
    word would be under 150 ms.
    """
    hop = rate // 100
    frames = len(waveform) // hop
    if frames == 0:
        return None
    energy = 10 * np.log10((waveform[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1) + 1e-10)
    energy = np.convolve(energy, np.ones(3) / 3, mode="same")
    runs = _runs(energy > energy.max() - 25)
    spoken = [(a, b) for is_speech, a, b in runs if is_speech and b - a >= 8]  # shorter: a click
    by_length = sorted(spoken, key=lambda run: run[1] - run[0], reverse=True)
    if len(spoken) < words or any(b - a >= 20 for a, b in by_length[words:]):
        return None  # a word lost in a run, or one split in two
    spoken = sorted(by_length[:words])
    starts = [(end + next_start) // 2 for (_, end), (next_start, _) in zip(spoken, spoken[1:])]
    if min(np.diff([spoken[0][0], *starts, spoken[-1][1]])) < 15:
        return None
    return [frame * hop / rate for frame in starts]


def word_runs(record: dict, corpus: Path) -> list[dict] | None:
    """Segments of ``record``'s file from each word after the first to the end; None if unsegmentable."""
    waveform, rate = soundfile.read(corpus / record["audio"], dtype="float32")
    words = record["text"].split()
    starts = word_starts(waveform, rate, len(words))
    if starts is None:
        return None
    total = len(waveform) / rate
    return [
        {**record, "id": f"{record['id']}_from{i + 2}", "start": round(start, 3),
         "duration": round(total - start, 3), "text": " ".join(words[i + 1 :])}
        for i, start in enumerate(starts)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the yesno corpus folder (default: $SEQKIT_DATA/yesno)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "yesno", help="where the manifests go")
    parser.add_argument("--word-runs", action=argparse.BooleanOptionalAction, default=True,
                        help="add each training file's suffixes from words 2..8 as segments (default: on)")
    args = parser.parse_args(argv)
    corpus = args.data or default_data_dir() / "yesno"
    try:
        records = yesno_records(corpus)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    train, test = records[:TRAIN_FILES], records[TRAIN_FILES:]
    if args.word_runs:
        runs = {r["id"]: word_runs(r, corpus) for r in train}
        whole_only = [name for name, segments in runs.items() if segments is None]
        train = train + [segment for segments in runs.values() if segments for segment in segments]
        print(f"word runs: {len(train) - TRAIN_FILES} segments; kept whole only (pauses not found): "
              f"{', '.join(whole_only) or 'none'}")
    for name, part in (("train", train), ("test", test)):
        count = write_manifest(args.out / f"{name}.jsonl", part)
        minutes = sum(r["duration"] for r in part) / 60
        print(f"{name}: {count} utterances, {minutes:.1f} min -> {args.out / f'{name}.jsonl'}")
    print(f"audio paths are relative to the data root {corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
