"""Character n-gram tables (fastText-style subword vectors) and TokenEmbedding(char_ngrams=...)."""

from __future__ import annotations

import pytest
import torch

from seqkit.features.embedding import TokenEmbedding
from seqkit.features.subword import char_ngrams, shared_ngram_table

WORDS = ["<pad>", "<unk>", "watch", "watching", "unwatchable", "zzz"]


def test_ngrams_of_the_wrapped_word() -> None:
    assert char_ngrams("fun", [3]) == ["<fu", "fun", "un>"]
    assert char_ngrams("fun", [3, 4]) == ["<fu", "fun", "un>", "<fun", "fun>"]
    assert char_ngrams("aaaa", [2]) == ["<a", "aa", "a>"]  # distinct only
    assert char_ngrams("a", [4]) == []  # "<a>" is shorter than 4


def test_only_ngrams_shared_by_two_words_are_kept() -> None:
    table, counts, size = shared_ngram_table(WORDS, [3], skip={"<pad>", "<unk>"})
    # watch / watching / unwatchable share "wat", "atc", "tch"; "<wa" is in watch and watching.
    names = {}
    for row, word in enumerate(WORDS):
        grams = [g for g in char_ngrams(word, [3]) if sum(g in char_ngrams(w, [3]) for w in WORDS[2:]) >= 2]
        names[word] = grams if word not in ("<pad>", "<unk>") else []
        assert counts[row] == len(names[word])
        assert torch.all(table[row, counts[row]:] == 0) and torch.all(table[row, : counts[row]] > 0)
    assert names["watch"] == ["<wa", "wat", "atc", "tch"] and names["zzz"] == []
    assert set(names["unwatchable"]) == {"wat", "atc", "tch"}
    assert size == 1 + len({g for grams in names.values() for g in grams})
    # The same n-gram has the same id in every word.
    assert table[2, 1] == table[3, 1] == table[4, 0]  # "wat"
    with pytest.raises(ValueError, match="positive"):
        shared_ngram_table(WORDS, [0])


def test_word_vector_is_the_mean_of_its_own_and_its_ngram_vectors() -> None:
    torch.manual_seed(0)
    embedding = TokenEmbedding(input_size=len(WORDS), embedding_dim=5, char_ngrams=[3])
    embedding.set_vocabulary(WORDS)
    embedding.eval()
    out, _ = embedding(torch.tensor([[2, 5, 1, 0]]), torch.tensor([3]))
    table, counts, _ = shared_ngram_table(WORDS, [3], skip={"<pad>", "<unk>"})
    grams = embedding.ngram_embedding.weight[table[2, : counts[2]]]  # (4, 5)
    expected = (embedding.embedding.weight[2] + grams.sum(0)) / (1 + counts[2])
    assert torch.allclose(out[0, 0], expected, atol=1e-6)
    assert torch.allclose(out[0, 1], embedding.embedding.weight[5])  # no shared n-grams: its own vector
    assert torch.allclose(out[0, 2], embedding.embedding.weight[1]) and torch.all(out[0, 3] == 0)
    # Words that share n-grams share gradients through them.
    out.sum().backward()
    assert embedding.ngram_embedding.weight.grad[table[2, 1]].abs().sum() > 0


def test_ngrams_need_the_vocabulary() -> None:
    embedding = TokenEmbedding(input_size=len(WORDS), embedding_dim=5, char_ngrams=[3])
    with pytest.raises(RuntimeError, match="needs the vocabulary"):
        embedding(torch.tensor([[2]]), torch.tensor([1]))
    with pytest.raises(ValueError, match="6 rows"):
        embedding.set_vocabulary(WORDS[:4])
