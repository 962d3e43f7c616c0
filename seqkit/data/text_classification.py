"""Labelled sentences, one a line (``label<space>sentence``), as word-id sequences.

``TextClassificationDataModule`` reads a training file and optional validation/test files
(the SST-2 layout), or one file split by ``folds``-fold cross-validation (MR, which has no
fixed split): with ``folds=10, fold=k`` the k-th tenth of the lines, taken in a seeded
stratified order, is the test set and the rest trains.  ``val_fraction`` holds a stratified
fraction of the training part out for validation.  Labels are the distinct label strings
of the training lines, in sorted order; the word vocabulary is fitted on the training part
only and linked into the model (``vocabulary``), so the checkpoint carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqkit.data.paths import expand_data_path
from seqkit.data.sequences import SequenceDataModule, SequenceDataset, stratified_holdout
from seqkit.data.word_vocabulary import WordVocabulary


class TextFormatError(ValueError):
    """A line that is not ``label sentence``; the message names the file and line."""


@dataclass
class Sentence:
    label: str
    text: str
    where: str  # "file:line"


def read_labelled_sentences(path: str | Path, encoding: str = "utf-8") -> list[Sentence]:
    """Every non-blank line of ``path`` as a :class:`Sentence`; a line without words is an error."""
    path = Path(path)
    if not path.is_file():
        raise TextFormatError(f"{path}: file not found")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise TextFormatError(
            f"{path}:{line}: not {encoding} text ({err.reason} at byte {err.start}); set data.init_args.encoding "
            "(MR's mr.all is latin-1)"
        ) from None
    sentences = []
    # Only newlines end a line: str.splitlines would also split at characters such as U+0085.
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        label, _, sentence = raw.strip().partition(" ")
        if not sentence.strip():
            raise TextFormatError(f"{path}:{number}: expected 'label sentence', got {raw.strip()[:60]!r}")
        sentences.append(Sentence(label, sentence.strip(), f"{path}:{number}"))
    if not sentences:
        raise TextFormatError(f"{path}: no sentences")
    return sentences


def cross_validation_folds(labels: list[str], folds: int, seed: int) -> list[list[int]]:
    """``folds`` disjoint, stratified index sets that together hold every index once."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    position = 0
    for label in sorted(set(labels)):
        for index in rng.permutation([i for i, x in enumerate(labels) if x == label]):
            parts[position % folds].append(int(index))
            position += 1
    return [sorted(p) for p in parts]


class TokenDataset(SequenceDataset):
    def __init__(self, sentences: list[Sentence], vocabulary: WordVocabulary, labels: list[str]) -> None:
        self.items = []
        for sentence in sentences:
            if sentence.label not in labels:
                raise TextFormatError(f"{sentence.where}: label {sentence.label!r} is not among the training labels {labels}")
            self.items.append({"id": sentence.where, "inputs": vocabulary.encode(sentence.text), "label": labels.index(sentence.label)})
        self.lengths = [len(item["inputs"]) for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class TextClassificationDataModule(SequenceDataModule):
    def __init__(
        self,
        train_file: str,
        val_file: str | None = None,
        test_file: str | None = None,
        predict_file: str | None = None,
        folds: int = 0,
        fold: int = 0,
        val_fraction: float = 0.0,
        min_count: int = 1,
        max_vocab: int | None = None,
        encoding: str = "utf-8",
        batch_size: int = 32,
        num_buckets: int = 10,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_buckets, num_workers, seed)
        if folds and test_file:
            raise ValueError("give either test_file or folds (cross-validation tests on a fold of train_file)")
        if folds and not 0 <= fold < folds:
            raise ValueError(f"fold must be in [0, {folds}), got {fold}")
        if val_file and val_fraction:
            raise ValueError("give either val_file or val_fraction")
        sentences = read_labelled_sentences(expand_data_path(train_file), encoding)
        splits: dict[str, list[Sentence]] = {}
        if folds:
            held = set(cross_validation_folds([s.label for s in sentences], folds, seed)[fold])
            splits["test"] = splits["predict"] = [s for i, s in enumerate(sentences) if i in held]
            sentences = [s for i, s in enumerate(sentences) if i not in held]
        kept, held_out = stratified_holdout([s.label for s in sentences], val_fraction, seed)
        splits["fit"] = [sentences[i] for i in kept]
        if val_fraction:
            splits["validate"] = [sentences[i] for i in held_out]
        for split, name in (("validate", val_file), ("test", test_file), ("predict", predict_file or test_file)):
            if name:
                splits[split] = read_labelled_sentences(expand_data_path(name), encoding)
        self._splits = splits
        self.labels = sorted({s.label for s in splits["fit"]})
        self.word_vocabulary = WordVocabulary.fit([s.text for s in splits["fit"]], min_count, max_vocab)
        self.input_size = self.word_vocabulary.vocab_size

    @property
    def vocabulary_state(self) -> dict:
        """``{"words": [...]}``, index = id: linked into the model (pretrained vectors, and the
        checkpoint).  A dict, not a list: jsonargparse checks a ``list[str]`` argument in
        quadratic time (32 s for 8,000 words), a ``dict`` at once."""
        return {"words": list(self.word_vocabulary.tokens)}

    def has_split(self, split: str) -> bool:
        return split in self._splits

    def dataset(self, split: str) -> TokenDataset:
        if split not in self._splits:
            raise ValueError(f"no {split!r} split: set data.init_args.{'val_file or val_fraction' if split == 'validate' else 'test_file or folds'}")
        return TokenDataset(self._splits[split], self.word_vocabulary, self.labels)
