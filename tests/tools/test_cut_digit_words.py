"""tools/cut_digit_words.py: forced alignment finds each digit word, and the cuts hold them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf
import torch

from seqkit.commands.checkpoint import load_task
from seqkit.data.tokenizer import CharTokenizer
from seqkit.inference.transcriber import Transcriber


@pytest.fixture(scope="module")
def tool(load_script):
    return load_script("tools/cut_digit_words.py")


def peaked_emission(tokenizer: CharTokenizer, text: str, frames: list[int], total: int) -> torch.Tensor:
    """Log-probs (T, V): blank everywhere but character i of ``text`` at frame ``frames[i]``."""
    probs = torch.full((total, tokenizer.vocab_size), 0.01)
    probs[:, tokenizer.blank_id] = 1.0
    for char, frame in zip(text, frames):
        probs[frame] = 0.01
        probs[frame, tokenizer.tokens.index(char)] = 1.0
    return (probs / probs.sum(-1, keepdim=True)).log()


def test_words_follow_the_characters_and_cuts_split_the_gaps(tool) -> None:
    tokenizer = CharTokenizer().fit(["one two"])
    text = "one two"
    frames = [2, 3, 4, 8, 12, 13, 14]  # "o n e" then the space at 8, "t w o" at 12-14
    spans = tool.word_spans(peaked_emission(tokenizer, text, frames, 20), text, tokenizer)
    assert [(w, a, b) for w, a, b, _ in spans] == [("one", 2, 5), ("two", 12, 15)]
    assert all(score > 0.9 for *_, score in spans)
    cuts = tool.cut_points(spans, seconds_per_frame=0.03, total=0.6)
    assert [c.word for c in cuts] == ["one", "two"]
    assert cuts[0].start == pytest.approx(0.0)  # 2 frames - 0.2 s, clipped at the start
    assert cuts[0].end == cuts[1].start == pytest.approx((5 + 12) / 2 * 0.03)
    assert cuts[1].end == pytest.approx(0.6)  # 15 frames + 0.2 s, clipped at the end


def test_unknown_characters_are_an_error(tool) -> None:
    tokenizer = CharTokenizer().fit(["one"])
    with pytest.raises(ValueError, match="does not know"):
        tool.word_spans(torch.zeros(10, tokenizer.vocab_size), "one two", tokenizer)


def kaldi_dir_from(corpus: Path, out: Path) -> tuple[Path, list[dict]]:
    """A Kaldi data dir over copies of ``corpus``'s dev audio, plus one utterance that is not digits."""
    records = [json.loads(line) for line in (corpus / "dev.jsonl").read_text().splitlines()]
    (out / "audio").mkdir(parents=True)
    (out / "train").mkdir()
    scp, text, utt2spk = [], [], []
    for i, record in enumerate(records):
        shutil.copy(corpus / record["audio"], out / "audio" / f"u{i}.wav")
        scp.append(f"u{i} audio/u{i}.wav")
        text.append(f"u{i} {record['text'].upper()}")
        utt2spk.append(f"u{i} spk{i % 3}")
    scp.append("x audio/u0.wav")
    text.append("x HELLO ONE")
    utt2spk.append("x spk0")
    for name, lines in (("wav.scp", scp), ("text", text), ("utt2spk", utt2spk)):
        (out / "train" / name).write_text("\n".join(lines) + "\n")
    return out / "train", records


def test_cut_words_are_read_back_as_themselves(tool, digits_ckpt: Path, digits_corpus: Path, tmp_path: Path) -> None:
    kaldi, records = kaldi_dir_from(digits_corpus, tmp_path / "corpus")
    out = tmp_path / "cuts"
    assert tool.main(["--ckpt", str(digits_ckpt), "--kaldi-dir", str(kaldi), "--out", str(out), "--sample-rate", "16000"]) == 0
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    expected = [(f"u{i}", word) for i, r in enumerate(records) for word in r["text"].split()]
    assert [(row["id"].split("_")[0], row["text"]) for row in rows] == expected  # "HELLO ONE" skipped
    waves = []
    for row in rows:
        audio, rate = sf.read(out / row["audio"], dtype="float32")
        assert rate == 16000 and row["duration"] == pytest.approx(len(audio) / rate, abs=1e-3)
        waves.append(torch.from_numpy(audio))
    # The cuts hold their words: the aligning model reads most of them back alone.
    read = Transcriber(load_task(digits_ckpt)).transcribe(waves)
    correct = sum(text == row["text"] for text, row in zip(read, rows))
    assert correct >= 0.7 * len(rows), list(zip(read, [row["text"] for row in rows]))
