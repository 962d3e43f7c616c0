"""ROVER (Fiscus, 1997): combine several transcripts of one recording word by word.

The transcripts are aligned into a word transition network: a sequence of *slots*, each
holding every member's word there, or nothing (``None``) where a member has none.  Each
transcript after the first is aligned to the network built so far by dynamic programming
(matching a word any member already has in a slot is free); then every slot keeps its most
frequent entry, and the kept words are the output.  Unlike keeping one whole transcript
(:func:`seqkit.inference.ensemble.closest_to_the_others`), it can mend each member's errors
with the others' words, so the result may be a transcript no member wrote.

Without confidence scores every member's vote counts alike.  A tie goes to the entry of the
earliest member among those tied, so two members give the first one's transcript.  The
first transcript aligned (the network's skeleton) is the one closest to the others, since
the order of alignment matters to ROVER.
"""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

# sclite's alignment weights, as ROVER uses them.
INSERTION, DELETION, SUBSTITUTION = 3, 3, 4

Slot = dict[int, "str | None"]  # member index -> its word here, or None


def _align(slots: list[Slot], words: list[str]) -> list[tuple[int | None, int | None]]:
    """Least-cost alignment of ``words`` to ``slots``: pairs (slot index or None, word index or None)."""
    n, m = len(slots), len(words)
    present = [set(slot.values()) for slot in slots]
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    skip = [0 if None in slot.values() else DELETION for slot in slots]  # a slot some member already lacks
    for i in range(1, n + 1):
        cost[i][0] = cost[i - 1][0] + skip[i - 1]
    for j in range(1, m + 1):
        cost[0][j] = cost[0][j - 1] + INSERTION
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            match = 0 if words[j - 1] in present[i - 1] else SUBSTITUTION
            cost[i][j] = min(cost[i - 1][j - 1] + match, cost[i - 1][j] + skip[i - 1], cost[i][j - 1] + INSERTION)
    pairs = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (0 if words[j - 1] in present[i - 1] else SUBSTITUTION):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + skip[i - 1]:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def word_network(hypotheses: list[str], order: list[int]) -> list[Slot]:
    """The slots of ``hypotheses`` aligned in ``order`` (member indices)."""
    slots: list[Slot] = []
    seen: list[int] = []
    for member in order:
        words = hypotheses[member].split()
        merged: list[Slot] = []
        for slot_index, word_index in _align(slots, words):
            if slot_index is None:  # a word no earlier member has here: a new slot
                slot = {earlier: None for earlier in seen}
            else:
                slot = slots[slot_index]
            slot[member] = None if word_index is None else words[word_index]
            merged.append(slot)
        slots = merged
        seen.append(member)
    return slots


def vote(slot: Slot) -> str | None:
    """The most frequent entry of a slot; a tie goes to the earliest member's."""
    counts: dict[str | None, int] = {}
    for entry in slot.values():
        counts[entry] = counts.get(entry, 0) + 1
    best = max(counts.values())
    return next(slot[member] for member in sorted(slot) if counts[slot[member]] == best)


def rover(hypotheses: list[str]) -> str:
    """One transcript from several by word-level voting (see the module's docstring)."""
    words = [h.split() for h in hypotheses]
    costs = [sum(Levenshtein.distance(a, b) for b in words) for a in words]
    skeleton = costs.index(min(costs))
    order = [skeleton] + [member for member in range(len(hypotheses)) if member != skeleton]
    kept = (vote(slot) for slot in word_network(hypotheses, order))
    return " ".join(word for word in kept if word is not None)
