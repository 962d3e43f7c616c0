"""tools/write_shards.py: tar shards whose index is a manifest; training from it equals the manifest."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqkit.data.audio import AudioError, load_audio
from seqkit.data.manifest import read_manifest
from seqkit.data.speech import SpeechDataModule
from seqkit.data.tokenizer import CharTokenizer

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A manifest of real WAV and FLAC files at two sample rates; ids with dots and slashes."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(23):
        rate, ext = (16000, "wav") if i % 2 else (8000, "flac")
        seconds = 0.2 + 0.03 * i
        (tmp_path / "audio").mkdir(exist_ok=True)
        soundfile.write(tmp_path / "audio" / f"u{i}.{ext}", 0.1 * rng.standard_normal(int(seconds * rate)).astype(np.float32), rate)
        text = " ".join(WORDS[(i + k) % 10] for k in range(1 + i % 3))
        lines.append(json.dumps({"id": f"spk{i % 4}/utt.{i}", "audio": f"audio/u{i}.{ext}", "duration": seconds,
                                 "text": text, "speaker": f"spk{i % 4}"}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "train.jsonl"


@pytest.fixture
def shards(load_script, corpus: Path, tmp_path: Path) -> Path:
    tool = load_script("tools/write_shards.py")
    out = tmp_path / "shards"
    assert tool.main([str(corpus), "--out", str(out), "--shard-mb", "0.05", "--quiet"]) == 0
    return out


def test_shards_hold_every_utterance_in_webdataset_layout(corpus: Path, shards: Path) -> None:
    original = read_manifest(corpus)
    index = read_manifest(shards / "index.jsonl")
    assert [u.id for u in index] == [u.id for u in original]
    assert [(u.text, u.speaker, u.duration) for u in index] == [(u.text, u.speaker, u.duration) for u in original]
    tars = sorted(shards.glob("shard-*.tar"))
    assert len(tars) > 1 and not list(shards.glob("*.tmp"))  # several shards, none left half-written
    keys = []
    for path in tars:
        with tarfile.open(path) as tar:
            names = tar.getnames()
            assert all(n.endswith((".wav", ".flac", ".json")) for n in names)
            for name in names[1::2]:  # KEY.<ext>, then KEY.json
                keys.append(json.loads(tar.extractfile(name).read())["id"])
    assert keys == [u.id for u in original]


def test_audio_read_through_the_index_equals_the_original_files(corpus: Path, shards: Path) -> None:
    for original, packed in zip(read_manifest(corpus), read_manifest(shards / "index.jsonl")):
        assert packed.offset is not None and packed.size == Path(original.audio).stat().st_size
        expected = load_audio(original.audio, 16000)
        torch.testing.assert_close(load_audio(packed.audio, 16000, offset=packed.offset, size=packed.size), expected, rtol=0, atol=0)


def _data(manifest: Path) -> SpeechDataModule:
    datamodule = SpeechDataModule(train_manifest=str(manifest), tokenizer=CharTokenizer(), sample_rate=16000,
                                  max_batch_seconds=2.0, num_buckets=3, num_workers=0, seed=7)
    datamodule.setup("fit")
    return datamodule


def _epoch(loader, epoch: int) -> list[dict]:
    loader.batch_sampler.set_epoch(epoch)
    return list(loader)


def test_training_from_shards_sees_the_same_batches_as_from_the_manifest(corpus: Path, shards: Path) -> None:
    from_manifest, from_shards = _data(corpus).train_dataloader(), _data(shards / "index.jsonl").train_dataloader()
    for epoch in range(2):
        a, b = _epoch(from_manifest, epoch), _epoch(from_shards, epoch)
        assert [batch["ids"] for batch in a] == [batch["ids"] for batch in b]
        for x, y in zip(a, b):
            torch.testing.assert_close(x["waveforms"], y["waveforms"], rtol=0, atol=0)
            assert torch.equal(x["targets"], y["targets"])


def test_resuming_mid_epoch_from_shards_sees_the_rest_exactly_once(shards: Path) -> None:
    whole = [batch["ids"] for batch in _epoch(_data(shards / "index.jsonl").train_dataloader(), 1)]
    datamodule = _data(shards / "index.jsonl")
    datamodule.load_state_dict({"epoch": 1, "batches_done": 2})  # as a mid-epoch checkpoint restores it
    rest = [batch["ids"] for batch in datamodule.train_dataloader()]  # before Lightning's set_epoch
    assert rest == whole[2:]
    seen = [i for ids in whole[:2] + rest for i in ids]
    assert sorted(seen) == sorted(u.id for u in read_manifest(shards / "index.jsonl"))


def test_a_truncated_shard_is_named_with_the_index_line(shards: Path) -> None:
    index = read_manifest(shards / "index.jsonl")
    last = index[-1]
    with open(last.audio, "r+b") as handle:
        handle.truncate(last.offset + last.size // 2)
    with pytest.raises(AudioError, match=r"index\.jsonl:23 \(id=spk2/utt\.22\).*truncated"):
        load_audio(last.audio, 16000, where=last.where, offset=last.offset, size=last.size)


def test_an_index_is_not_packed_again(load_script, shards: Path, tmp_path: Path, capsys) -> None:
    tool = load_script("tools/write_shards.py")
    assert tool.main([str(shards / "index.jsonl"), "--out", str(tmp_path / "again"), "--quiet"]) == 1
    assert "already points into archives" in capsys.readouterr().err


@pytest.mark.parametrize("subtype, dtype", [("FLOAT", np.float32), ("PCM_16", np.int16), ("PCM_24", np.int32)])
def test_a_segment_is_stored_as_its_own_samples(load_script, tmp_path: Path, subtype: str, dtype) -> None:
    stereo = np.stack([np.linspace(-0.5, 0.5, 80000), np.linspace(0.25, -0.25, 80000)], axis=1)  # 10 s, 2 channels
    soundfile.write(tmp_path / "rec.wav", stereo, 8000, subtype=subtype)
    lines = [{"id": f"seg{i}", "audio": "rec.wav", "start": start, "duration": 0.5, "text": "one", "speaker": "s"}
             for i, start in enumerate((0.25, 9.5))]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert load_script("tools/write_shards.py").main([str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "sh"), "--quiet"]) == 0
    original = read_manifest(tmp_path / "m.jsonl")
    for seg, source in zip(read_manifest(tmp_path / "sh" / "index.jsonl"), original):
        assert seg.segment is None and seg.duration == 0.5
        assert seg.size < (tmp_path / "rec.wav").stat().st_size / 10  # not the whole recording
        stored = load_audio(seg.audio, 8000, offset=seg.offset, size=seg.size)
        assert torch.equal(stored, load_audio(source.audio, 8000, segment=source.segment))  # bit-exact
