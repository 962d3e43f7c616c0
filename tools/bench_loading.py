"""Audio loading speed: seqkit's ``load_audio`` against a bare ``soundfile.read`` of the same files.

    python tools/bench_loading.py --manifest data/speechocean762/train.jsonl \
        --data-root '${SEQKIT_DATA}/speechocean762' --files 200 --rounds 3

``load_audio`` adds what a training loader needs to the bare read (header checks, segments,
downmix, resampling to ``--sample-rate``, NaN/Inf checks); this prints both speeds in
audio-seconds per second of one core, and their ratio, per round, then the median.  The
first pass over the files is not timed, so both read from the page cache.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import soundfile
import torch

from seqkit.data.audio import load_audio, segment_frames
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path


def time_reads(read, utterances) -> float:
    start = time.perf_counter()
    for utt in utterances:
        read(utt)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--data-root", help="audio paths are relative to it (default: the manifest's folder)")
    parser.add_argument("--files", type=int, default=200, help="the first N utterances")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample-rate", type=int, default=16000, help="the model's rate load_audio resamples to")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one core, as in one DataLoader worker
    root = expand_data_path(args.data_root) if args.data_root else None
    utterances = [u for u in read_manifest(expand_data_path(args.manifest), root) if u.offset is None][: args.files]
    if not utterances:
        print("error: no utterances to read (shard indexes are not supported)", file=sys.stderr)
        return 1
    seconds = sum(u.duration for u in utterances)

    def seqkit_read(utt):
        return load_audio(utt.audio, args.sample_rate, where=utt.where, segment=utt.segment)

    def bare_read(utt):
        start, frames = 0, -1
        if utt.segment:
            info = soundfile.info(utt.audio)
            start, frames = segment_frames(utt.segment, info.frames, info.samplerate, utt.where)
        return soundfile.read(utt.audio, dtype="float32", start=start, frames=frames)

    time_reads(seqkit_read, utterances)  # warm the page cache
    rows = []
    print(f"{len(utterances)} files, {seconds:.0f} s of audio; audio-s/s on one core")
    print(f"{'round':<7}{'load_audio':>12}{'soundfile':>12}{'ratio':>8}")
    for number in range(1, args.rounds + 1):
        seqkit_speed = seconds / time_reads(seqkit_read, utterances)
        bare_speed = seconds / time_reads(bare_read, utterances)
        rows.append({"round": number, "load_audio": seqkit_speed, "soundfile": bare_speed, "ratio": seqkit_speed / bare_speed})
        print(f"{number:<7}{seqkit_speed:>12,.0f}{bare_speed:>12,.0f}{seqkit_speed / bare_speed:>8.2f}")
    median = {key: statistics.median(r[key] for r in rows) for key in ("load_audio", "soundfile", "ratio")}
    print(f"{'median':<7}{median['load_audio']:>12,.0f}{median['soundfile']:>12,.0f}{median['ratio']:>8.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"files": len(utterances), "audio_seconds": seconds, "rounds": rows, "median": median}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
