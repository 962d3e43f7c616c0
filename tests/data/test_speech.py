"""Speech data: the dataset reads real audio, collate pads and concatenates, the data module joins manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqkit.data.manifest import ManifestError, read_manifest
from seqkit.data.speech import SpeechDataModule, SpeechDataset, collate_speech
from seqkit.data.tokenizer import CharTokenizer

RATE = 8000


def write_corpus(folder: Path, items: list[tuple[str, str, float]], speaker: str = "s", name: str = "m.jsonl") -> Path:
    """(id, text, seconds) -> wav files and a manifest beside them; each file a tone whose pitch tells it apart."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for k, (uid, text, seconds) in enumerate(items):
        t = np.arange(int(RATE * seconds)) / RATE
        soundfile.write(folder / f"{uid}.wav", (0.2 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype(np.float32), RATE)
        lines.append(json.dumps({"id": uid, "audio": f"{uid}.wav", "duration": seconds, "text": text, "speaker": speaker}))
    manifest = folder / name
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_dataset_item_holds_audio_targets_and_text(tmp_path: Path) -> None:
    manifest = write_corpus(tmp_path, [("a", "Hello, World", 0.5)])
    tokenizer = CharTokenizer().fit(["hello world"])
    item = SpeechDataset(read_manifest(manifest), tokenizer, RATE, "error")[0]
    expected, _ = soundfile.read(tmp_path / "a.wav", dtype="float32")
    assert torch.allclose(item["waveform"], torch.from_numpy(expected), atol=1e-4)  # (S,)
    assert item["targets"].dtype == torch.long
    assert tokenizer.decode(item["targets"].tolist()) == "hello world"  # normalised before encoding
    assert (item["id"], item["text"], item["speaker"]) == ("a", "hello world", "s")


def test_unreadable_audio_is_skipped_with_its_manifest_line_or_raised(tmp_path: Path) -> None:
    manifest = write_corpus(tmp_path, [("a", "one", 0.5), ("b", "two", 0.5)])
    (tmp_path / "b.wav").write_bytes(b"not audio at all")
    utterances = read_manifest(manifest)
    tokenizer = CharTokenizer().fit(["one two"])
    skipped = SpeechDataset(utterances, tokenizer, RATE, "skip")[1]
    assert set(skipped) == {"skipped"} and f"{manifest}:2" in skipped["skipped"]
    with pytest.raises(Exception, match="m.jsonl:2"):
        SpeechDataset(utterances, tokenizer, RATE, "error")[1]


def test_collate_pads_to_the_longest_and_concatenates_targets() -> None:
    items = [
        {"waveform": torch.ones(5), "targets": torch.tensor([1, 2]), "id": "a", "text": "x", "speaker": "s1"},
        {"skipped": "m.jsonl:2: unreadable"},
        {"waveform": torch.full((3,), 2.0), "targets": torch.tensor([3, 4, 5]), "id": "b", "text": "y", "speaker": "s2"},
    ]
    batch = collate_speech(items)
    assert batch["waveforms"].shape == (2, 5)  # (B, S)
    assert batch["waveforms"][1].tolist() == [2.0, 2.0, 2.0, 0.0, 0.0]  # zero padding after the end
    assert batch["lengths"].tolist() == [5, 3] and batch["lengths"].dtype == torch.long
    assert batch["targets"].tolist() == [1, 2, 3, 4, 5] and batch["target_lengths"].tolist() == [2, 3]
    assert (batch["ids"], batch["speakers"], batch["skipped"]) == (["a", "b"], ["s1", "s2"], ["m.jsonl:2: unreadable"])


def test_extra_train_manifests_join_training_only_with_paths_relative_to_themselves(tmp_path: Path) -> None:
    main = write_corpus(tmp_path / "corpus", [("a", "one", 0.5), ("b", "two", 0.6)])
    extra = write_corpus(tmp_path / "synthetic", [("tts_a", "one two", 0.7)], speaker="voice-1")
    data = SpeechDataModule(train_manifest=str(main), val_manifest=str(main), extra_train_manifest=[str(extra)],
                            data_root=str(tmp_path / "corpus"), sample_rate=RATE, num_workers=0, max_batch_seconds=10)
    fit = data.utterances("fit")
    assert [u.id for u in fit] == ["a", "b", "tts_a"]
    assert Path(fit[2].audio) == (tmp_path / "synthetic" / "tts_a.wav").resolve()
    assert [u.id for u in data.utterances("validate")] == ["a", "b"]
    seen = sorted(uid for batch in data.train_dataloader() for uid in batch["ids"])
    assert seen == ["a", "b", "tts_a"]
    # Per-speaker statistics see the extra speakers too, so SpeakerCMVN can normalise them.
    assert {s for batch in data.statistics_loader("fit") for s in batch["speakers"]} == {"s", "voice-1"}


def test_extra_manifest_texts_fit_the_tokenizer(tmp_path: Path) -> None:
    main = write_corpus(tmp_path / "corpus", [("a", "ab", 0.5)])
    extra = write_corpus(tmp_path / "more", [("x", "xyz", 0.5)])
    data = SpeechDataModule(train_manifest=str(main), extra_train_manifest=str(extra), sample_rate=RATE, num_workers=0)
    assert data.tokenizer.decode(data.tokenizer.encode("zab")) == "zab"


def test_an_id_repeated_across_training_manifests_names_both_lines(tmp_path: Path) -> None:
    main = write_corpus(tmp_path / "corpus", [("a", "one", 0.5), ("b", "two", 0.5)])
    extra = write_corpus(tmp_path / "more", [("c", "one", 0.5), ("b", "two", 0.5)])
    with pytest.raises(ManifestError, match=r"more/m.jsonl:2: id 'b' is already used at .*corpus/m.jsonl:2"):
        SpeechDataModule(train_manifest=str(main), extra_train_manifest=[str(extra)], sample_rate=RATE, num_workers=0)


def test_extra_manifests_without_a_train_manifest_are_refused(tmp_path: Path) -> None:
    extra = write_corpus(tmp_path, [("a", "one", 0.5)])
    with pytest.raises(ValueError, match="train_manifest"):
        SpeechDataModule(extra_train_manifest=[str(extra)], tokenizer=CharTokenizer().fit(["one"]), sample_rate=RATE)


def test_a_split_without_manifest_names_the_argument_to_set(tmp_path: Path) -> None:
    main = write_corpus(tmp_path, [("a", "one", 0.5)])
    data = SpeechDataModule(train_manifest=str(main), sample_rate=RATE, num_workers=0)
    assert not data.has_split("test") and data.val_dataloader() == []
    with pytest.raises(ValueError, match="data.init_args.test_manifest"):
        data.utterances("test")
