"""Tokenizers for CTC targets: characters, or SentencePiece (BPE/unigram) pieces.

A tokenizer is built empty from YAML, fitted on the training transcripts by the data
module, and travels inside the checkpoint as plain data (:meth:`state`), never pickled.
Id 0 is always the CTC blank.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from typing import Iterable

BLANK = "<blank>"
_PUNCTUATION = re.compile(r"[^\w\s']", flags=re.UNICODE)
_SPACES = re.compile(r"\s+")


class TextNormalizer:
    """Lower-casing and punctuation stripping applied before tokenizing and scoring."""

    def __init__(self, lowercase: bool = True, strip_punctuation: bool = True) -> None:
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation

    def __call__(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if self.lowercase:
            text = text.lower()
        if self.strip_punctuation:
            text = _PUNCTUATION.sub(" ", text)
        return _SPACES.sub(" ", text).strip()

    def state(self) -> dict:
        return {"lowercase": self.lowercase, "strip_punctuation": self.strip_punctuation}


class Tokenizer:
    """Common interface: ``encode``/``decode`` between text and ids; ``tokens[i]`` is id i's string."""

    kind: str
    tokens: list[str]

    def __init__(self, lowercase: bool = True, strip_punctuation: bool = True) -> None:
        self.normalize = TextNormalizer(lowercase, strip_punctuation)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def fitted(self) -> bool:
        return bool(getattr(self, "tokens", None))

    def fit(self, texts: Iterable[str]) -> "Tokenizer":
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def unknown_symbols(self, text: str) -> set[str]:
        """Characters of ``text`` (after normalisation) that this tokenizer cannot encode."""
        raise NotImplementedError

    def state(self) -> dict:
        raise NotImplementedError


class CharTokenizer(Tokenizer):
    """One token per character of the normalised training text; space separates words."""

    kind = "char"

    def __init__(self, lowercase: bool = True, strip_punctuation: bool = True) -> None:
        super().__init__(lowercase, strip_punctuation)
        self.tokens = []
        self._index: dict[str, int] = {}

    def _set_tokens(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self._index = {token: i for i, token in enumerate(tokens)}

    def fit(self, texts: Iterable[str]) -> "CharTokenizer":
        chars = set()
        for text in texts:
            chars.update(self.normalize(text))
        self._set_tokens([BLANK] + sorted(chars))
        return self

    def encode(self, text: str) -> list[int]:
        # Unknown characters are dropped here; data checks report them before training.
        return [self._index[c] for c in self.normalize(text) if c in self._index]

    def decode(self, ids: Iterable[int]) -> str:
        # A CTC output can start or end with a space, or hold two in a row: normalise them as
        # the references are, or each stray space would count as a character error.
        return " ".join("".join(self.tokens[i] for i in ids if i != self.blank_id).split())

    def unknown_symbols(self, text: str) -> set[str]:
        return {c for c in self.normalize(text) if c not in self._index}

    def state(self) -> dict:
        return {"kind": self.kind, "tokens": list(self.tokens), **self.normalize.state()}


class SentencePieceTokenizer(Tokenizer):
    """SentencePiece pieces (BPE by default) trained on the training transcripts."""

    kind = "sentencepiece"

    def __init__(
        self,
        vocab_size: int = 256,
        model_type: str = "bpe",
        lowercase: bool = True,
        strip_punctuation: bool = True,
    ) -> None:
        super().__init__(lowercase, strip_punctuation)
        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {model_type!r}")
        self.target_vocab_size = vocab_size
        self.model_type = model_type
        self.tokens = []
        self._processor = None

    def fit(self, texts: Iterable[str]) -> "SentencePieceTokenizer":
        import sentencepiece as spm

        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=(self.normalize(t) for t in texts),
            model_writer=model,
            vocab_size=self.target_vocab_size,
            model_type=self.model_type,
            # Id 0 is the CTC blank, so SentencePiece's own <unk> moves to 1; no BOS/EOS.
            unk_id=1,
            bos_id=-1,
            eos_id=-1,
            pad_id=0,
            pad_piece=BLANK,
            character_coverage=1.0,
            hard_vocab_limit=False,
            minloglevel=2,
        )
        self._load(model.getvalue())
        return self

    def _load(self, proto: bytes) -> None:
        import sentencepiece as spm

        self._proto = proto
        self._processor = spm.SentencePieceProcessor(model_proto=proto)
        self.tokens = [self._processor.id_to_piece(i) for i in range(self._processor.get_piece_size())]

    def encode(self, text: str) -> list[int]:
        return list(self._processor.encode(self.normalize(text)))

    def decode(self, ids: Iterable[int]) -> str:
        return self._processor.decode([i for i in ids if i != self.blank_id])

    def unknown_symbols(self, text: str) -> set[str]:
        unk = self._processor.unk_id()
        pieces = self._processor.encode(self.normalize(text), out_type=str)
        ids = self._processor.encode(self.normalize(text))
        return {piece for piece, i in zip(pieces, ids) if i == unk}

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "model_type": self.model_type,
            "vocab_size": self.target_vocab_size,
            "model_proto_b64": base64.b64encode(self._proto).decode("ascii"),
            **self.normalize.state(),
        }


def tokenizer_from_state(state: dict) -> Tokenizer:
    """Rebuild a fitted tokenizer from :meth:`Tokenizer.state` (plain data from a checkpoint)."""
    normalizer = {"lowercase": state["lowercase"], "strip_punctuation": state["strip_punctuation"]}
    if state["kind"] == "char":
        tokenizer = CharTokenizer(**normalizer)
        tokenizer._set_tokens(list(state["tokens"]))
        return tokenizer
    if state["kind"] == "sentencepiece":
        tokenizer = SentencePieceTokenizer(state["vocab_size"], state["model_type"], **normalizer)
        tokenizer._load(base64.b64decode(state["model_proto_b64"]))
        return tokenizer
    if state["kind"] == "phoneme":
        from seqkit.data.phonemes import PhonemeTokenizer

        return PhonemeTokenizer.from_state(state)
    raise ValueError(f"unknown tokenizer kind {state['kind']!r}")
