"""Character LM data: in-order split, vocabulary, stream layout for truncated BPTT, exact evaluation coverage."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from seqkit.data.text_windows import IGNORE_INDEX, CharLMDataModule
from seqkit.data.vocabulary import CharVocabulary

pytestmark = pytest.mark.usefixtures("one_thread")

# 26 distinct letters cycled with a counter mixed in: every window's text is recognisable.
TEXT = "".join(f"{chr(97 + i % 26)}{i % 7}" for i in range(500))  # 1000 characters


def write(tmp_path: Path, text: str = TEXT) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


def batches(loader) -> list[dict]:
    return list(loader)


def test_split_in_order_and_vocabulary_from_training_part(tmp_path: Path) -> None:
    text = "".join(TEXT[i : i + 98] + "\r\n" for i in range(0, 1000, 100))  # "\r" is a character too
    data = CharLMDataModule(str(write(tmp_path, text)), val_fraction=0.1, window=8, batch_size=2)
    cut = int(len(text) * 0.9)
    vocabulary = CharVocabulary.from_state(data.tokenizer_state)
    assert vocabulary.tokens == sorted(set(text[:cut]))
    assert vocabulary.decode(data._ids["fit"]) == text[:cut]
    assert vocabulary.decode(data._ids["validate"]) == text[cut:]  # "\r" kept as is


def test_unknown_validation_character_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"validation part .* character 'Z' \(U\+005A\)"):
        CharLMDataModule(str(write(tmp_path, TEXT + "Z")), window=8, batch_size=2)


def test_data_path_placeholder_is_expanded(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path)
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    data = CharLMDataModule("${SEQKIT_DATA}/corpus.txt", window=8, batch_size=2)
    assert data.train_file == str(tmp_path / "corpus.txt")


def test_consecutive_windows_continue_each_stream(tmp_path: Path) -> None:
    data = CharLMDataModule(str(write(tmp_path)), window=8, batch_size=3, carry_state=True)
    train = data._ids["fit"]  # 900 characters -> 899 (input, target) pairs
    got = batches(data.train_dataloader())
    length = 899 // 3 // 8 * 8  # whole windows per stream: 296
    assert len(got) == length // 8
    for batch in got:
        assert batch["inputs"].shape == batch["targets"].shape == (3, 8)
    for b in range(3):
        stream = torch.cat([batch["inputs"][b] for batch in got])  # (L,)
        targets = torch.cat([batch["targets"][b] for batch in got])
        # Row b of every batch is the next piece of one contiguous stretch of the text.
        torch.testing.assert_close(stream, train[b * length : (b + 1) * length], rtol=0, atol=0)
        torch.testing.assert_close(targets, train[b * length + 1 : (b + 1) * length + 1], rtol=0, atol=0)
    for k in range(len(got) - 1):
        # The target of a window's last character is the first input of the next window.
        assert torch.equal(got[k]["targets"][:, -1], got[k + 1]["inputs"][:, 0])


def test_evaluation_scores_every_character_exactly_once(tmp_path: Path) -> None:
    data = CharLMDataModule(str(write(tmp_path)), window=8, batch_size=3)
    val = data._ids["validate"]  # 100 characters: 99 targets over 3 streams of 33 -> windows 8,8,8,8,1
    got = batches(data.val_dataloader())
    assert [batch["inputs"].shape[1] for batch in got] == [8, 8, 8, 8, 1]
    targets = torch.cat([torch.cat([batch["targets"][b] for batch in got]) for b in range(3)])
    real = targets[targets != IGNORE_INDEX]
    torch.testing.assert_close(real, val[1:], rtol=0, atol=0)


def test_without_carry_the_same_windows_are_shuffled(tmp_path: Path) -> None:
    path = write(tmp_path)
    ordered = batches(CharLMDataModule(str(path), window=8, batch_size=3, carry_state=True).train_dataloader())
    torch.manual_seed(0)
    shuffled = batches(CharLMDataModule(str(path), window=8, batch_size=3, carry_state=False).train_dataloader())

    def windows(got: list[dict]) -> list[tuple]:
        return [tuple(row.tolist()) for batch in got for row in batch["inputs"]]

    assert windows(shuffled) != windows(ordered)
    assert sorted(windows(shuffled)) == sorted(windows(ordered))


def test_ranks_take_disjoint_streams_and_together_cover_the_text(tmp_path: Path) -> None:
    path = write(tmp_path)
    single = CharLMDataModule(str(path), window=8, batch_size=4)
    ranks = []
    for rank in range(2):
        data = CharLMDataModule(str(path), window=8, batch_size=2)
        data.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        ranks.append(data)
    for split, loader in [("fit", "train_dataloader"), ("validate", "val_dataloader")]:
        whole = batches(getattr(single, loader)())
        parts = [batches(getattr(data, loader)()) for data in ranks]
        assert len(parts[0]) == len(parts[1]) == len(whole)  # same step count on every rank
        for k, batch in enumerate(whole):
            # Rank r holds streams 2r and 2r+1 of the 4-stream layout.
            merged = torch.cat([parts[0][k]["targets"], parts[1][k]["targets"]])
            assert torch.equal(merged, batch["targets"]), split


def test_too_short_text_is_a_clear_error(tmp_path: Path) -> None:
    data = CharLMDataModule(str(write(tmp_path)), window=64, batch_size=16)
    with pytest.raises(ValueError, match="too short for 16 streams"):
        data.train_dataloader()
    with pytest.raises(ValueError, match="val_fraction"):
        CharLMDataModule(str(write(tmp_path)), val_fraction=0.0)


def test_test_file_is_scored_whole_and_required_for_test(tmp_path: Path) -> None:
    path = write(tmp_path)
    held_out = tmp_path / "test.txt"
    held_out.write_text(TEXT[:50], encoding="utf-8")
    with pytest.raises(ValueError, match="test_file"):
        CharLMDataModule(str(path), window=8, batch_size=2).test_dataloader()
    data = CharLMDataModule(str(path), test_file=str(held_out), window=8, batch_size=2)
    targets = torch.cat([batch["targets"].flatten() for batch in data.test_dataloader()])
    assert int((targets != IGNORE_INDEX).sum()) == 49


def test_vocabulary_round_trip_and_errors() -> None:
    vocabulary = CharVocabulary.fit("hello, world\n")
    assert vocabulary.tokens == sorted(set("hello, world\n"))
    restored = CharVocabulary.from_state(vocabulary.state())
    assert restored.decode(restored.encode("low\n")) == "low\n"
    with pytest.raises(ValueError, match=r"prompt: character 'X' \(U\+0058\) at offset 2"):
        vocabulary.encode("heX", where="prompt")
    with pytest.raises(ValueError, match="kind"):
        CharVocabulary.from_state({"kind": "char", "tokens": ["a"]})
