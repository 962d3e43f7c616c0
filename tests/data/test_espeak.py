"""EspeakSynth: the real libespeak-ng speaks, reproducibly, and says why it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from seqkit.data.espeak import EspeakSynth, EspeakUnavailable, default_espeak_paths  # noqa: E402


@pytest.fixture
def synth():
    engine = EspeakSynth()
    yield engine
    engine.close()


def test_longer_text_slower_rate_and_voice_change_the_audio(synth: EspeakSynth) -> None:
    assert synth.native_rate == 22050 and synth.version != "unknown"
    one = synth.synth("en-us", "one", 160, 50, 50, seed=1)
    seven = synth.synth("en-us", "one two three four five six seven", 160, 50, 50, seed=1)
    slow = synth.synth("en-us", "one two three four five six seven", 80, 50, 50, seed=1)
    assert one.dtype == np.int16 and np.abs(one).max() > 1000  # audible, not silence
    assert len(seven) > 3 * len(one) and len(slow) > 1.5 * len(seven)
    assert synth.set_voice("en-gb-scotland+f2") != synth.set_voice("en-us")  # the voice file eSpeak loaded


def test_a_fresh_instance_with_the_same_seed_says_the_same(synth: EspeakSynth) -> None:
    first = synth.synth("en+m3", "seven eight", 150, 40, 60, seed=7)
    second = EspeakSynth()
    try:
        np.testing.assert_array_equal(second.synth("en+m3", "seven eight", 150, 40, 60, seed=7), first)
    finally:
        second.close()


def test_an_unknown_voice_is_named(synth: EspeakSynth) -> None:
    with pytest.raises(ValueError, match="no voice 'xx-nowhere'"):
        synth.synth("xx-nowhere", "one", 160, 50, 50, seed=1)


def test_missing_library_or_data_folder_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    lib, data = default_espeak_paths()
    with pytest.raises(EspeakUnavailable, match="libespeak-ng not found"):
        EspeakSynth(tmp_path / "nope.so", data)
    with pytest.raises(EspeakUnavailable, match="is not an espeak-ng-data folder"):
        EspeakSynth(lib, tmp_path)
