"""FSDD: speaker-disjoint splits on fake recordings written here, and the shared corpus if present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from seqkit.data.audio import AudioError
from seqkit.data.fsdd import FSDDDataModule
from seqkit.data.paths import default_data_dir

SPEAKERS = ("ann", "bob", "cid")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 speakers x 10 digits x 3 takes of 8 kHz noise; the length encodes the take."""
    root = tmp_path_factory.mktemp("fsdd")
    rng = np.random.default_rng(0)
    for speaker in SPEAKERS:
        for digit in range(10):
            for take in range(3):
                samples = 400 + 100 * take + 10 * digit
                soundfile.write(str(root / f"{digit}_{speaker}_{take}.wav"), 0.1 * rng.standard_normal(samples), 8000)
    return root


def speaker(example_id: str) -> str:
    return example_id.split("_")[1]


def test_held_out_speaker_is_the_test_set_only(recordings: Path) -> None:
    data = FSDDDataModule(test_speaker="bob", root=str(recordings))
    assert data.labels == [str(d) for d in range(10)] and data.input_size == 1
    assert data.train_speakers == ["ann", "cid"] and not data.has_split("validate")
    fit, test = data.dataset("fit"), data.dataset("test")
    assert len(fit) == 60 and len(test) == 30
    assert {rec.speaker for rec in fit.recordings} == {"ann", "cid"}
    assert {rec.speaker for rec in test.recordings} == {"bob"}
    item = test[0]
    assert item["id"] == "0_bob_0" and item["label"] == 0
    assert item["inputs"].shape == (400,) and item["inputs"].dtype == torch.float32  # (S,)
    assert [rec.path for rec in data.dataset("predict").recordings] == [rec.path for rec in test.recordings]


def test_validation_holdout_comes_from_training_speakers(recordings: Path) -> None:
    data = FSDDDataModule(test_speaker="ann", root=str(recordings), val_fraction=0.3, seed=5)
    fit, val = data.dataset("fit"), data.dataset("validate")
    fit_ids = {rec.path.stem for rec in fit.recordings}
    val_ids = {rec.path.stem for rec in val.recordings}
    assert len(val_ids) == 20 and len(fit_ids) == 40 and not fit_ids & val_ids  # 1 of 3 takes per (speaker, digit)
    assert {speaker(i) for i in val_ids} == {"bob", "cid"}
    assert sorted(i.split("_")[0] for i in val_ids) == sorted([str(d) for d in range(10)] * 2)
    again = FSDDDataModule(test_speaker="ann", root=str(recordings), val_fraction=0.3, seed=5)
    assert {rec.path.stem for rec in again.dataset("validate").recordings} == val_ids


def test_resampled_to_the_model_rate_and_batched(recordings: Path) -> None:
    data = FSDDDataModule(test_speaker="cid", root=str(recordings), sample_rate=16000, batch_size=8)
    assert data.dataset("fit").lengths[0] == 800  # 400 samples at 8 kHz
    batch = next(iter(data.train_dataloader()))
    assert batch["inputs"].ndim == 2 and batch["inputs"].shape[0] <= 8  # (B, S_max)
    assert batch["inputs"].shape[1] == int(batch["lengths"].max())
    assert all(speaker(i) in ("ann", "bob") for i in batch["ids"])
    assert batch["labels"].tolist() == [int(i.split("_")[0]) for i in batch["ids"]]


def test_unknown_speaker_and_bad_files(recordings: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"test_speaker 'zed' has no recordings .* \['ann', 'bob', 'cid'\]"):
        FSDDDataModule(test_speaker="zed", root=str(recordings))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FSDDDataModule(test_speaker="ann", root=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="has no .wav recordings"):
        FSDDDataModule(test_speaker="ann", root=str(tmp_path))
    (tmp_path / "hello.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"hello.wav: expected a file name \{digit\}_\{speaker\}_\{take\}.wav"):
        FSDDDataModule(test_speaker="ann", root=str(tmp_path))
    (tmp_path / "hello.wav").rename(tmp_path / "1_ann_0.wav")
    with pytest.raises(AudioError, match=r"1_ann_0.wav: unreadable audio"):
        FSDDDataModule(test_speaker="ann", root=str(tmp_path))


def test_shared_fsdd() -> None:
    root = default_data_dir() / "fsdd" / "recordings"
    if not root.is_dir():
        pytest.skip(f"{root} not found; set SEQKIT_DATA to the shared data folder")
    data = FSDDDataModule(test_speaker="george", val_fraction=0.1)
    assert data.train_speakers == ["jackson", "lucas", "nicolas"]
    assert len(data.dataset("test")) == 500 and len(data.dataset("fit")) + len(data.dataset("validate")) == 1500
    assert len(data.dataset("validate")) == 150  # 5 of the 50 takes of every (speaker, digit)
    item = data.dataset("test")[0]
    assert item["label"] == 0 and item["inputs"].ndim == 1 and item["inputs"].numel() > 1000


def test_extra_training_voices_join_every_fold_and_nothing_else(recordings: Path, tmp_path: Path) -> None:
    import json

    lines = []
    for i, word in enumerate(["three", "zero"]):
        soundfile.write(str(tmp_path / f"s{i}.wav"), 0.1 * np.random.default_rng(i).standard_normal(800), 8000)
        lines.append(json.dumps({"id": f"s{i}", "audio": f"s{i}.wav", "duration": 0.1, "text": word, "speaker": "voice"}))
    (tmp_path / "extra.jsonl").write_text("\n".join(lines) + "\n")
    data = FSDDDataModule(test_speaker="bob", root=str(recordings), extra_train_manifest=str(tmp_path / "extra.jsonl"))
    fit = data.dataset("fit")
    assert len(fit) == 62 and [(r.digit, r.speaker) for r in fit.recordings[-2:]] == [(3, "voice"), (0, "voice")]
    assert {rec.speaker for rec in data.dataset("test").recordings} == {"bob"}
    two = FSDDDataModule(test_speaker="bob", root=str(recordings), extra_train_manifest=[str(tmp_path / "extra.jsonl")] * 2)
    assert len(two.dataset("fit")) == 64  # a list of manifests adds them all
    (tmp_path / "bad.jsonl").write_text(lines[0].replace('"three"', '"three four"') + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1 \(id=s0\): expected one digit word"):
        FSDDDataModule(test_speaker="bob", root=str(recordings), extra_train_manifest=str(tmp_path / "bad.jsonl"))


def test_speed_then_tempo_perturb_training_recordings_only(recordings: Path) -> None:
    data = FSDDDataModule(test_speaker="cid", root=str(recordings), speed_factors=[1.25], tempo_factors=[0.5])
    fit, test = data.dataset("fit"), data.dataset("test")
    for i in range(3):
        # 1.25x faster, then half the tempo: 1.6x the samples; the test speaker's are untouched
        assert fit[i]["inputs"].numel() == pytest.approx(1.6 * fit.lengths[i], rel=0.02)
        assert test[i]["inputs"].numel() == test.lengths[i]


def test_examples_name_their_speaker_and_unaugmented_data_is_as_recorded(recordings: Path) -> None:
    from seqkit.data.sequences import collate_sequences

    data = FSDDDataModule(test_speaker="cid", root=str(recordings), speed_factors=[1.25])
    fit, clean = data.dataset("fit"), data.unaugmented_dataset("fit")
    batch = collate_sequences([fit[0], fit[40]])
    assert batch["speakers"] == [speaker(fit[0]["id"]), speaker(fit[40]["id"])] == ["ann", "bob"]
    assert fit[0]["inputs"].numel() != fit.lengths[0]  # speed-perturbed
    assert clean[0]["inputs"].numel() == clean.lengths[0] and clean[0]["id"] == fit[0]["id"]
    with pytest.raises(ValueError, match="no 'validate' split"):
        data.unaugmented_dataset("validate")
