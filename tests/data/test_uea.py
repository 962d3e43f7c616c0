"""The UEA/UCR ``.ts`` reader on small files written here, its errors, and the data module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data.paths import default_data_dir
from seqkit.data.sequences import stratified_holdout
from seqkit.data.uea import TSFormatError, UEADataModule, read_ts

UNIVARIATE = """\
# a comment, then the header
@problemName Tiny
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true up down
@data
1,2,3,4:up
4,3,2,1:down

1.5,2.5,3.5,4.5:up
"""

# Variable length (JapaneseVowels-like), 2 channels; the second case is padded with '?'.
VARIABLE = """\
@problemName Vowels
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2,3:10,20,30:a
5,6,?,?:50,60,?,?:b
7:70:a
8,9:80,90:b
"""


def write(tmp_path: Path, text: str, name: str = "x.ts") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_univariate_cases_and_header(tmp_path: Path) -> None:
    data = read_ts(write(tmp_path, UNIVARIATE))
    assert data.problem == "Tiny" and data.classes == ["up", "down"]
    assert data.labels == ["up", "down", "up"] and data.lines == [10, 11, 13]  # the blank line is counted
    assert [s.shape for s in data.series] == [(4, 1)] * 3 and data.num_channels == 1
    assert data.series[0].dtype == np.float32
    np.testing.assert_array_equal(data.series[1][:, 0], [4, 3, 2, 1])


def test_variable_length_multivariate_with_trailing_padding(tmp_path: Path) -> None:
    data = read_ts(write(tmp_path, VARIABLE))
    assert [s.shape for s in data.series] == [(3, 2), (2, 2), (1, 2), (2, 2)]  # padding '?' cut off
    np.testing.assert_array_equal(data.series[0], [[1, 10], [2, 20], [3, 30]])  # (T, C): channels are columns
    np.testing.assert_array_equal(data.series[1], [[5, 50], [6, 60]])


def test_interior_and_edge_missing_values_are_interpolated(tmp_path: Path) -> None:
    text = UNIVARIATE.replace("1,2,3,4:up", "?,2,?,8:up").replace("4,3,2,1:down", "4,3,NaN,?:down")
    data = read_ts(write(tmp_path, text))
    np.testing.assert_array_equal(data.series[0][:, 0], [2, 2, 5, 8])  # leading: nearest; interior: linear
    # Equal-length problem: a trailing '?' is a missing value (held), not padding.
    np.testing.assert_array_equal(data.series[1][:, 0], [4, 3, 3, 3])
    assert not any(np.isnan(s).any() for s in data.series)


def test_header_tags_are_case_insensitive(tmp_path: Path) -> None:
    text = UNIVARIATE.replace("@problemName ", "@problemname\t").replace("@classLabel", "@CLASSLABEL")
    data = read_ts(write(tmp_path, text))
    assert data.classes == ["up", "down"] and data.problem == "Tiny"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("1,2,x,4:up", r"channel 1, value 3: 'x' is not a number"),
        ("1,2,,4:up", r"channel 1, value 3: '' is not a number"),
        ("1,2,inf,4:up", r"value 3: 'inf' is infinite"),
        ("1,2,3,4:sideways", r"label 'sideways' is not one of @classLabel \['up', 'down'\]"),
        ("1,2,3:up", r"3 steps, but @seriesLength is 4"),
        ("1,2,3,4:5,6,7,8:up", r"expected 1 channel\(s\) and a label \(2 fields separated by ':'\), found 3"),
        ("1,2,3,4", r"found no ':'"),
        ("?,?,?,?:up", r"channel 1 has no observed value"),
        ("@extra true", r"header line after @data"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = write(tmp_path, UNIVARIATE.replace("4,3,2,1:down", bad_line))
    with pytest.raises(TSFormatError, match=message) as info:
        read_ts(path)
    assert str(info.value).startswith(f"{path}:11: ")


def test_channel_errors_in_multivariate_file(tmp_path: Path) -> None:
    path = write(tmp_path, VARIABLE.replace("7:70:a", "7,8:70:a"))
    with pytest.raises(TSFormatError, match=rf"^{path}:9: channels have different lengths \[2, 1\]"):
        read_ts(path)
    path = write(tmp_path, VARIABLE.replace("7:70:a", "?:?:a"))
    with pytest.raises(TSFormatError, match=rf"^{path}:9: the series has no observed value"):
        read_ts(path)
    # Without @dimensions the first case fixes the channel count.
    path = write(tmp_path, VARIABLE.replace("@dimensions 2\n", "").replace("7:70:a", "7:70:700:a"))
    with pytest.raises(TSFormatError, match=rf"^{path}:8: expected 2 channel"):
        read_ts(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("@classLabel true up down\n", ""), r":8: no @classLabel line before @data"),
        (("@classLabel true up down", "@classLabel false"), r":8: @classLabel false"),
        (("@classLabel true up down", "@classLabel true up up"), r":8: @classLabel true needs distinct"),
        (("@classLabel true up down", "@classLabel"), r":8: @classLabel must be true or false, got ''"),
        (("@timeStamps false", "@timeStamps true"), r":9: time-stamped series"),
        (("@univariate true", "@univariate maybe"), r":9: @univariate must be true or false"),
        (("@data\n", ""), r":9: expected a header line starting with '@' \(no @data line before the cases\?\)"),
        (("@univariate true", "univariate true"), r":5: expected a header line starting with '@'"),
    ],
)
def test_bad_header(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, UNIVARIATE.replace(*edit))
    with pytest.raises(TSFormatError, match=message):
        read_ts(path)


def test_no_data_or_no_cases(tmp_path: Path) -> None:
    header = UNIVARIATE.split("@data")[0]
    with pytest.raises(TSFormatError, match="no @data line"):
        read_ts(write(tmp_path, header))
    with pytest.raises(TSFormatError, match="no cases after @data"):
        read_ts(write(tmp_path, header + "@data\n"))
    with pytest.raises(TSFormatError, match="does not exist"):
        read_ts(tmp_path / "missing.ts")


def test_stratified_holdout_is_seeded_and_keeps_every_class() -> None:
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 1
    kept, held = stratified_holdout(labels, 0.2, seed=3)
    assert sorted(kept + held) == list(range(16)) and not set(kept) & set(held)
    assert sorted(labels[i] for i in held) == ["a", "a", "b"]  # 20% of 10, at least 1 of 5, none of 1
    assert stratified_holdout(labels, 0.2, seed=3) == (kept, held)
    assert stratified_holdout(labels, 0.2, seed=4)[1] != held
    assert stratified_holdout(labels, 0.0, seed=3) == (list(range(16)), [])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        stratified_holdout(labels, 1.0, seed=0)


def test_data_module_gives_training_statistics_and_raw_series(tmp_path: Path) -> None:
    train = write(tmp_path, VARIABLE, "V_TRAIN.ts")
    test = write(tmp_path, VARIABLE.replace("8,9:80,90:b", "100,200:1000,2000:b"), "V_TEST.ts")
    data = UEADataModule(str(train), str(test), batch_size=2)
    assert data.labels == ["a", "b"] and data.input_size == 2
    assert not data.has_split("validate") and data.has_split("test")
    raw = np.array([[1, 10], [2, 20], [3, 30], [5, 50], [6, 60], [7, 70], [8, 80], [9, 90]], dtype=np.float64)
    np.testing.assert_allclose(data.input_stats["mean"], raw.mean(0), rtol=1e-6)
    np.testing.assert_allclose(data.input_stats["std"], raw.std(0), rtol=1e-6)
    fit = data.dataset("fit")
    assert sorted(torch.cat(fit.inputs)[:, 0].tolist()) == raw[:, 0].tolist()  # the model standardizes
    # The test file's outlier is kept as it is: scaled later by the training statistics.
    np.testing.assert_array_equal(data.dataset("test")[3]["inputs"][0].numpy(), [100, 1000])
    assert fit[0] == {"id": "V_TRAIN:7", "inputs": fit.inputs[0], "label": 0}


def test_data_module_without_standardize_or_test_file(tmp_path: Path) -> None:
    data = UEADataModule(str(write(tmp_path, UNIVARIATE)), standardize=False)
    assert data.input_stats is None
    np.testing.assert_array_equal(data.dataset("fit")[0]["inputs"][:, 0].numpy(), [1, 2, 3, 4])
    assert not data.has_split("test")
    with pytest.raises(ValueError, match="set data.init_args.test_file"):
        data.dataset("test")


def test_test_file_must_have_the_training_classes(tmp_path: Path) -> None:
    train = write(tmp_path, UNIVARIATE, "T_TRAIN.ts")
    test = write(tmp_path, UNIVARIATE.replace("up down", "up down left"), "T_TEST.ts")
    with pytest.raises(TSFormatError, match=r"T_TEST.ts: @classLabel \['up', 'down', 'left'\] differs"):
        UEADataModule(str(train), str(test)).dataset("test")


def test_train_loader_gives_the_documented_batch(tmp_path: Path) -> None:
    train = write(tmp_path, VARIABLE + VARIABLE.split("@data\n")[1], "V_TRAIN.ts")  # 8 cases, 4 of each class
    data = UEADataModule(str(train), val_fraction=0.25, batch_size=3, seed=1)
    assert len(data.dataset("fit")) == 6 and len(data.dataset("validate")) == 2
    seen = []
    for batch in data.train_dataloader():
        assert set(batch) == {"inputs", "lengths", "labels", "ids", "groups"}
        batch_size, longest, channels = batch["inputs"].shape  # (B, T_max, C)
        assert batch_size <= 3 and channels == 2 and longest == int(batch["lengths"].max())
        assert batch["lengths"].dtype == torch.long and batch["labels"].dtype == torch.long
        assert batch["groups"] == batch["ids"] and len(batch["ids"]) == batch_size
        for row, length in enumerate(batch["lengths"].tolist()):
            assert batch["inputs"][row, length:].abs().sum() == 0  # zero padding
        seen += batch["ids"]
    assert sorted(seen) == sorted(data.dataset("fit").ids)
    assert data.val_dataloader() is not None and len(data.val_dataloader()) == 1


# ---- the real archive files, where the shared data is present -----------------------
@pytest.mark.parametrize(
    ("problem", "train", "test", "channels", "steps", "classes"),
    [
        ("GunPoint", 50, 150, 1, (150, 150), 2),
        ("NATOPS", 180, 180, 24, (51, 51), 6),
        ("JapaneseVowels", 270, 370, 12, (7, 29), 9),
    ],
)
def test_shared_uea_files(problem, train, test, channels, steps, classes) -> None:
    folder = default_data_dir() / "uea"
    if not (folder / f"{problem}_TRAIN.ts").is_file():
        pytest.skip(f"{folder / problem}_TRAIN.ts not found; set SEQKIT_DATA to the shared data folder")
    sizes = []
    for split, count in (("TRAIN", train), ("TEST", test)):
        data = read_ts(folder / f"{problem}_{split}.ts")
        assert data.problem == problem and len(data.series) == count and len(data.classes) == classes
        assert {s.shape[1] for s in data.series} == {channels} and set(data.labels) == set(data.classes)
        sizes += [s.shape[0] for s in data.series]
    assert (min(sizes), max(sizes)) == steps
    module = UEADataModule(f"${{SEQKIT_DATA}}/uea/{problem}_TRAIN.ts")  # the path as configs write it
    assert module.input_size == channels and module.labels == data.classes and len(module.dataset("fit")) == train
