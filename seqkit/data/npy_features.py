"""Precomputed per-frame features stored as ``.npy`` files, one file per labelled sequence.

Layout (the class is the folder; nothing else to keep in sync)::

    ROOT/train/<class_name>/<video>.npy     required; its class folders are the class list
    ROOT/val/<class_name>/<video>.npy       optional; validation when present
    ROOT/test/<class_name>/<video>.npy      optional; ``seqkit test`` and ``predict``

Each file holds one ``(T, F)`` numeric array: T frames (any T >= 1), F features, the same
F in every file.  Class names are the folder names sorted as strings (``"10"`` sorts
before ``"2"``).  Only ``*.npy`` files directly in a class folder are read.  Shapes and
dtypes are checked from the file headers when a split is first used, and a file's values
when it is loaded; every problem raises :class:`FeatureFileError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.lib import format as npy_format

from seqkit.data.paths import expand_data_path
from seqkit.data.sequences import SequenceDataModule, SequenceDataset

SPLIT_FOLDERS = {"fit": "train", "validate": "val", "test": "test", "predict": "test"}


class FeatureFileError(ValueError):
    """A features file or folder that cannot be used; the message names it."""


def npy_shape(path: Path) -> tuple[int, ...]:
    """The array shape from the ``.npy`` header (the data is not read); numeric dtypes only."""
    try:
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
    except (ValueError, OSError) as err:
        raise FeatureFileError(f"{path}: not a readable .npy file ({err})") from None
    if dtype.kind not in "fiub":
        raise FeatureFileError(f"{path}: dtype {dtype} is not numeric")
    return shape


class NpyFeaturesDataset(SequenceDataset):
    """Loads one ``(T, F)`` file per example as float32."""

    def __init__(self, files: list[Path], labels: list[int], ids: list[str], lengths: list[int]) -> None:
        self.files = files
        self.labels = labels
        self.ids = ids
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise FeatureFileError(f"{path}: not a readable .npy file ({err})") from None
        inputs = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))  # (T, F)
        if not torch.isfinite(inputs).all():
            raise FeatureFileError(f"{path}: features contain NaN or Inf")
        return {"id": self.ids[index], "inputs": inputs, "label": self.labels[index]}


class NpyFeaturesDataModule(SequenceDataModule):
    """Batches of ``.npy`` frame features from ``ROOT`` laid out as in the module docstring.

    ``labels`` are the class folders of ``ROOT/train``; ``input_size`` is F.
    ``${SEQKIT_DATA}`` in ``root`` is expanded.
    """

    def __init__(
        self,
        root: str,
        batch_size: int = 32,
        num_buckets: int = 10,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_buckets, num_workers, seed)
        self.root = Path(expand_data_path(root))
        train = self.root / SPLIT_FOLDERS["fit"]
        if not train.is_dir():
            raise FeatureFileError(f"{train} does not exist: ROOT/train/<class_name>/<video>.npy is required")
        self.labels = sorted(p.name for p in train.iterdir() if p.is_dir())
        if not self.labels:
            raise FeatureFileError(f"{train} has no class folders")
        self.input_size = 0  # F, set by the first training file
        self._first_file: Path | None = None
        self._datasets["fit"] = self._scan("fit")

    def has_split(self, split: str) -> bool:
        return (self.root / SPLIT_FOLDERS[split]).is_dir()

    def dataset(self, split: str) -> NpyFeaturesDataset:
        if not self.has_split(split):
            raise FeatureFileError(f"no {split!r} split: {self.root / SPLIT_FOLDERS[split]} does not exist")
        return self._scan(split)

    def _scan(self, split: str) -> NpyFeaturesDataset:
        folder = self.root / SPLIT_FOLDERS[split]
        files: list[Path] = []
        labels: list[int] = []
        lengths: list[int] = []
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if class_dir.name not in self.labels:
                raise FeatureFileError(f"{class_dir}: class {class_dir.name!r} is not a class of {folder.parent / 'train'}")
            class_files = sorted(class_dir.glob("*.npy"))
            if split == "fit" and not class_files:
                raise FeatureFileError(f"{class_dir}: no .npy files for class {class_dir.name!r}")
            for path in class_files:
                lengths.append(self._check_shape(path))
                files.append(path)
                labels.append(self.labels.index(class_dir.name))
        if not files:
            raise FeatureFileError(f"{folder}: no .npy files in its class folders")
        ids = [f"{path.parent.name}/{path.stem}" for path in files]
        return NpyFeaturesDataset(files, labels, ids, lengths)

    def _check_shape(self, path: Path) -> int:
        """Check one file's header against (T >= 1, F) and return T."""
        shape = npy_shape(path)
        if len(shape) != 2:
            raise FeatureFileError(f"{path}: expected a (T, F) array of frame features, got shape {shape}")
        if shape[0] == 0 or shape[1] == 0:
            raise FeatureFileError(f"{path}: empty array of shape {shape}")
        if not self.input_size:
            self.input_size, self._first_file = shape[1], path
        elif shape[1] != self.input_size:
            raise FeatureFileError(f"{path}: {shape[1]} features per frame, but {self._first_file} has {self.input_size}")
        return shape[0]
