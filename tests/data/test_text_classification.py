"""Labelled sentences: the reader names bad lines, folds partition the data, splits are right."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.data.text_classification import (
    TextClassificationDataModule,
    TextFormatError,
    cross_validation_folds,
    read_labelled_sentences,
)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _corpus(tmp_path: Path, count: int = 40) -> Path:
    words = ["good", "great", "fine"], ["bad", "awful", "poor"]
    return _write(tmp_path / "all.txt", [f"{i % 2} the film is {words[i % 2][i % 3]} number{i}" for i in range(count)])


def test_reader_names_the_file_and_line_of_a_bad_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.txt", ["1 a fine film", "", "0"])
    with pytest.raises(TextFormatError, match=r"t\.txt:3: expected 'label sentence'"):
        read_labelled_sentences(path)
    assert [s.where for s in read_labelled_sentences(_write(tmp_path / "u.txt", ["1 a", "", "0 b"]))] == [
        f"{tmp_path / 'u.txt'}:1", f"{tmp_path / 'u.txt'}:3"]


def test_an_undecodable_file_names_its_line_and_the_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("1 a fine film\n0 a clich\u00e9 \u0085 plot\n".encode("latin-1"))
    with pytest.raises(TextFormatError, match=r"latin\.txt:2: not utf-8 text .*data\.init_args\.encoding"):
        read_labelled_sentences(path)
    sentences = read_labelled_sentences(path, encoding="latin-1")
    assert [s.text for s in sentences] == ["a fine film", "a clich\u00e9 \u0085 plot"]  # U+0085 ends no line


def test_folds_are_disjoint_stratified_and_cover_everything() -> None:
    labels = ["0"] * 30 + ["1"] * 20
    folds = cross_validation_folds(labels, 10, seed=3)
    assert sorted(i for fold in folds for i in fold) == list(range(50))
    assert all(len(fold) == 5 and sum(labels[i] == "1" for i in fold) == 2 for fold in folds)
    assert folds == cross_validation_folds(labels, 10, seed=3) != cross_validation_folds(labels, 10, seed=4)


def test_fold_k_tests_on_its_tenth_and_trains_on_the_rest(tmp_path: Path) -> None:
    path = _corpus(tmp_path)
    seen_in_test = []
    for fold in range(4):
        data = TextClassificationDataModule(str(path), folds=4, fold=fold, val_fraction=0.2, min_count=1)
        test_ids = {item["id"] for item in data.dataset("test").items}
        train_ids = {item["id"] for item in data.dataset("fit").items}
        val_ids = {item["id"] for item in data.dataset("validate").items}
        assert not (test_ids & train_ids) and not (test_ids & val_ids) and not (train_ids & val_ids)
        assert len(test_ids | train_ids | val_ids) == 40
        # The vocabulary comes from the training part only.
        assert all(f"number{line - 1}" not in data.vocabulary_state["words"] for line in (int(i.rsplit(':', 1)[1]) for i in test_ids))
        seen_in_test += sorted(test_ids)
    assert len(seen_in_test) == len(set(seen_in_test)) == 40
    assert data.labels == ["0", "1"] and data.input_size == len(data.vocabulary_state["words"])


def test_separate_files_and_unknown_labels(tmp_path: Path) -> None:
    train = _corpus(tmp_path)
    test = _write(tmp_path / "test.txt", ["1 a great film", "2 a strange film"])
    data = TextClassificationDataModule(str(train), test_file=str(test))
    with pytest.raises(TextFormatError, match=r"test\.txt:2: label '2' is not among the training labels"):
        data.dataset("test")
    with pytest.raises(ValueError, match="either test_file or folds"):
        TextClassificationDataModule(str(train), test_file=str(test), folds=10)
    with pytest.raises(ValueError, match="no 'validate' split"):
        data.dataset("validate")
