"""Synthesise isolated spoken digits with Flite's voices, made from recordings of real people.

eSpeak NG (``tools/synth_digits.py``) gives hundreds of voices, but formant-synthesised
ones.  Flite's voices are built from recordings of real speakers: ``kal`` (diphones of a
US male), ``awb`` (Scottish male), ``rms`` (US male) and ``slt`` (US female), the last
three from CMU ARCTIC.  Each utterance is one digit word ("zero" .. "nine"), spoken by one
of the voices at a random speaking rate and mean pitch, trimmed, then given a random
level, silence padding and white noise.  Every voice trains (there is no test split): the
output is for ``FSDDDataModule(extra_train_manifest=...)``.

Flite is Debian's ``flite`` package (``apt-get install flite``; ``tools/setup_env.sh``
installs it when run as root), driven as a subprocess, so nothing is fetched:

    python tools/flite_digits.py --out data/flite_digits_8k --per-digit 15 --sample-rate 8000

writes ``OUT/wav/{voice}_{digit}_{take}.wav`` (PCM_16) and ``OUT/train.jsonl``, with a
progress bar.  The same arguments give the same corpus.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import librosa
import numpy as np
import soundfile as sf
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.data.fsdd import DIGIT_WORDS  # noqa: E402
from seqkit.data.manifest import write_manifest  # noqa: E402

# Voice -> its usual mean pitch in Hz (the centre of the random pitch range).
VOICES = {"kal": 100.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}


def available_voices(binary: str) -> list[str]:
    """The voices of :data:`VOICES` that ``binary -lv`` lists (error if Flite is missing)."""
    if shutil.which(binary) is None:
        raise FileNotFoundError(f"{binary!r} not found: install Flite (Debian: apt-get install flite)")
    listed = subprocess.run([binary, "-lv"], capture_output=True, text=True, check=True).stdout
    names = set(listed.replace("Voices available:", "").split())
    return [voice for voice in VOICES if voice in names]


def speak(binary: str, voice: str, word: str, stretch: float, pitch_hz: float, wav: Path) -> tuple[np.ndarray, int]:
    """One word from Flite as float32 at the voice's own sample rate."""
    command = [binary, "-voice", voice, "-t", word, "-o", str(wav),
               "--setf", f"duration_stretch={stretch:.3f}", "--setf", f"int_f0_target_mean={pitch_hz:.1f}"]
    subprocess.run(command, check=True, capture_output=True)
    audio, rate = sf.read(wav, dtype="float32")
    if audio.size == 0:
        raise RuntimeError(f"Flite produced no audio for voice {voice!r}: {word!r}")
    return audio, rate


def render(audio: np.ndarray, rate: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Resample, trim the synthesiser's silence, then random level, padding and white noise."""
    if rate != sample_rate:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    audio, _ = librosa.effects.trim(audio, top_db=35)
    audio = audio * (10 ** (rng.uniform(-12.0, -1.0) / 20) / max(float(np.abs(audio).max()), 1e-9))
    pads = [np.zeros(int(rng.uniform(0.0, 0.1) * sample_rate), np.float32) for _ in range(2)]
    speech_rms = np.sqrt(np.mean(audio**2))
    audio = np.concatenate([pads[0], audio, pads[1]])
    audio = audio + rng.normal(0.0, speech_rms / 10 ** (rng.uniform(20.0, 40.0) / 20), audio.shape)
    return np.clip(audio, -1.0, 32767 / 32768).astype(np.float32)


def build(out: Path, per_digit: int, sample_rate: int, seed: int, binary: str, progress: bool = True) -> int:
    """Write ``per_digit`` takes of every digit for every voice; returns the utterance count."""
    voices = available_voices(binary)
    if not voices:
        raise FileNotFoundError(f"{binary} has none of the voices {sorted(VOICES)}")
    (out / "wav").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    jobs = [(voice, digit, take) for voice in voices for digit in range(10) for take in range(per_digit)]
    with tempfile.TemporaryDirectory() as scratch:
        for voice, digit, take in tqdm(jobs, desc="flite", unit="utt", disable=not progress):
            stretch = rng.uniform(0.8, 1.4)  # > 1 is slower
            pitch_hz = VOICES[voice] * rng.uniform(0.8, 1.25)
            audio, rate = speak(binary, voice, DIGIT_WORDS[digit], stretch, pitch_hz, Path(scratch) / "word.wav")
            audio = render(audio, rate, sample_rate, rng)
            uid = f"{voice}_{digit}_{take}"
            sf.write(out / "wav" / f"{uid}.wav", audio, sample_rate, subtype="PCM_16")
            records.append({"id": uid, "audio": f"wav/{uid}.wav", "duration": len(audio) / sample_rate,
                            "text": DIGIT_WORDS[digit], "speaker": f"flite-{voice}"})
    write_manifest(out / "train.jsonl", records)
    return len(records)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/flite_digits_8k"), help="output folder")
    parser.add_argument("--per-digit", type=int, default=15, help="takes of each digit per voice")
    parser.add_argument("--sample-rate", type=int, default=8000, help="sample rate of the written audio")
    parser.add_argument("--seed", type=int, default=0, help="decides rates, pitches, levels and noise")
    parser.add_argument("--flite", default="flite", help="the Flite binary")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.per_digit < 1:
        parser.error("--per-digit must be at least 1")
    try:
        count = build(args.out, args.per_digit, args.sample_rate, args.seed, args.flite, not args.quiet)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {count} utterances to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
