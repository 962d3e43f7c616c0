"""Background speech mixing: the drawn SNR, tiling, training only, and bad background files."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from seqkit.cli import lightning_main
from seqkit.data.audio import AudioError
from seqkit.data.background import BackgroundSpeech
from seqkit.data.speech import SpeechDataModule

RATE = 8000


def tone(freq: float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def snr_db(clean: torch.Tensor, mixture: torch.Tensor) -> float:
    return 10 * math.log10(clean.pow(2).mean().item() / (mixture - clean).pow(2).mean().item())


@pytest.mark.parametrize("background_seconds", [0.3, 2.0])  # tiled, or a random stretch of a longer one
def test_mixes_at_the_drawn_snr_over_the_whole_utterance(background_seconds: float) -> None:
    random.seed(0)
    speech, background = torch.from_numpy(tone(440, 1.0)), torch.from_numpy(tone(1000, background_seconds, 0.05))
    for snr in (15.0, 30.0):
        mixed = BackgroundSpeech(probability=1.0, snr_db=(snr, snr)).mix(speech, background)
        assert mixed.shape == speech.shape
        assert snr_db(speech, mixed) == pytest.approx(snr, abs=1e-3)
        # Background in every tenth of the utterance: tiled, never left silent at the end.
        added = (mixed - speech).reshape(10, -1).abs().amax(dim=1)
        assert (added > 0).all()


def test_silent_inputs_and_bad_settings() -> None:
    mixer = BackgroundSpeech()
    speech = torch.from_numpy(tone(440, 0.5))
    assert torch.equal(mixer.mix(speech, torch.zeros(800)), speech)
    assert torch.equal(mixer.mix(torch.zeros(800), speech), torch.zeros(800))
    with pytest.raises(ValueError, match="probability"):
        BackgroundSpeech(probability=1.5)
    with pytest.raises(ValueError, match="low <= high"):
        BackgroundSpeech(snr_db=(30.0, 10.0))


def write_tones(folder: Path, freqs: list[float]) -> Path:
    lines = []
    for i, freq in enumerate(freqs):
        soundfile.write(folder / f"u{i}.wav", tone(freq, 0.5), RATE)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": 0.5, "text": "ken lo",
                                 "speaker": "s"}))
    manifest = folder / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def read(path: Path) -> torch.Tensor:
    return torch.from_numpy(soundfile.read(path, dtype="float32")[0])


def spectrum_at(wave: torch.Tensor, freq: float) -> float:
    magnitude = torch.fft.rfft(wave).abs()
    return magnitude[int(round(freq * wave.numel() / RATE))].item()


def test_training_audio_gets_another_recording_underneath_and_evaluation_none(tmp_path: Path) -> None:
    random.seed(0)
    manifest = write_tones(tmp_path, [440, 1000])
    data = SpeechDataModule(train_manifest=str(manifest), val_manifest=str(manifest), sample_rate=RATE,
                            num_workers=0, background_speech=BackgroundSpeech(probability=1.0, snr_db=(20.0, 20.0)))
    train = data._loader("fit", shuffle=False).dataset
    clean = read(tmp_path / "u0.wav")
    mixed = train[0]["waveform"]
    # u0 (440 Hz) carries u1's 1000 Hz tone, 20 dB down: never its own recording.
    assert snr_db(clean, mixed) == pytest.approx(20.0, abs=1e-3)
    assert spectrum_at(mixed, 1000) > 0.05 * spectrum_at(mixed, 440)
    assert train[0]["targets"].tolist() == data.tokenizer.encode("ken lo")  # the label is the utterance's alone
    assert torch.equal(data._loader("validate", shuffle=False).dataset[0]["waveform"], clean)


def test_a_bad_background_file_is_named_or_skipped(tmp_path: Path) -> None:
    manifest = write_tones(tmp_path, [440, 1000])
    (tmp_path / "u1.wav").write_bytes(b"RIFF garbage")
    mixer = BackgroundSpeech(probability=1.0)
    strict = SpeechDataModule(train_manifest=str(manifest), sample_rate=RATE, num_workers=0, background_speech=mixer)
    with pytest.raises(AudioError, match=r"m\.jsonl:2 \(id=u1\)"):
        strict._loader("fit", shuffle=False).dataset[0]
    lenient = SpeechDataModule(train_manifest=str(manifest), sample_rate=RATE, num_workers=0, background_speech=mixer,
                               on_bad="skip")
    assert torch.equal(lenient._loader("fit", shuffle=False).dataset[0]["waveform"], read(tmp_path / "u0.wav"))


def test_set_from_the_command_line(capsys) -> None:
    config = Path(__file__).resolve().parents[2] / "configs/speech_to_text/yesno_bigru.yaml"
    with pytest.raises(SystemExit):
        lightning_main(["fit", "--config", str(config), "--print_config",
                        "--data.init_args.background_speech", "seqkit.data.background.BackgroundSpeech",
                        "--data.init_args.background_speech.snr_db", "[10, 20]"])
    printed = yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]["background_speech"]
    assert printed == {"class_path": "seqkit.data.background.BackgroundSpeech",
                       "init_args": {"probability": 0.5, "snr_db": [10.0, 20.0]}}
