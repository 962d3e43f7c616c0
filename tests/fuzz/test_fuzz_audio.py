"""A CI-sized run of the audio-loading fuzz campaign (tools/fuzz_audio.py) and the bugs it found.

The campaign loads mutated WAV/FLAC bytes with ``load_audio``: each input must end in a
finite float32 1-D tensor or an ``AudioError``.  The full campaign (10,000 inputs) is::

    python tools/fuzz_audio.py --iterations 10000 --seed 0

It found three bugs in ``seqkit.data.audio.load_audio``, now fixed and pinned below by a
one-file reproduction each: a corrupt sample-rate field made the resampling kernel
enormous, a corrupt FLAC frame count made soundfile preallocate an enormous array, and
float samples near float32's maximum overflowed to Inf in the channel mean.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile

from seqkit.data.audio import AudioError, load_audio

ITERATIONS = 10_000  # about 30 s on 2 cores


@pytest.fixture(scope="module")
def fuzz(load_script) -> ModuleType:
    return load_script("tools/fuzz_audio.py")


@pytest.fixture(scope="module")
def campaign(fuzz: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the campaign once through ``main``: its exit code, printed report and JSON summary."""
    out = tmp_path_factory.mktemp("fuzz_audio")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = fuzz.main(["--iterations", str(ITERATIONS), "--seed", "0", "--quiet", "--json", str(out / "summary.json"),
                          "--save-failures", str(out / "failures")])
    return {"code": code, "report": printed.getvalue(), **json.loads((out / "summary.json").read_text())}


def test_campaign_mixes_clean_results_and_clean_errors(campaign: dict) -> None:
    """The mutations are neither all harmless nor all fatal: both outcomes are common."""
    errors = sum(campaign["errors"].values())
    assert campaign["inputs"] == ITERATIONS
    assert campaign["ok"] + errors + len(campaign["failures"]) == ITERATIONS
    assert campaign["ok"] >= ITERATIONS // 10, campaign["report"]
    assert errors >= ITERATIONS // 10, campaign["report"]
    assert len(campaign["errors"]) >= 5, "the clean errors should come from many different reasons"
    first = campaign["report"].splitlines()[0]
    assert f"{ITERATIONS} inputs" in first and f"{campaign['ok']} ok" in first and f"{errors} clean AudioError" in first


def test_campaign_exits_cleanly(campaign: dict) -> None:
    assert campaign["code"] == 0 and not campaign["failures"], "load_audio failures (reproduce with " \
        "tools/fuzz_audio.py --seed 0 --start I --iterations 1):\n" + campaign["report"]


def _wav_with_rate(path: Path, rate_field: int) -> None:
    soundfile.write(str(path), np.zeros(800, dtype=np.float32), 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[24:28] == (8000).to_bytes(4, "little")  # the fmt chunk's sample rate
    data[24:28] = rate_field.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_corrupt_sample_rate_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "rate.wav"
    _wav_with_rate(path, 1234567)  # 800 frames "at 1234567 Hz": a 79 GB kernel to resample 0.6 ms
    with pytest.raises(AudioError, match="1234567 Hz"):
        load_audio(str(path), 16000)


def test_corrupt_flac_frame_count_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "frames.flac"
    soundfile.write(str(path), np.zeros((1000, 2), dtype=np.float32), 16000, format="FLAC", subtype="PCM_16")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first metadata block is STREAMINFO
    # STREAMINFO's last 36 bits before the MD5 are the total sample count: set them all.
    word = int.from_bytes(data[8 + 13 : 8 + 18], "big") | (1 << 36) - 1
    data[8 + 13 : 8 + 18] = word.to_bytes(5, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="corrupt header"):
        load_audio(str(path), 16000)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_huge_finite_float_samples_never_become_inf(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    soundfile.write(str(path), np.full((100, 2), 3e38, dtype=np.float32), 16000, subtype="FLOAT")
    try:
        wave = load_audio(str(path), 16000)
    except AudioError:
        return  # refusing it is fine too
    assert bool(np.isfinite(wave.numpy()).all())
