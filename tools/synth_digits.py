"""Synthesise a small connected-digits corpus offline with eSpeak NG.

Every utterance is a string of 1-7 digits read as English words ("three one four",
"zero" for 0).  A *speaker* is one eSpeak English accent combined with one voice
variant (``en-us+m3``, ``en-gb-scotland+f2``, ``en-029`` ...); training and test
speakers are disjoint, drawn from the seed.  Rate, pitch and pitch range vary per
utterance, and a mild random gain, silence padding and white noise make the task less
trivial.  The output is ``OUT/wav/{id}.wav`` (16 kHz mono PCM_16) plus JSONL manifests
``OUT/train.jsonl``, ``OUT/dev.jsonl`` (training speakers) and ``OUT/test.jsonl``.

eSpeak NG comes from the ``espeakng-loader`` wheel and is driven through ``ctypes`` in
this process, so nothing is fetched and no ``espeak-ng`` binary is needed:

    python tools/synth_digits.py --out data/digits --train 2000 --dev 200 --test 300 --seed 0

A rerun with the same settings finds ``OUT/settings.json`` and the manifests and does
nothing; ``--force`` rebuilds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf
import torch
import torchaudio
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.data.espeak import EspeakSynth, EspeakUnavailable, default_espeak_paths  # noqa: E402
from seqkit.data.fsdd import DIGIT_WORDS  # noqa: E402  (the words FSDD transcripts use)
from seqkit.data.manifest import write_manifest  # noqa: E402

SETTINGS_VERSION = 1  # bump when the synthesis changes, so older corpora are rebuilt
SAMPLE_RATE = 16000
MIN_DIGITS, MAX_DIGITS = 1, 7
SPLITS = ("train", "dev", "test")

# English accents shipped in espeak-ng-data/lang/gmw (en-Shaw is left out: it expects
# the Shavian alphabet).  Names are the lowercase identifiers espeak_SetVoiceByName takes.
ACCENTS = (
    "en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-gb-x-rp", "en-us-nyc",
)
# Variants from espeak-ng-data/voices/!v that still sound like a person; the robotic,
# echoing, whispering and novelty ones ("Demonic", "robosoft*", "whisper", ...) are left
# out.  "" is the accent's own default voice.
VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alicia", "Andy", "Annie", "Denis", "Gene",
    "Jacky", "Lee", "Michael", "Mike", "adam", "anika", "aunty", "belinda", "benjamin",
    "boris", "david", "edward", "grandma", "grandpa", "ian", "linda", "max", "paul",
    "quincy", "rob", "robert", "shelby", "steph", "travis", "victor",
)

# speak_lib.h constants
def available_speakers(data_dir: Path) -> list[str]:
    """Every ``accent[+variant]`` of :data:`ACCENTS` x :data:`VARIANTS` this espeak-ng-data ships."""
    accents_dir = data_dir / "lang" / "gmw"
    shipped = {p.name.lower() for p in accents_dir.iterdir()} if accents_dir.is_dir() else set()
    variants_dir = data_dir / "voices" / "!v"
    accents = [a for a in ACCENTS if a in shipped]
    # espeak_SetVoiceByName ignores an unknown variant silently, so check the files here
    variants = [v for v in VARIANTS if v == "" or (variants_dir / v).is_file()]
    return [a + (f"+{v}" if v else "") for a in accents for v in variants]


def split_speakers(speakers: Sequence[str], seed: int, test_fraction: float) -> tuple[list[str], list[str]]:
    """Deterministically hold out ``test_fraction`` of the speakers (at least one each side)."""
    if len(speakers) < 2:
        raise ValueError("need at least two speakers to hold some out for testing")
    order = sorted(speakers)
    np.random.default_rng([seed, 0x5EED]).shuffle(order)
    n_test = min(len(order) - 1, max(1, round(test_fraction * len(order))))
    return sorted(order[n_test:]), sorted(order[:n_test])


@dataclass(frozen=True)
class UtterancePlan:
    id: str
    speaker: str
    digits: str
    rate: int
    pitch: int
    pitch_range: int
    seed: int

    @property
    def text(self) -> str:
        return " ".join(DIGIT_WORDS[int(d)] for d in self.digits)


@dataclass(frozen=True)
class Settings:
    """Everything that decides the corpus; a rebuild is skipped when it matches."""

    seed: int
    train: int
    dev: int
    test: int
    test_speaker_fraction: float
    rate: tuple[int, int]
    pitch: tuple[int, int]
    pitch_range: tuple[int, int]
    peak_dbfs: tuple[float, float]
    snr_db: tuple[float, float] | None
    pad_s: tuple[float, float]
    sample_rate: int = SAMPLE_RATE
    digits: tuple[int, int] = (MIN_DIGITS, MAX_DIGITS)  # digits per utterance
    version: int = SETTINGS_VERSION

    def counts(self) -> dict[str, int]:
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def to_json(self, espeak_version: str, speakers: dict[str, list[str]]) -> dict:
        record = {**asdict(self), "espeak_version": espeak_version, "speakers": speakers}
        return json.loads(json.dumps(record))  # tuples -> lists, as read back from settings.json


def plan_split(split: str, count: int, speakers: Sequence[str], settings: Settings) -> list[UtterancePlan]:
    """Draw ``count`` utterances for ``split``; each split has its own stream, so changing
    one split's size leaves the others unchanged."""
    rng = np.random.default_rng([settings.seed, SPLITS.index(split) + 1])
    plans = []
    for index in range(count):
        n_digits = int(rng.integers(settings.digits[0], settings.digits[1] + 1))
        plans.append(
            UtterancePlan(
                id=f"{split}_{index:05d}",
                speaker=speakers[int(rng.integers(len(speakers)))],
                digits="".join(str(d) for d in rng.integers(0, 10, size=n_digits)),
                rate=int(rng.integers(settings.rate[0], settings.rate[1] + 1)),
                pitch=int(rng.integers(settings.pitch[0], settings.pitch[1] + 1)),
                pitch_range=int(rng.integers(settings.pitch_range[0], settings.pitch_range[1] + 1)),
                seed=int(rng.integers(1, 2**31 - 1)),
            )
        )
    return plans


def render(samples: np.ndarray, resample: torchaudio.transforms.Resample, plan: UtterancePlan, settings: Settings) -> np.ndarray:
    """int16 eSpeak output -> float32 at ``settings.sample_rate`` with random padding, gain and white noise.

    ``resample`` maps eSpeak's native rate to ``settings.sample_rate``; it is built once
    because computing its sinc kernel costs more than the resampling itself.
    """
    rng = np.random.default_rng([plan.seed, 0xA0D10])
    with torch.no_grad():
        speech = resample(torch.from_numpy(samples.astype(np.float32) / 32768.0)).numpy()
    peak = float(np.abs(speech).max())
    if peak > 0:
        speech = speech * (10 ** (rng.uniform(*settings.peak_dbfs) / 20) / peak)
    pad = [int(rng.uniform(*settings.pad_s) * settings.sample_rate) for _ in range(2)]
    audio = np.concatenate([np.zeros(pad[0], np.float32), speech, np.zeros(pad[1], np.float32)])
    if settings.snr_db is not None and peak > 0:
        # SNR against the speech power only, so padding does not change the noise level
        noise_rms = np.sqrt(np.mean(speech**2)) / 10 ** (rng.uniform(*settings.snr_db) / 20)
        audio = audio + rng.normal(0.0, noise_rms, size=audio.shape)
    return np.clip(audio, -1.0, 32767 / 32768).astype(np.float32)


def expected_counts(settings_json: dict) -> dict[str, int]:
    return {split: int(settings_json[split]) for split in SPLITS}


def _is_complete(out: Path, expected: dict) -> bool:
    """True when ``out`` holds a finished build with exactly ``expected`` settings."""
    try:
        stored = json.loads((out / "settings.json").read_text())
    except (OSError, ValueError):
        return False
    if stored != expected:
        return False
    for split, count in expected_counts(expected).items():
        manifest = out / f"{split}.jsonl"
        if count == 0:
            continue
        if not manifest.is_file():
            return False
        lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if len(lines) != count or not all((out / rec["audio"]).is_file() for rec in lines):
            return False
    return True


def build_corpus(
    out: Path,
    settings: Settings,
    force: bool = False,
    lib_path: Path | None = None,
    data_dir: Path | None = None,
    progress: bool = True,
) -> dict:
    """Synthesise the corpus into ``out``; return a summary (counts, speakers, seconds)."""
    out = Path(out)
    if lib_path is None or data_dir is None:
        default_lib, default_data = default_espeak_paths()
        lib_path, data_dir = lib_path or default_lib, data_dir or default_data
    data_dir = Path(data_dir)
    speakers = available_speakers(data_dir)
    if not speakers:
        raise EspeakUnavailable(f"no English voices found under {data_dir}")
    if settings.test:
        train_speakers, test_speakers = split_speakers(speakers, settings.seed, settings.test_speaker_fraction)
    else:  # no test split: nothing to hold out, every voice trains
        train_speakers, test_speakers = sorted(speakers), []
    split_speakers_of = {"train": train_speakers, "dev": train_speakers, "test": test_speakers}

    probe = EspeakSynth(lib_path, data_dir)  # also the early, clear failure if eSpeak is missing
    version = probe.version
    probe.close()
    expected = settings.to_json(version, {"train": train_speakers, "test": test_speakers})
    summary = {"out": str(out), "counts": settings.counts(), "speakers": expected["speakers"], "skipped": False}
    if not force and _is_complete(out, expected):
        summary["skipped"] = True
        return summary

    (out / "settings.json").unlink(missing_ok=True)  # a build is complete only once this is rewritten
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    plans = {split: plan_split(split, n, split_speakers_of[split], settings) for split, n in settings.counts().items()}
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-utterance tensors are tiny: extra threads only add overhead
    try:
        _synthesise(out, plans, settings, lib_path, data_dir, progress)
    finally:
        torch.set_num_threads(threads)
    (out / "settings.json").write_text(json.dumps(expected, indent=2) + "\n")
    summary["seconds"] = time.perf_counter() - start
    return summary


def _synthesise(
    out: Path,
    plans: dict[str, list[UtterancePlan]],
    settings: Settings,
    lib_path: Path,
    data_dir: Path,
    progress: bool,
) -> None:
    """Write every planned utterance's wav and each split's manifest; drop stale wavs."""
    wav_dir = out / "wav"
    bar = tqdm(total=sum(len(p) for p in plans.values()), desc="synth", unit="utt", disable=not progress)
    written: set[str] = set()
    for split, split_plans in plans.items():
        manifest = out / f"{split}.jsonl"
        if not split_plans:
            manifest.unlink(missing_ok=True)
            continue
        synth = EspeakSynth(lib_path, data_dir)  # fresh state per split: see _load_private_copy
        resample = torchaudio.transforms.Resample(synth.native_rate, settings.sample_rate)
        records = []
        bar.set_description(split)
        for plan in split_plans:
            samples = synth.synth(plan.speaker, plan.text, plan.rate, plan.pitch, plan.pitch_range, plan.seed)
            if samples.size == 0:
                raise RuntimeError(f"eSpeak produced no audio for {plan.speaker!r}: {plan.text!r}")
            audio = render(samples, resample, plan, settings)
            name = f"{plan.id}.wav"
            sf.write(wav_dir / name, audio, settings.sample_rate, subtype="PCM_16")
            written.add(name)
            records.append(
                {
                    "id": plan.id,
                    "audio": f"wav/{name}",
                    "duration": len(audio) / settings.sample_rate,
                    "text": plan.text,
                    "speaker": plan.speaker,
                }
            )
            bar.update()
        synth.close()
        write_manifest(manifest, records)
    bar.close()
    for stale in wav_dir.glob("*.wav"):  # left over from a bigger earlier build
        if stale.name not in written:
            stale.unlink()


def _pair(kind: type) -> Callable[[str], tuple]:
    def parse(text: str) -> tuple:
        parts = text.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
        low, high = (kind(p) for p in parts)
        if low > high:
            raise argparse.ArgumentTypeError(f"LOW must not exceed HIGH in {text!r}")
        return (low, high)

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/digits"), help="output folder")
    parser.add_argument("--train", type=int, default=2000, help="training utterances")
    parser.add_argument("--dev", type=int, default=200, help="dev utterances (training speakers)")
    parser.add_argument("--test", type=int, default=300, help="test utterances (held-out speakers)")
    parser.add_argument("--seed", type=int, default=0, help="decides speakers split, content and noise")
    parser.add_argument("--test-speaker-fraction", type=float, default=0.2, help="share of speakers held out for test")
    parser.add_argument("--rate", type=_pair(int), metavar="LOW,HIGH", default=(130, 220), help="speaking rate range, words/minute")
    parser.add_argument("--pitch", type=_pair(int), metavar="LOW,HIGH", default=(30, 70), help="eSpeak pitch range (0-100)")
    parser.add_argument("--pitch-range", type=_pair(int), metavar="LOW,HIGH", default=(20, 80), help="eSpeak pitch-range range (0-100)")
    parser.add_argument("--peak-dbfs", type=_pair(float), metavar="LOW,HIGH", default=(-12.0, -1.0), help="random peak level")
    parser.add_argument("--snr-db", type=_pair(float), metavar="LOW,HIGH", default=(20.0, 40.0), help="white-noise SNR range")
    parser.add_argument("--clean", action="store_true", help="add no noise")
    parser.add_argument("--pad", type=_pair(float), metavar="LOW,HIGH", default=(0.05, 0.25), help="silence before/after, seconds")
    parser.add_argument("--digits", type=_pair(int), metavar="LOW,HIGH", default=(MIN_DIGITS, MAX_DIGITS),
                        help="digits per utterance (1,1: isolated digits)")
    parser.add_argument("--sample-rate", type=int, default=SAMPLE_RATE, help="sample rate of the written audio")
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT is complete")
    parser.add_argument("--espeak-lib", type=Path, help="libespeak-ng to use instead of espeakng-loader's")
    parser.add_argument("--espeak-data", type=Path, help="espeak-ng-data folder to use instead of espeakng-loader's")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("train", "dev", "test"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must not be negative")
    if args.train + args.dev + args.test == 0:
        parser.error("nothing to synthesise")
    if not 1 <= args.digits[0] <= args.digits[1]:
        parser.error("--digits needs 1 <= LOW <= HIGH")
    if args.sample_rate < 8000:
        parser.error("--sample-rate must be at least 8000")
    if not 0 < args.test_speaker_fraction < 1:
        parser.error("--test-speaker-fraction must be between 0 and 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        seed=args.seed,
        train=args.train,
        dev=args.dev,
        test=args.test,
        test_speaker_fraction=args.test_speaker_fraction,
        rate=args.rate,
        pitch=args.pitch,
        pitch_range=args.pitch_range,
        peak_dbfs=args.peak_dbfs,
        snr_db=None if args.clean else args.snr_db,
        pad_s=args.pad,
        sample_rate=args.sample_rate,
        digits=args.digits,
    )
    try:
        summary = build_corpus(args.out, settings, args.force, args.espeak_lib, args.espeak_data, not args.quiet)
    except EspeakUnavailable as err:
        print(f"error: eSpeak NG is unavailable: {err}", file=sys.stderr)
        return 2
    speakers = summary["speakers"]
    if summary["skipped"]:
        print(f"{args.out} is already complete with these settings; nothing to do (--force rebuilds)")
    else:
        total = sum(summary["counts"].values())
        print(
            f"wrote {total} utterances to {args.out} in {summary['seconds']:.1f} s "
            f"({', '.join(f'{k}={v}' for k, v in summary['counts'].items())}; "
            f"{len(speakers['train'])} training and {len(speakers['test'])} held-out test speakers)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
