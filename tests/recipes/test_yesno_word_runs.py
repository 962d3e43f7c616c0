"""Word boundaries of the yesno recipe found from frame energy, on synthetic recordings."""

from __future__ import annotations

import numpy as np
import pytest

RATE = 8000


def recording(words_and_pauses: list[float], click: bool = False) -> np.ndarray:
    """Alternating word, pause, word, ... seconds: words are noise bursts, pauses near-silence."""
    rng = np.random.default_rng(0)
    parts = [np.zeros(int(0.5 * RATE))]
    for i, seconds in enumerate(words_and_pauses):
        level = 0.3 if i % 2 == 0 else 0.001
        parts.append(level * rng.standard_normal(int(seconds * RATE)))
    parts.append(np.zeros(int(0.5 * RATE)))
    wave = np.concatenate(parts).astype(np.float32)
    if click:
        wave[int(0.1 * RATE) : int(0.13 * RATE)] = 0.5  # 30 ms click before the first word
    return wave


@pytest.fixture(scope="module")
def prepare(load_script):
    return load_script("recipes/speech_to_text/yesno/prepare.py")


def test_word_starts_are_the_middles_of_the_pauses(prepare) -> None:
    words, pauses = [0.4, 0.3, 0.5, 0.35], [0.2, 0.3, 0.15]
    layout = [x for pair in zip(words, pauses + [0]) for x in pair][:-1]
    starts = prepare.word_starts(recording(layout, click=True), RATE, len(words))
    t, expected = 0.5, []
    for word, pause in zip(words, pauses):
        expected.append(t + word + pause / 2)
        t += word + pause
    assert starts == pytest.approx(expected, abs=0.03)


def test_two_words_in_one_run_or_a_missing_word_give_none(prepare) -> None:
    assert prepare.word_starts(recording([0.4, 0.2, 0.8]), RATE, 3) is None  # the last "word" holds two
    assert prepare.word_starts(recording([0.4, 0.2, 0.4]), RATE, 3) is None  # a word is missing
    assert prepare.word_starts(np.zeros(40, dtype=np.float32), RATE, 2) is None  # shorter than a frame
