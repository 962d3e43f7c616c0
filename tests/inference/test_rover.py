"""ROVER: word-level voting over aligned transcripts."""

from __future__ import annotations

import random

from seqkit.inference.ensemble import closest_to_the_others
from seqkit.inference.rover import rover, word_network


def test_each_members_error_is_mended_by_the_others() -> None:
    # Every member has one error, each in another place: no member is right, the vote is.
    assert rover(["a b x", "a y c", "z b c"]) == "a b c"
    assert closest_to_the_others(["a b x", "a y c", "z b c"]) != "a b c"


def test_insertions_and_deletions_are_voted_too() -> None:
    assert rover(["the cat sat", "the cat sat on", "a cat sat on"]) == "the cat sat on"  # 2 of 3 say "on"
    assert rover(["the big cat", "the cat", "the cat"]) == "the cat"  # a minority's insertion goes
    assert rover(["", "a", ""]) == ""
    assert rover(["one", "one", "one"]) == "one"


def test_ties_go_to_the_earliest_member() -> None:
    assert rover(["a b", "a c"]) == "a b"
    assert rover(["a c", "a b"]) == "a c"
    assert rover(["x", "y", "z", "x"]) == "x"


def test_the_network_keeps_every_members_words_in_order() -> None:
    rng = random.Random(0)
    vocabulary = ["ken", "lo", "yes", "no"]
    for _ in range(200):
        hypotheses = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 5))]
        slots = word_network(hypotheses, list(range(len(hypotheses))))
        assert all(set(slot) == set(range(len(hypotheses))) for slot in slots)  # every member has an entry in every slot
        for member, hypothesis in enumerate(hypotheses):
            assert [slot[member] for slot in slots if slot[member] is not None] == hypothesis.split()
        assert not any(all(word is None for word in slot.values()) for slot in slots)  # no empty slot
        combined = rover(hypotheses).split()
        assert set(combined) <= set(vocabulary) and len(combined) <= len(slots)
        if len(set(hypotheses)) == 1:
            assert rover(hypotheses) == " ".join(hypotheses[0].split())
