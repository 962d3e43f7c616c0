"""tools/flite_digits.py: real Flite voices speak every digit; the corpus is reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqkit.data.fsdd import DIGIT_WORDS, digit_recordings

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="Flite is not installed (apt-get install flite)")


@pytest.fixture(scope="module")
def tool(load_script):
    return load_script("tools/flite_digits.py")


def test_every_voice_says_every_digit_and_fsdd_reads_the_manifest(tool, tmp_path: Path) -> None:
    assert tool.main(["--out", str(tmp_path), "--per-digit", "1", "--quiet"]) == 0
    records = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    voices = tool.available_voices("flite")
    assert voices and {(r["speaker"], r["text"]) for r in records} == {(f"flite-{v}", w) for v in voices for w in DIGIT_WORDS}
    for record in records:
        audio, rate = sf.read(tmp_path / record["audio"], dtype="float32")
        assert rate == 8000 and record["duration"] == pytest.approx(len(audio) / rate)
        assert 0.15 < record["duration"] < 1.5 and np.sqrt(np.mean(audio**2)) > 0.01
    assert len(digit_recordings(str(tmp_path / "train.jsonl"), 8000)) == len(records)


def test_same_arguments_same_audio(tool, tmp_path: Path) -> None:
    for out in ("a", "b"):
        assert tool.main(["--out", str(tmp_path / out), "--per-digit", "1", "--seed", "3", "--quiet"]) == 0
    for wav in sorted((tmp_path / "a" / "wav").glob("*.wav"))[:5]:
        np.testing.assert_array_equal(sf.read(wav)[0], sf.read(tmp_path / "b" / "wav" / wav.name)[0])


def test_missing_binary_is_a_clear_error(tool, tmp_path: Path, capsys) -> None:
    assert tool.main(["--out", str(tmp_path), "--flite", "no-such-flite", "--quiet"]) == 2
    assert "apt-get install flite" in capsys.readouterr().err
