"""Speak a manifest's transcripts with synthetic voices: extra training audio from text.

For each utterance of ``--manifest`` (only its ``text`` is used), or each line of a plain
``--text`` file, and each of ``--copies``, one synthetic *speaker* reads the transcript:

- ``--engine espeak``: eSpeak NG (``seqkit.data.espeak``, the ``espeakng-loader`` wheel),
  a speaker being one English accent + voice variant of ``tools/synth_digits.py`` with its
  own pitch, pitch range and speaking rate;
- ``--engine flite``: Flite (Debian's ``flite``, as ``tools/flite_digits.py``), whose
  voices are built from recordings of real people; a speaker is one of its voices at its
  own mean pitch and duration stretch;
- ``--engine festival``: Festival (``tools/festival_speech.py``) with three more voices built
  from recordings, one of them a speaker neither other engine has; a speaker as for Flite
  (its HTS voice keeps its own pitch).

Each speaker reads ``--per-speaker`` utterances, as a real speaker of a read-speech corpus
does, so per-speaker CMVN sees a speaker's statistics.  Audio is trimmed and given a
random level, silence padding and white noise (``tools/flite_digits.render``).  Output:
``OUT/wav/{id}.wav`` (PCM_16) and ``OUT/train.jsonl``, for
``SpeechDataModule(extra_train_manifest=...)``:

    python tools/tts_corpus.py --manifest data/speechocean762/train.jsonl --engine flite --out data/so762_tts_flite

Utterance ids are ``{prefix}{copy}_{source id}``, where a ``--text`` line's id is ``line{N}`` (its
line number; blank lines are skipped), and speakers ``{prefix}-{k}``; ``--prefix`` (default: the
engine) keeps two corpora trained together apart.

The same arguments give the same corpus.  A line the engine fails to speak (Festival on a lone
full stop) is reported by file and id and left out; the rest is written, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf
from tqdm import tqdm

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(TOOLS.parent))

import festival_speech  # noqa: E402
import flite_digits  # noqa: E402
import synth_digits  # noqa: E402
from seqkit.data.espeak import EspeakSynth, EspeakUnavailable, default_espeak_paths  # noqa: E402
from seqkit.data.manifest import read_manifest, write_manifest  # noqa: E402


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: a voice and the settings it keeps for all its utterances."""

    name: str
    voice: str
    pitch: float  # eSpeak: 0-100; Flite, Festival: mean F0 in Hz
    pitch_range: int  # eSpeak only
    rate: float  # eSpeak: words per minute; Flite, Festival: duration stretch (> 1 is slower)


@dataclass(frozen=True)
class CommandEngine:
    """A synthesiser run once per utterance as a command (Flite, Festival)."""

    available_voices: Callable[[], list[str]]  # the expected voices this machine has
    own_pitch: dict[str, float]  # voice -> its own mean F0 in Hz, which a speaker's pitch scales
    speak: Callable[[Speaker, str, Path], tuple[np.ndarray, int]]  # (speaker, text, scratch wav) -> audio, rate


COMMAND_ENGINES = {
    "flite": CommandEngine(lambda: flite_digits.available_voices("flite"), flite_digits.VOICES,
                           lambda speaker, text, wav: flite_digits.speak("flite", speaker.voice, text, speaker.rate,
                                                                         speaker.pitch, wav)),
    "festival": CommandEngine(festival_speech.available_voices, festival_speech.VOICES,
                              lambda speaker, text, wav: festival_speech.speak(speaker.voice, text, speaker.rate,
                                                                               speaker.pitch, wav)),
}


def draw_speakers(engine: str, voices: Sequence[str], count: int, rng: np.random.Generator,
                  prefix: str) -> list[Speaker]:
    """``count`` speakers named ``{prefix}-{k}``, cycling through ``voices``."""
    order = list(rng.permutation(len(voices)))
    speakers = []
    for k in range(count):
        voice = voices[order[k % len(order)]]
        if engine == "espeak":
            speakers.append(Speaker(f"{prefix}-{k}", voice, float(rng.integers(25, 80)), int(rng.integers(20, 80)),
                                    float(rng.integers(80, 150))))
        else:
            own_pitch = COMMAND_ENGINES[engine].own_pitch[voice]
            speakers.append(Speaker(f"{prefix}-{k}", voice, own_pitch * float(rng.uniform(0.8, 1.5)), 0,
                                    float(rng.uniform(1.1, 1.7))))
    return speakers


def speak_espeak(synth: EspeakSynth, speaker: Speaker, text: str, seed: int) -> tuple[np.ndarray, int]:
    samples = synth.synth(speaker.voice, text, int(speaker.rate), int(speaker.pitch), speaker.pitch_range, seed)
    return samples.astype(np.float32) / 32768.0, synth.native_rate


def read_text_lines(path: Path) -> list[tuple[str, str]]:
    """``(line{N}, sentence)`` for each non-blank line of a plain text file."""
    texts = [(f"line{number}", line.strip()) for number, line in enumerate(path.open(encoding="utf-8"), 1)
             if line.strip()]
    if not texts:
        raise ValueError(f"{path}: no sentences (every line is blank)")
    return texts


def read_manifest_texts(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of each utterance of a manifest (raises on an empty one)."""
    return [(utt.id, utt.text) for utt in read_manifest(path)]


def build(texts: list[tuple[str, str]], out: Path, engine: str, copies: int, per_speaker: int, sample_rate: int,
          seed: int, progress: bool = True, prefix: str | None = None) -> tuple[int, list[str]]:
    """Write the corpus of ``texts`` (``(id, text)`` pairs); returns the number of utterances
    written and a message for each one the engine failed to speak (left out, the rest kept).

    Speakers are named ``{prefix}-{k}`` and utterances ``{prefix}{copy}_{id}`` (prefix: the engine).
    """
    prefix = prefix or engine
    rng = np.random.default_rng([seed, 0x775])
    if engine == "espeak":
        lib, data = default_espeak_paths()
        voices = synth_digits.available_speakers(data)
        synth = EspeakSynth(lib, data)
    else:
        voices = COMMAND_ENGINES[engine].available_voices()
        synth = None
    if not voices:
        raise RuntimeError(f"{engine} offers none of the expected English voices")
    jobs = [(copy, uid, text) for copy in range(copies) for uid, text in texts]
    order = rng.permutation(len(jobs))  # a speaker reads a random set of transcripts
    speakers = draw_speakers(engine, voices, -(-len(jobs) // per_speaker), rng, prefix)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    records, failures = [], []
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for position, job in enumerate(tqdm(order, desc=engine, unit="utt", disable=not progress)):
                copy, uid, text = jobs[job]
                speaker = speakers[position // per_speaker]
                utt_seed = int(rng.integers(1, 2**31 - 1))  # drawn first: a failure leaves the others' draws alone
                try:
                    if synth is not None:
                        audio, rate = speak_espeak(synth, speaker, text.lower(), utt_seed)
                    else:
                        audio, rate = COMMAND_ENGINES[engine].speak(speaker, text.lower(), Path(scratch) / "utt.wav")
                    if audio.size == 0:
                        raise RuntimeError(f"{engine} produced no audio: {text!r}")
                except (RuntimeError, subprocess.CalledProcessError) as err:
                    failures.append(f"{uid} ({speaker.voice}): {err}")
                    continue
                audio = flite_digits.render(audio, rate, sample_rate, np.random.default_rng(utt_seed))
                new_id = f"{prefix}{copy}_{uid}"
                sf.write(out / "wav" / f"{new_id}.wav", audio, sample_rate, subtype="PCM_16")
                records.append({"id": new_id, "audio": f"wav/{new_id}.wav", "duration": round(len(audio) / sample_rate, 3),
                                "text": text, "speaker": speaker.name})
    finally:
        if synth is not None:
            synth.close()
    records.sort(key=lambda r: r["id"])
    write_manifest(out / "train.jsonl", records)
    return len(records), failures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="manifest whose transcripts are spoken")
    source.add_argument("--text", type=Path, help="plain text file: each non-blank line is spoken")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--engine", choices=("espeak", *COMMAND_ENGINES), required=True)
    parser.add_argument("--copies", type=int, default=1, help="times each transcript is spoken (by different speakers)")
    parser.add_argument("--per-speaker", type=int, default=20, help="utterances each synthetic speaker reads")
    parser.add_argument("--prefix", help="speakers PREFIX-0, PREFIX-1, ... and ids PREFIX0_... (default: the engine); "
                        "give corpora trained together different prefixes, or their ids clash and per-speaker "
                        "CMVN joins their speakers")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.copies < 1 or args.per_speaker < 1:
        parser.error("--copies and --per-speaker must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        texts = read_text_lines(args.text) if args.text is not None else read_manifest_texts(args.manifest)
        count, failures = build(texts, args.out, args.engine, args.copies, args.per_speaker, args.sample_rate,
                                args.seed, not args.quiet, prefix=args.prefix)
    except (EspeakUnavailable, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"error: {args.text or args.manifest}: {failure}", file=sys.stderr)
    left_out = f"; {len(failures)} left out (above)" if failures else ""
    print(f"wrote {count} utterances to {args.out}{left_out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
