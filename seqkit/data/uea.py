"""UEA/UCR time-series classification archive: the ``.ts`` reader and its data module.

A ``.ts`` file is ``#`` comments, ``@`` header lines, ``@data``, then one case a line::

    @problemName NATOPS
    @univariate false
    @dimensions 24
    @equalLength true
    @seriesLength 51
    @classLabel true 1.0 2.0 3.0 4.0 5.0 6.0
    @data
    v,v,...,v:v,v,...,v:...:4.0          <- channels separated by ':', values by ',', label last

Header tags are case-insensitive; tags this reader does not use (``@timeStamps false``,
``@missing``) are accepted.  Each case becomes a ``(T, C)`` float32 array.  Missing values
(``?`` or ``NaN``) are handled so that no NaN ever reaches a model:

* in a variable-length problem (``@equalLength false``, e.g. JapaneseVowels) the steps at
  the end of a case where *every* channel is missing are padding and are cut off;
* any other missing value is filled by linear interpolation along time within its channel
  (before the first or after the last observed value, the nearest observed value).

A channel with no observed value at all, a wrong channel count, channels of different
lengths, a label not in ``@classLabel``, a non-numeric or infinite value: each raises
:class:`TSFormatError` naming ``file:line``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqkit.data.paths import expand_data_path
from seqkit.data.sequences import SequenceDataModule, SequenceDataset, stratified_holdout

_MISSING = ("?", "nan")
_STD_FLOOR = 1e-8


class TSFormatError(ValueError):
    """A ``.ts`` file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class TSData:
    """The cases of one ``.ts`` file: ``series[i]`` is (T_i, C), ``labels[i]`` one of ``classes``."""

    path: str
    problem: str
    classes: list[str]  # from @classLabel, in header order
    series: list[np.ndarray]
    labels: list[str]
    lines: list[int]  # 1-based line of each case, for messages and ids

    @property
    def num_channels(self) -> int:
        return self.series[0].shape[1]


def _flag(value: str, where: str, tag: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise TSFormatError(f"{where}: @{tag} must be true or false, got {value!r}")
    return value.lower() == "true"


def _parse_channel(text: str, where: str, channel: int) -> np.ndarray:
    """``"1.5,?,2"`` -> (T,) float64 with NaN for missing values."""
    values: list[float] = []
    for position, raw in enumerate(text.split(","), start=1):
        value = raw.strip()
        if value.lower() in _MISSING:
            values.append(np.nan)
            continue
        try:
            values.append(float(value))
        except ValueError:
            raise TSFormatError(f"{where}: channel {channel + 1}, value {position}: {value!r} is not a number") from None
        if np.isinf(values[-1]):
            raise TSFormatError(f"{where}: channel {channel + 1}, value {position}: {value!r} is infinite")
    return np.array(values, dtype=np.float64)


def _fill_missing(case: np.ndarray, where: str) -> np.ndarray:
    """Interpolate NaNs along time in each channel of ``case`` (T, C)."""
    steps = np.arange(case.shape[0])
    for channel in range(case.shape[1]):
        values = case[:, channel]
        known = ~np.isnan(values)
        if not known.any():
            raise TSFormatError(f"{where}: channel {channel + 1} has no observed value")
        if not known.all():
            case[:, channel] = np.interp(steps, steps[known], values[known])
    return case


def _parse_case(raw: str, where: str, channels: int | None, equal_length: bool) -> tuple[np.ndarray, str]:
    parts = raw.split(":")
    if len(parts) < 2:
        raise TSFormatError(f"{where}: expected channels and a label separated by ':', found no ':'")
    if channels is not None and len(parts) != channels + 1:
        raise TSFormatError(
            f"{where}: expected {channels} channel(s) and a label ({channels + 1} fields separated by ':'), "
            f"found {len(parts)} fields"
        )
    label = parts[-1].strip()
    columns = [_parse_channel(text, where, c) for c, text in enumerate(parts[:-1])]
    sizes = {len(column) for column in columns}
    if len(sizes) > 1:
        raise TSFormatError(f"{where}: channels have different lengths {[len(c) for c in columns]}")
    case = np.stack(columns, axis=1)  # (T, C)
    if not equal_length:
        observed = np.flatnonzero(~np.isnan(case).all(axis=1))
        case = case[: observed[-1] + 1] if observed.size else case[:0]  # trailing all-missing steps: padding
    if case.shape[0] == 0:
        raise TSFormatError(f"{where}: the series has no observed value")
    filled = _fill_missing(case, where)
    if (np.abs(filled) > np.finfo(np.float32).max).any():
        raise TSFormatError(f"{where}: a value beyond float32's range (|x| > 3.4e38)")
    return filled.astype(np.float32), label


def read_ts(path: str | os.PathLike) -> TSData:
    """Read a classification ``.ts`` file (see the module docstring); raise :class:`TSFormatError`."""
    path = Path(path)
    if not path.is_file():
        raise TSFormatError(f"{path} does not exist")
    header: dict[str, str] = {}
    classes: list[str] | None = None
    series: list[np.ndarray] = []
    labels: list[str] = []
    lines: list[int] = []
    channels: int | None = None
    in_data = False
    data = path.read_bytes()
    try:
        raw_lines = io.StringIO(data.decode("utf-8"), newline=None).readlines()  # as a text-mode file reads
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise TSFormatError(f"{path}:{line}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    for number, raw in enumerate(raw_lines, start=1):
        text = raw.strip()
        where = f"{path}:{number}"
        if not text or text.startswith("#"):
            continue
        if not in_data:
            if not text.startswith("@"):
                raise TSFormatError(f"{where}: expected a header line starting with '@' (no @data line before the cases?)")
            if len(text) == 1:
                raise TSFormatError(f"{where}: a header line '@' without a tag")
            tag, *rest = text[1:].split(None, 1)  # "@tag value", a space or a tab apart
            tag, value = tag.lower(), rest[0].strip() if rest else ""
            if tag == "data":
                classes, channels, equal_length = _check_header(header, classes, where)
                in_data = True
            elif tag == "classlabel":
                flag, *names = value.split() or [""]
                if not _flag(flag, where, "classLabel"):
                    raise TSFormatError(f"{where}: @classLabel false: the file has no class labels to learn")
                if not names or len(set(names)) != len(names):
                    raise TSFormatError(f"{where}: @classLabel true needs distinct class names, got {names}")
                classes = names
            else:
                header[tag] = value
            continue
        if text.startswith("@"):
            raise TSFormatError(f"{where}: header line after @data")
        case, label = _parse_case(text, where, channels, equal_length)
        if label not in classes:
            raise TSFormatError(f"{where}: label {label!r} is not one of @classLabel {classes}")
        if equal_length and "serieslength" in header and case.shape[0] != int(header["serieslength"]):
            raise TSFormatError(f"{where}: {case.shape[0]} steps, but @seriesLength is {header['serieslength']}")
        channels = case.shape[1]  # every later case must match the first
        series.append(case)
        labels.append(label)
        lines.append(number)
    if not in_data:
        raise TSFormatError(f"{path}: no @data line")
    if not series:
        raise TSFormatError(f"{path}: no cases after @data")
    return TSData(str(path), header.get("problemname", path.stem), classes, series, labels, lines)


def _is_count(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts characters such as '²' that int() refuses."""
    return text.isascii() and text.isdigit()


def _check_header(header: dict[str, str], classes: list[str] | None, where: str) -> tuple[list[str], int | None, bool]:
    """At ``@data``: the class list, the channel count (if declared) and whether lengths are equal."""
    if classes is None:
        raise TSFormatError(f"{where}: no @classLabel line before @data")
    if _flag(header.get("timestamps", "false"), where, "timeStamps"):
        raise TSFormatError(f"{where}: time-stamped series (@timeStamps true) are not supported")
    channels = None
    if "dimensions" in header:
        if not _is_count(header["dimensions"]) or int(header["dimensions"]) < 1:
            raise TSFormatError(f"{where}: @dimensions must be a positive integer, got {header['dimensions']!r}")
        channels = int(header["dimensions"])
    if _flag(header.get("univariate", "false"), where, "univariate"):
        if channels not in (None, 1):
            raise TSFormatError(f"{where}: @univariate true but @dimensions {channels}")
        channels = 1
    # Undeclared lengths are taken as variable: trailing missing steps are then padding.
    equal_length = _flag(header.get("equallength", "false"), where, "equalLength")
    if equal_length and "serieslength" in header and not _is_count(header["serieslength"]):
        raise TSFormatError(f"{where}: @seriesLength must be an integer, got {header['serieslength']!r}")
    return classes, channels, equal_length


class SeriesDataset(SequenceDataset):
    """In-memory series: ``inputs`` (T, C) float32, one label id each."""

    def __init__(self, series: list[np.ndarray], labels: list[int], ids: list[str]) -> None:
        self.inputs = [torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)) for s in series]
        self.labels = labels
        self.ids = ids
        self.lengths = [s.shape[0] for s in series]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        return {"id": self.ids[index], "inputs": self.inputs[index], "label": self.labels[index]}  # (T, C)


class UEADataModule(SequenceDataModule):
    """A UEA/UCR problem from its ``_TRAIN.ts`` and ``_TEST.ts`` files.

    ``labels`` are the training file's ``@classLabel`` names; ``input_size`` its channel
    count.  ``val_fraction > 0`` holds out that fraction of every class of the training file
    (seeded by ``seed``) for validation; at 0 there is no validation and the last
    checkpoint is the model.  ``predict`` reads the test file too.

    ``standardize`` computes every channel's mean and standard deviation over the training
    examples only (after the hold-out): test statistics would leak the test set into the
    inputs, and a deployed model never sees them.  The data stays raw; ``input_stats`` is
    linked into the classifier, which standardizes its inputs itself and keeps the
    statistics in its checkpoint, so ``seqkit classify`` takes raw ``.npy`` series too.
    The statistics are per channel, not per series, so a channel's absolute level (a
    hand's position in NATOPS) still carries information.
    """

    def __init__(
        self,
        train_file: str,
        test_file: str | None = None,
        val_fraction: float = 0.0,
        standardize: bool = True,
        batch_size: int = 32,
        num_buckets: int = 10,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_buckets, num_workers, seed)
        self.test_file = expand_data_path(test_file) if test_file else None
        self.val_fraction = val_fraction
        train = read_ts(expand_data_path(train_file))
        self.labels = train.classes
        self.input_size = train.num_channels
        fit, held = stratified_holdout(train.labels, val_fraction, seed)
        self._parts = {"fit": (train, fit), "validate": (train, held)}
        self.input_stats: dict | None = None  # linked into the model (plain data: saved in its hyper-parameters)
        if standardize:
            steps = np.concatenate([train.series[i] for i in fit])  # (sum T, C)
            mean = steps.mean(axis=0, dtype=np.float64).astype(np.float32)
            std = np.maximum(steps.std(axis=0, dtype=np.float64), _STD_FLOOR).astype(np.float32)
            self.input_stats = {"mean": mean.tolist(), "std": std.tolist()}

    def has_split(self, split: str) -> bool:
        if split == "validate":
            return self.val_fraction > 0
        if split in ("test", "predict"):
            return self.test_file is not None
        return True

    def dataset(self, split: str) -> SeriesDataset:
        if not self.has_split(split):
            arg = "val_fraction" if split == "validate" else "test_file"
            raise ValueError(f"no {split!r} split: set data.init_args.{arg}")
        if split in ("test", "predict"):
            data = self._read_test()
            indices = list(range(len(data.series)))
        else:
            data, indices = self._parts[split]
        stem = Path(data.path).stem
        return SeriesDataset(
            [data.series[i] for i in indices],
            [self.labels.index(data.labels[i]) for i in indices],
            [f"{stem}:{data.lines[i]}" for i in indices],
        )

    def _read_test(self) -> TSData:
        test = read_ts(self.test_file)
        if set(test.classes) != set(self.labels):
            raise TSFormatError(f"{test.path}: @classLabel {test.classes} differs from the training file's {self.labels}")
        if test.num_channels != self.input_size:
            raise TSFormatError(f"{test.path}: {test.num_channels} channels, the training file has {self.input_size}")
        return test
