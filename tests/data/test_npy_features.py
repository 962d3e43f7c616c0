"""NpyFeaturesDataModule on ROOT/<split>/<class>/<video>.npy trees written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data.npy_features import FeatureFileError, NpyFeaturesDataModule


def save(root: Path, relative: str, array: np.ndarray) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """2 classes, 5 train / 1 val / 2 test videos of 6 features a frame."""
    rng = np.random.default_rng(0)
    for split, names in (("train", ["a", "b", "c"]), ("val", ["d"]), ("test", ["e", "f"])):
        for label in ("walk", "jump"):
            for name in names if label == "walk" or split != "train" else names[:2]:
                save(tmp_path, f"{split}/{label}/{name}.npy", rng.normal(size=(rng.integers(3, 9), 6)))
    (tmp_path / "train" / "walk" / "notes.txt").write_text("not a feature file")  # ignored
    return tmp_path


def test_classes_sizes_and_examples(tree: Path) -> None:
    data = NpyFeaturesDataModule(str(tree), batch_size=2)
    assert data.labels == ["jump", "walk"] and data.input_size == 6  # sorted folder names
    fit = data.dataset("fit")
    assert len(fit) == 5 and fit.ids == ["jump/a", "jump/b", "walk/a", "walk/b", "walk/c"]
    item = fit[4]
    expected = np.load(tree / "train" / "walk" / "c.npy").astype(np.float32)
    assert item["id"] == "walk/c" and item["label"] == 1 and item["inputs"].dtype == torch.float32
    np.testing.assert_array_equal(item["inputs"].numpy(), expected)  # (T, F)
    assert fit.lengths[4] == expected.shape[0]
    assert len(data.dataset("validate")) == 2 and len(data.dataset("test")) == 4
    assert data.has_split("validate") and data.has_split("predict")


def test_train_loader_batches(tree: Path) -> None:
    data = NpyFeaturesDataModule(str(tree), batch_size=2)
    ids = []
    for batch in data.train_dataloader():
        assert batch["inputs"].shape == (len(batch["ids"]), int(batch["lengths"].max()), 6)  # (B, T_max, F)
        assert batch["labels"].tolist() == [data.labels.index(i.split("/")[0]) for i in batch["ids"]]
        ids += batch["ids"]
    assert sorted(ids) == sorted(data.dataset("fit").ids)


def test_missing_splits(tmp_path: Path) -> None:
    with pytest.raises(FeatureFileError, match=r"train does not exist: ROOT/train/<class_name>/<video>.npy"):
        NpyFeaturesDataModule(str(tmp_path))
    save(tmp_path, "train/x/1.npy", np.ones((2, 3)))
    save(tmp_path, "train/y/1.npy", np.ones((2, 3)))
    data = NpyFeaturesDataModule(str(tmp_path))
    assert not data.has_split("validate") and data.val_dataloader() == []
    with pytest.raises(FeatureFileError, match=r"no 'test' split: .*test does not exist"):
        data.dataset("test")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(5), r"expected a \(T, F\) array of frame features, got shape \(5,\)"),
        (np.ones((2, 5, 6)), r"got shape \(2, 5, 6\)"),
        (np.ones((0, 6)), r"empty array of shape \(0, 6\)"),
        (np.ones((4, 0)), r"empty array of shape \(4, 0\)"),
        (np.ones((4, 5)), r"5 features per frame, but .*/train/jump/a.npy has 6"),
        (np.array([["a", "b"]]), r"dtype <U1 is not numeric"),
    ],
)
def test_bad_arrays_name_the_file(tree: Path, array: np.ndarray, message: str) -> None:
    bad = save(tree, "train/walk/zz.npy", array)
    with pytest.raises(FeatureFileError, match=message) as info:
        NpyFeaturesDataModule(str(tree))
    assert str(info.value).startswith(f"{bad}: ")


def test_bad_files_in_other_splits_and_at_load_time(tree: Path) -> None:
    data = NpyFeaturesDataModule(str(tree))
    bad = save(tree, "test/walk/zz.npy", np.ones((3, 2)))
    with pytest.raises(FeatureFileError, match=rf"^{bad}: 2 features per frame"):
        data.dataset("test")
    bad.unlink()
    save(tree, "test/swim/a.npy", np.ones((3, 6)))
    with pytest.raises(FeatureFileError, match=r"test/swim: class 'swim' is not a class of .*train"):
        data.dataset("test")
    (tree / "test" / "swim" / "a.npy").unlink()
    (tree / "test" / "swim").rmdir()
    nan = np.ones((3, 6))
    nan[1, 2] = np.nan
    bad = save(tree, "test/walk/nan.npy", nan)
    test = data.dataset("test")
    with pytest.raises(FeatureFileError, match=rf"^{bad}: features contain NaN or Inf"):
        test[test.files.index(bad)]
    (tree / "train" / "walk" / "c.npy").write_bytes(b"not numpy")
    with pytest.raises(FeatureFileError, match=r"c.npy: not a readable .npy file"):
        NpyFeaturesDataModule(str(tree))


def test_empty_class_folder(tree: Path) -> None:
    (tree / "train" / "sit").mkdir()
    with pytest.raises(FeatureFileError, match=r"train/sit: no .npy files for class 'sit'"):
        NpyFeaturesDataModule(str(tree))
