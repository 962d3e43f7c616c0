"""Data checks: transcripts against the tokenizer, CTC length feasibility and audio files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqkit.data.checks import Problem, check_audio, check_ctc_length, check_transcript
from seqkit.data.manifest import Utterance
from seqkit.data.tokenizer import CharTokenizer

SR = 16000


def _utt(text: str = "ab", audio: str = "/nonexistent.wav", duration: float = 1.0) -> Utterance:
    return Utterance(id="u1", audio=audio, duration=duration, text=text, line=5, manifest="train.jsonl")


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer().fit(["abc abc", "cab"])


def test_problem_str() -> None:
    assert str(Problem("m:1 (id=x)", "bad")) == "error: m:1 (id=x): bad"
    assert str(Problem("m:1 (id=x)", "meh", fatal=False)) == "warning: m:1 (id=x): meh"


def test_good_transcript(tokenizer) -> None:
    assert check_transcript(_utt("ABC, cab!"), tokenizer) == []


@pytest.mark.parametrize("text", ["", "   ", "?!.,", " -- "])
def test_empty_transcript_after_normalisation(tokenizer, text) -> None:
    (problem,) = check_transcript(_utt(text), tokenizer)
    assert problem.fatal
    assert problem.where == "train.jsonl:5 (id=u1)"
    assert "empty transcript" in problem.reason


def test_all_oov_transcript_is_fatal(tokenizer) -> None:
    (problem,) = check_transcript(_utt("xyz"), tokenizer)
    assert problem.fatal
    assert "every symbol" in problem.reason and "['x', 'y', 'z']" in problem.reason


def test_partial_oov_is_a_warning(tokenizer) -> None:
    (problem,) = check_transcript(_utt("abz q"), tokenizer)
    assert not problem.fatal
    assert "['q', 'z']" in problem.reason
    assert str(problem).startswith("warning: train.jsonl:5 (id=u1): ")


def _frames(per_second: int):
    return lambda duration: int(duration * per_second)


def test_ctc_length_ok_and_too_short(tokenizer) -> None:
    # "abc" needs 3 frames.
    assert check_ctc_length(_utt("abc", duration=1.0), tokenizer, _frames(3)) == []
    (problem,) = check_ctc_length(_utt("abc", duration=1.0), tokenizer, _frames(2))
    assert problem.fatal and "2 encoder frames" in problem.reason and "3 needed" in problem.reason


def test_ctc_length_counts_a_blank_between_repeats(tokenizer) -> None:
    # "aab" is 3 labels, but CTC needs a blank between the two a's: 4 frames.
    assert check_ctc_length(_utt("aab"), tokenizer, _frames(4)) == []
    (problem,) = check_ctc_length(_utt("aab"), tokenizer, _frames(3))
    assert "3 encoder frames" in problem.reason and "4 needed" in problem.reason
    # "aaa": 3 labels + 2 repeats = 5.  "abab" has no adjacent repeats: 4.
    assert check_ctc_length(_utt("aaa"), tokenizer, _frames(4))
    assert not check_ctc_length(_utt("aaa"), tokenizer, _frames(5))
    assert not check_ctc_length(_utt("abab"), tokenizer, _frames(4))


def test_ctc_length_uses_the_duration(tokenizer) -> None:
    calls = []

    def output_frames(duration: float) -> int:
        calls.append(duration)
        return 100

    assert check_ctc_length(_utt("abc", duration=2.5), tokenizer, output_frames) == []
    assert calls == [2.5]


def _write(path: Path, data: np.ndarray, rate: int = SR, subtype: str = "PCM_16") -> str:
    soundfile.write(str(path), data, rate, subtype=subtype)
    return str(path)


def _tone(seconds: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * 300 * t)


def test_audio_ok(tmp_path: Path) -> None:
    path = _write(tmp_path / "ok.wav", _tone(1.0, 8000), rate=8000)  # resampled for the check
    assert check_audio(_utt(audio=path, duration=1.0), SR) == []
    # Within tolerance: max(0.1 s, 5%).
    assert check_audio(_utt(audio=path, duration=1.09), SR) == []


def test_all_zero_audio(tmp_path: Path) -> None:
    path = _write(tmp_path / "silent.wav", np.zeros(SR))
    (problem,) = check_audio(_utt(audio=path), SR)
    assert problem.fatal and "all zeros" in problem.reason and path in problem.reason
    assert problem.where == "train.jsonl:5 (id=u1)"


def test_duration_mismatch_is_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path / "short.wav", _tone(0.5))
    (problem,) = check_audio(_utt(audio=path, duration=2.0), SR)
    assert not problem.fatal
    assert "manifest duration 2.00s but audio is 0.50s" in problem.reason


def test_duration_tolerance_scales_with_length(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.wav", _tone(10.0, 8000), rate=8000)
    assert check_audio(_utt(audio=path, duration=10.4), SR) == []  # 5% of 10.4 s = 0.52 s
    assert check_audio(_utt(audio=path, duration=10.6), SR)


@pytest.mark.parametrize("case", ["missing", "corrupt", "nan"])
def test_audio_errors_become_fatal_problems(tmp_path: Path, case) -> None:
    path = tmp_path / f"{case}.wav"
    if case == "corrupt":
        path.write_bytes(b"not audio at all" * 10)
    elif case == "nan":
        data = _tone(0.2).astype(np.float32)
        data[10] = np.nan
        _write(path, data, subtype="FLOAT")
    (problem,) = check_audio(_utt(audio=str(path)), SR)
    assert problem.fatal
    # The reason names the file once, without repeating the location prefix.
    assert problem.reason.startswith(f"{path}: ")
    assert "train.jsonl:5" not in problem.reason
    expected = {"missing": "not found", "corrupt": "unreadable audio", "nan": "NaN or Inf"}[case]
    assert expected in problem.reason
