"""Character language-model data: one text file, split in order, cut into windows of parallel streams.

Layout (the classic "batchify" for truncated BPTT): a split's text is cut into
S = batch_size x world_size contiguous streams, each rank taking ``batch_size`` of them,
and every stream into windows of ``window`` characters.  Batch k holds window k of each of
the rank's streams, so row b of batch k+1 continues row b of batch k and a hidden state
carried from batch to batch reads the text in order.  With ``carry_state`` off the same
windows are shuffled across batches every epoch.

A batch is a plain dict of tensors::

    inputs (B, T) int64 character ids, targets (B, T) int64 the next character's id,
    IGNORE_INDEX past the end of the text (evaluation splits only)
"""

from __future__ import annotations

import lightning as L
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from seqkit.data.paths import expand_data_path
from seqkit.data.vocabulary import CharVocabulary

IGNORE_INDEX = -100  # cross_entropy's default ignore_index


def read_text(path: str) -> str:
    # newline="": keep the file's characters exactly (a "\r" is a character to predict).
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def stream_layout(ids: Tensor, streams: int, window: int, pad: bool) -> tuple[Tensor, Tensor]:
    """Inputs and next-character targets of ``ids`` (N,) as ``streams`` rows, each (streams, L).

    ``pad=False`` (training): L is a whole number of windows; the end of the text that does
    not fill one more window in every stream (< streams x window characters) is dropped.
    ``pad=True`` (evaluation): every character but the first is a target exactly once; the
    last stream is padded with IGNORE_INDEX targets.
    """
    inputs, targets = ids[:-1], ids[1:]
    count = inputs.numel()
    if pad:
        length = -(-count // streams)
        extra = streams * length - count
        inputs = F.pad(inputs, (0, extra))  # any id: its target is ignored
        targets = F.pad(targets, (0, extra), value=IGNORE_INDEX)
    else:
        length = count // streams // window * window
        inputs, targets = inputs[: streams * length], targets[: streams * length]
    return inputs.view(streams, length), targets.view(streams, length)


class StreamWindows(Dataset):
    """Window k of stream s is item ``k * S + s``: read in order, batches of S items are the stream layout.

    inputs, targets: (S, L).  Windows are ``window`` long; only the last may be shorter
    (evaluation, L not a multiple), and a batch read in order never mixes lengths.
    """

    def __init__(self, inputs: Tensor, targets: Tensor, window: int) -> None:
        self.inputs, self.targets, self.window = inputs, targets, window
        self.streams, length = inputs.shape
        self.windows_per_stream = -(-length // window)

    def __len__(self) -> int:
        return self.streams * self.windows_per_stream

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        k, s = divmod(index, self.streams)
        span = slice(k * self.window, (k + 1) * self.window)
        return {"inputs": self.inputs[s, span], "targets": self.targets[s, span]}  # (T,), (T,)


class CharLMDataModule(L.LightningDataModule):
    """One plain-text file: the first ``1 - val_fraction`` trains, the rest validates (as nanoGPT's shakespeare_char).

    The vocabulary is every character of the training part.  ``batch_size`` is per rank
    (streams per rank).  ``test_file`` (optional) is a separate held-out text for ``seqkit test``.
    """

    def __init__(
        self,
        train_file: str,
        val_fraction: float = 0.1,
        test_file: str | None = None,
        window: int = 256,
        batch_size: int = 64,
        carry_state: bool = True,
    ) -> None:
        super().__init__()
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
        if window < 1 or batch_size < 1:
            raise ValueError("window and batch_size must be at least 1")
        self.train_file = expand_data_path(train_file)
        self.test_file = expand_data_path(test_file) if test_file else None
        self.window = window
        self.batch_size = batch_size
        self.carry_state = carry_state
        text = read_text(self.train_file)
        cut = int(len(text) * (1 - val_fraction))
        if cut < 2 or len(text) - cut < 2:
            raise ValueError(f"{self.train_file}: {len(text)} characters are too few to split {1 - val_fraction:.0%}/{val_fraction:.0%}")
        self.vocabulary = CharVocabulary.fit(text[:cut])
        self._ids = {
            "fit": self.vocabulary.encode(text[:cut], where=self.train_file),
            "validate": self.vocabulary.encode(text[cut:], where=f"the validation part of {self.train_file} (from character {cut})"),
        }

    @property
    def tokenizer_state(self) -> dict:
        """Plain-data vocabulary, linked into the model so the checkpoint carries it."""
        return self.vocabulary.state()

    @property
    def input_size(self) -> int:
        """Vocabulary size, linked into the model's token embedding."""
        return self.vocabulary.vocab_size

    def _ranks(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def windows(self, split: str) -> StreamWindows:
        """This rank's windows of ``split`` ("fit", "validate" or "test")."""
        if split == "test" and "test" not in self._ids:
            if self.test_file is None:
                raise ValueError("no test_file given; set data.init_args.test_file, or run `seqkit validate`")
            self._ids["test"] = self.vocabulary.encode(read_text(self.test_file), where=self.test_file)
        world, rank = self._ranks()
        streams = self.batch_size * world
        inputs, targets = stream_layout(self._ids[split], streams, self.window, pad=split != "fit")
        if inputs.shape[1] == 0:
            raise ValueError(
                f"the {split} text ({self._ids[split].numel()} characters) is too short for {streams} streams "
                f"of at least one {self.window}-character window; lower data.batch_size or data.window"
            )
        mine = slice(rank * self.batch_size, (rank + 1) * self.batch_size)
        return StreamWindows(inputs[mine], targets[mine], self.window)

    def _loader(self, split: str) -> DataLoader:
        # Batches are tensor slices: worker processes would cost more than they save.
        shuffle = split == "fit" and not self.carry_state
        return DataLoader(self.windows(split), batch_size=self.batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("fit")

    def val_dataloader(self) -> DataLoader:
        return self._loader("validate")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
