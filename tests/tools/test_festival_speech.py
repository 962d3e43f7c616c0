"""tools/festival_speech.py: Festival's real voices speak at the asked rate and pitch."""

from __future__ import annotations

import shutil
from pathlib import Path

import librosa
import numpy as np
import pytest

SENTENCE = "she sells sea shells by the sea shore"


@pytest.fixture(scope="module")
def tool(load_script):
    return load_script("tools/festival_speech.py")


@pytest.fixture(scope="module")
def voices(tool) -> list[str]:
    if shutil.which("festival") is None:
        pytest.skip("Festival is not installed (apt-get install festival festvox-kdlpc16k ...)")
    found = tool.available_voices()
    if not found:
        pytest.skip("none of Festival's English voices is installed")
    return found


def median_f0(audio: np.ndarray, rate: int) -> float:
    f0, _, _ = librosa.pyin(audio.astype(np.float64), fmin=60, fmax=400, sr=rate)
    return float(np.nanmedian(f0))


def test_every_voice_slows_down_when_stretched(tool, voices: list[str], tmp_path: Path) -> None:
    for voice in voices:
        normal, rate = tool.speak(voice, SENTENCE, 1.0, tool.VOICES[voice], tmp_path / "a.wav")
        slow, _ = tool.speak(voice, SENTENCE, 1.5, tool.VOICES[voice], tmp_path / "b.wav")
        assert rate >= 16000 and len(normal) / rate > 1.0, voice
        assert len(slow) / len(normal) == pytest.approx(1.5, rel=0.15), voice


def test_diphone_voices_follow_the_pitch_target(tool, voices: list[str], tmp_path: Path) -> None:
    diphone = [v for v in voices if v not in tool.HTS_VOICES]
    if not diphone:
        pytest.skip("no diphone voice installed")
    low, rate = tool.speak(diphone[0], SENTENCE, 1.0, 100.0, tmp_path / "low.wav")
    high, _ = tool.speak(diphone[0], SENTENCE, 1.0, 150.0, tmp_path / "high.wav")
    assert median_f0(low, rate) == pytest.approx(100.0, rel=0.1)
    assert median_f0(high, rate) / median_f0(low, rate) == pytest.approx(1.5, rel=0.1)


def test_quotes_and_backslashes_are_spoken_not_parsed(tool, voices: list[str], tmp_path: Path) -> None:
    # Unescaped, the quote would end the Scheme string and Festival would speak only "he said".
    plain, _ = tool.speak(voices[0], "he said hello to the man", 1.0, tool.VOICES[voices[0]], tmp_path / "a.wav")
    quoted, _ = tool.speak(voices[0], 'he said "hello" to the man', 1.0, tool.VOICES[voices[0]], tmp_path / "b.wav")
    assert len(quoted) / len(plain) == pytest.approx(1.0, rel=0.1)
    # An unescaped backslash would escape the closing quote and leave the program unfinished.
    slashed, _ = tool.speak(voices[0], "a slash \\", 1.0, tool.VOICES[voices[0]], tmp_path / "c.wav")
    assert slashed.size > 0


def test_scheme_string_escapes(tool) -> None:
    assert tool.scheme_string('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_an_unknown_voice_fails_with_its_name(tool, voices: list[str], tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no_such_voice"):
        tool.speak("no_such_voice", SENTENCE, 1.0, 100.0, tmp_path / "x.wav")


def test_a_missing_festival_is_named(tool) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install festival"):
        tool.available_voices("no-such-festival-binary")
