"""TokenEmbedding: padding zeroed, pretrained vectors loaded with coverage, freezing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.features.embedding import TokenEmbedding

VOCABULARY = ["<pad>", "<unk>", "film", "Good", "bad", "plot"]


def _vectors(tmp_path: Path, lines: list[str], header: str | None = None) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(([header] if header else []) + lines) + "\n")
    return path


def test_padded_steps_are_zero() -> None:
    embedding = TokenEmbedding(input_size=6, embedding_dim=4)
    out, lengths = embedding(torch.tensor([[2, 3, 4], [5, 0, 0]]), torch.tensor([3, 1]))
    assert out.shape == (2, 3, 4) and torch.all(out[1, 1:] == 0) and out[1, 0].abs().sum() > 0


def test_word_dropout_zeroes_whole_tokens_in_training_only() -> None:
    torch.manual_seed(0)
    embedding = TokenEmbedding(input_size=6, embedding_dim=8, word_dropout=0.5)
    ids, lengths = torch.randint(2, 6, (4, 200)), torch.full((4,), 200)
    out, _ = embedding(ids, lengths)
    zeroed = (out == 0).all(-1)  # (B, T): a token is either dropped whole or kept whole
    assert torch.equal((out == 0).any(-1), zeroed)
    assert 0.4 < zeroed.float().mean() < 0.6
    embedding.eval()
    assert not (embedding(ids, lengths)[0] == 0).all(-1).any()
    with pytest.raises(ValueError, match="word_dropout"):
        TokenEmbedding(input_size=6, word_dropout=1.0)


@pytest.mark.parametrize("header", [None, "4 3"])  # GloVe, and word2vec text with its header line
def test_pretrained_vectors_are_copied_and_coverage_reported(tmp_path: Path, header: str | None) -> None:
    path = _vectors(tmp_path, ["film 1 2 3", "good 4 5 6", "unused 7 8 9", "plot 0.5 0.5 0.5"], header)
    embedding = TokenEmbedding(input_size=len(VOCABULARY), embedding_dim=3, pretrained=str(path))
    before = embedding.embedding.weight.detach().clone()
    report = embedding.load_pretrained(VOCABULARY)
    weight = embedding.embedding.weight.detach()
    assert weight[2].tolist() == [1, 2, 3] and weight[5].tolist() == [0.5, 0.5, 0.5]
    assert weight[3].tolist() == [4, 5, 6]  # "Good" found lower-cased
    assert torch.equal(weight[4], before[4]) and torch.equal(weight[:2], before[:2])  # not in the file: untouched
    assert report["words"] == 4 and report["found"] == 3 and report["coverage"] == 0.75


def test_a_vector_of_the_wrong_size_names_its_line(tmp_path: Path) -> None:
    path = _vectors(tmp_path, ["film 1 2 3", "bad 1 2"])
    embedding = TokenEmbedding(input_size=len(VOCABULARY), embedding_dim=3, pretrained=str(path))
    with pytest.raises(ValueError, match=r"vectors\.txt:2: 2 values for 'bad'"):
        embedding.load_pretrained(VOCABULARY)


def test_freeze_keeps_the_vectors_fixed() -> None:
    assert not TokenEmbedding(input_size=6, embedding_dim=3, freeze=True).embedding.weight.requires_grad
    assert TokenEmbedding(input_size=6, embedding_dim=3).embedding.weight.requires_grad
