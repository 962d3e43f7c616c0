"""Minimal ARPA back-off reader for tests, independent of ``seqkit.decoding.ngram``'s writer."""

from __future__ import annotations

from pathlib import Path


class ArpaReader:
    """Minimal ARPA back-off reader, independent of the writer, for checking the files."""

    def __init__(self, path: Path) -> None:
        self.probs: dict[tuple[str, ...], float] = {}
        self.backoffs: dict[tuple[str, ...], float] = {}
        self.counts: dict[int, int] = {}
        order = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line in ("\\data\\", "\\end\\"):
                continue
            if line.startswith("ngram "):
                n, count = line[len("ngram ") :].split("=")
                self.counts[int(n)] = int(count)
            elif line.endswith("-grams:"):
                order = int(line[1:].split("-")[0])
            else:
                fields = line.split("\t")
                gram = tuple(fields[1].split())
                assert len(gram) == order
                self.probs[gram] = float(fields[0])
                if len(fields) == 3:
                    self.backoffs[gram] = float(fields[2])
        self.order = max(self.counts)
        self.vocab = [g[0] for g in self.probs if len(g) == 1 and g[0] != "<s>"]

    def log10_prob(self, word: str, history: tuple[str, ...]) -> float:
        history = history[max(0, len(history) - (self.order - 1)) :] if self.order > 1 else ()
        if history + (word,) in self.probs:
            return self.probs[history + (word,)]
        if not history:
            return self.probs[("<unk>",)]
        return self.backoffs.get(history, 0.0) + self.log10_prob(word, history[1:])

    def total(self, history: tuple[str, ...]) -> float:
        """Sum of P(w | history) over every predictable word (vocab, </s>, <unk>)."""
        return sum(10 ** self.log10_prob(w, history) for w in self.vocab)
