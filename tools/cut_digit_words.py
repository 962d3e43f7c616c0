"""Cut single spoken digits out of a corpus's digit strings, by CTC forced alignment.

speechocean762 has utterances that are strings of digits ("ZERO THREE FIVE ONE") read by
speakers of many ages.  Read without pauses, they cannot be cut at silences; a CTC model
that knows the digits (the demo's, ``recipes/speech_to_text/digits``) is forced along the
known transcript instead (``torchaudio.functional.forced_align``), and each word is cut
from the middle of the gap before it to the middle of the gap after it.  The cuts are
trimmed of silence, resampled, and written as isolated-digit training voices for
``FSDDDataModule(extra_train_manifest=...)``:

    python tools/cut_digit_words.py --ckpt runs/digits/version_0/checkpoints/last.ckpt \\
        --kaldi-dir '${SEQKIT_DATA}/speechocean762/train' --out data/speechocean_digits_8k --sample-rate 8000

writes ``OUT/wav/{utterance}_{i}_{word}.wav`` (PCM_16) and ``OUT/train.jsonl``.  Utterances
with any word that is not a digit are skipped.  ``--min-score`` drops words whose
characters the aligner gave a mean probability below it (a model that cannot hear the
word places it anywhere).  The summary line says how many were kept.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import librosa
import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.commands.checkpoint import load_task  # noqa: E402
from seqkit.data.audio import load_audio  # noqa: E402
from seqkit.data.fsdd import DIGIT_WORDS  # noqa: E402
from seqkit.data.kaldi import kaldi_records  # noqa: E402
from seqkit.data.manifest import write_manifest  # noqa: E402
from seqkit.data.paths import expand_data_path  # noqa: E402
from seqkit.inference.chunking import model_geometry  # noqa: E402

EDGE_SECONDS = 0.2  # kept before the first word's and after the last word's aligned characters


@dataclass(frozen=True)
class WordCut:
    word: str
    start: float  # seconds in the recording
    end: float
    score: float  # mean probability of the word's characters on the aligned path


def word_spans(log_probs: torch.Tensor, text: str, tokenizer) -> list[tuple[str, int, int, float]]:
    """Each word of ``text`` as (word, first frame, end frame, score).  # log_probs: (T, V)

    The spaces between words are tokens of the character set too; they are aligned but
    not returned.
    """
    targets = torch.tensor([tokenizer.encode(text)], dtype=torch.int32)  # (1, L)
    if targets.shape[1] != len(text):
        raise ValueError(f"{text!r} has characters the aligner's tokenizer does not know")
    labels, scores = AF.forced_align(log_probs.unsqueeze(0).float(), targets, blank=tokenizer.blank_id)
    spans = AF.merge_tokens(labels[0], scores[0].exp(), blank=tokenizer.blank_id)  # one per character
    words, first = [], 0
    for word in text.split(" "):
        chars = spans[first : first + len(word)]
        words.append((word, chars[0].start, chars[-1].end, float(np.mean([c.score for c in chars]))))
        first += len(word) + 1  # and the space
    return words


def cut_points(spans: list[tuple[str, int, int, float]], seconds_per_frame: float, total: float) -> list[WordCut]:
    """Cuts in the middle of the gaps between words; the ends get :data:`EDGE_SECONDS`."""
    cuts = []
    for i, (word, start, end, score) in enumerate(spans):
        left = spans[i - 1][2] if i > 0 else None
        right = spans[i + 1][1] if i + 1 < len(spans) else None
        begin = (left + start) / 2 * seconds_per_frame if left is not None else start * seconds_per_frame - EDGE_SECONDS
        finish = (end + right) / 2 * seconds_per_frame if right is not None else end * seconds_per_frame + EDGE_SECONDS
        cuts.append(WordCut(word, max(0.0, begin), min(total, finish), score))
    return cuts


def digit_string_records(kaldi_dir: str) -> list[dict]:
    """Records of ``kaldi_dir`` whose transcripts are only digit words, lower-cased."""
    records = []
    for record in kaldi_records(kaldi_dir):
        words = record["text"].lower().split()
        if words and all(word in DIGIT_WORDS for word in words):
            records.append({**record, "text": " ".join(words)})
    return records


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a character CTC checkpoint that knows the digit words")
    parser.add_argument("--kaldi-dir", required=True, help="Kaldi data dir (wav.scp, text, utt2spk)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--sample-rate", type=int, default=8000, help="of the written cuts")
    parser.add_argument("--min-score", type=float, default=0.0, help="drop words aligned with a lower mean probability")
    parser.add_argument("--top-db", type=float, default=30.0, help="trim edges quieter than the peak by this much")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kaldi_dir = expand_data_path(args.kaldi_dir)
    records = digit_string_records(kaldi_dir)
    if not records:
        raise SystemExit(f"{kaldi_dir}: no utterance is a string of digit words")
    task = load_task(args.ckpt)
    rate = int(task.features.sample_rate)
    seconds_per_frame = model_geometry(task).stride / rate
    audio_root = Path(kaldi_dir).parent
    (args.out / "wav").mkdir(parents=True, exist_ok=True)
    rows, dropped = [], 0
    for record in tqdm(records, desc="aligning", unit="utt", disable=None):
        path = str(audio_root / record["audio"])
        waveform = load_audio(path, rate)  # (S,)
        with torch.inference_mode():
            log_probs, frames = task(waveform.unsqueeze(0), torch.tensor([waveform.numel()]))  # (1, T, V), (1,)
        spans = word_spans(log_probs[0, : int(frames[0])], record["text"], task.tokenizer)
        for i, cut in enumerate(cut_points(spans, seconds_per_frame, waveform.numel() / rate)):
            if cut.score < args.min_score:
                dropped += 1
                continue
            audio = load_audio(path, args.sample_rate, segment=(cut.start, cut.end - cut.start)).numpy()
            audio, _ = librosa.effects.trim(audio, top_db=args.top_db, frame_length=256, hop_length=64)
            name = f"wav/{record['id']}_{i}_{cut.word}.wav"
            sf.write(args.out / name, audio, args.sample_rate, subtype="PCM_16")
            rows.append({"id": Path(name).stem, "audio": name, "duration": round(len(audio) / args.sample_rate, 4),
                         "text": cut.word, "speaker": record["speaker"]})
    write_manifest(args.out / "train.jsonl", rows)
    speakers = len({row["speaker"] for row in rows})
    print(f"wrote {len(rows)} digits by {speakers} speakers from {len(records)} utterances to {args.out} "
          f"({dropped} dropped under --min-score {args.min_score})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
