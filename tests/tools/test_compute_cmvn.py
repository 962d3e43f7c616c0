"""tools/compute_cmvn.py on real wav files, then GlobalCMVN normalising with its output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile
import torch
import yaml

from seqkit.data.audio import load_audio
from seqkit.features.cmvn import GlobalCMVN
from seqkit.features.spectral import LogMelFilterbank

def test_stats_normalise_the_training_features(tmp_path: Path, load_script) -> None:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        seconds = 0.5 + 0.25 * i
        t = np.arange(int(8000 * seconds)) / 8000
        audio = 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t) + 0.02 * rng.standard_normal(t.size)
        soundfile.write(tmp_path / f"u{i}.wav", audio.astype(np.float32), 8000)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": seconds, "text": "a"}))
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    features = {"class_path": "seqkit.features.spectral.LogMelFilterbank", "init_args": {"sample_rate": 16000, "n_mels": 20}}
    config = {"model": {"init_args": {"features": features}}, "data": {"init_args": {"train_manifest": str(manifest)}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "cmvn.json"

    assert load_script("tools/compute_cmvn.py").main(["--config", str(tmp_path / "c.yaml"), "--out", str(out)]) == 0

    stats = json.loads(out.read_text())
    assert stats["utterances"] == 4 and len(stats["mean"]) == 20
    # Normalised with those statistics, the pooled training frames have mean 0 and std 1.
    fbank, cmvn = LogMelFilterbank(16000, 20), GlobalCMVN(str(out))
    frames = []
    for i in range(4):
        wave = load_audio(str(tmp_path / f"u{i}.wav"), 16000)
        feats, lengths = fbank(wave.unsqueeze(0), torch.tensor([wave.numel()]))
        frames.append(cmvn(feats, lengths)[0, : int(lengths[0])])
    pooled = torch.cat(frames).double()
    assert pooled.shape[0] == stats["frames"]
    torch.testing.assert_close(pooled.mean(0), torch.zeros(20, dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(pooled.std(0, unbiased=False), torch.ones(20, dtype=torch.float64), atol=1e-2, rtol=0)
