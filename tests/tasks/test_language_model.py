"""CharLanguageModel: per-character loss, exact evaluation mean, detached state carry, no bidirectional LM, sampling."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from seqkit.cli import lightning_main
from seqkit.data.text_windows import IGNORE_INDEX, CharLMDataModule
from seqkit.data.vocabulary import CharVocabulary
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.embedding import TokenEmbedding
from seqkit.tasks.language_model import CharLanguageModel, next_char_losses, sample_next

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "language_model" / "tinyshakespeare_lstm.yaml"
VOCAB = CharVocabulary.fit("abcdefgh \n").state()


def make_model(cell: str = "lstm", carry_state: bool = True, bidirectional: bool = False) -> CharLanguageModel:
    torch.manual_seed(0)
    encoder = partial(RNNEncoder, cell=cell, hidden_size=12, num_layers=2, bidirectional=bidirectional, dropout=0.0)
    features = TokenEmbedding(input_size=len(VOCAB["tokens"]), embedding_dim=6)
    return CharLanguageModel(VOCAB, features, encoder, carry_state=carry_state)


def test_loss_is_the_mean_per_character_cross_entropy() -> None:
    # Hand-made scores: probabilities (1/4, 1/2, 1/4) at both steps.
    logits = torch.log(torch.tensor([[[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]]]))  # (B=1, T=2, V=3)
    targets = torch.tensor([[1, 0]])
    torch.testing.assert_close(next_char_losses(logits, targets), torch.tensor([math.log(2), math.log(4)]))
    ignored = next_char_losses(logits, torch.tensor([[1, IGNORE_INDEX]]))
    assert ignored[1] == 0

    model = make_model()
    inputs = torch.randint(0, 10, (3, 5), generator=torch.Generator().manual_seed(1))
    targets = torch.randint(0, 10, (3, 5), generator=torch.Generator().manual_seed(2))
    loss = model.training_step({"inputs": inputs, "targets": targets}, 0)
    with torch.no_grad():
        logits, _ = model(inputs)  # (3, 5, V): same weights, zero start state
    per_char = [-torch.log_softmax(logits[b, t], -1)[targets[b, t]] for b in range(3) for t in range(5)]
    torch.testing.assert_close(loss.detach(), torch.stack(per_char).mean())
    assert model.output.out_features == 10  # scores for the whole vocabulary


def test_evaluation_loss_is_summed_over_characters_not_averaged_over_batches() -> None:
    model = make_model(carry_state=False).eval()
    generator = torch.Generator().manual_seed(3)
    inputs = [torch.randint(0, 10, (2, 6), generator=generator), torch.randint(0, 10, (2, 6), generator=generator)]
    targets = [torch.randint(0, 10, (2, 6), generator=generator) for _ in range(2)]
    targets[1][:, 1:] = IGNORE_INDEX  # second batch: 2 real characters, first: 12
    with torch.no_grad():
        for x, y in zip(inputs, targets):
            model.validation_step({"inputs": x, "targets": y}, 0)
        losses = [next_char_losses(model(x)[0], y) for x, y in zip(inputs, targets)]
    expected = sum(loss.sum() for loss in losses) / 14
    torch.testing.assert_close(model.nll["val"].compute(), expected)
    batch_means = (losses[0].sum() / 12 + losses[1].sum() / 2) / 2
    assert not torch.isclose(expected, batch_means)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carried_state_continues_the_stream_but_no_gradient_crosses_windows(cell: str) -> None:
    model = make_model(cell)
    first = torch.zeros(2, 4, dtype=torch.long)  # window 1 reads only character 0 ...
    second = torch.full((2, 4), 5, dtype=torch.long)  # ... window 2 only character 5
    targets = torch.ones(2, 4, dtype=torch.long)
    model.on_train_epoch_start()
    model.training_step({"inputs": first, "targets": targets}, 0)
    carried = model._states["train"]
    assert all(t.grad_fn is None and not t.requires_grad for layer in carried for t in (layer if isinstance(layer, tuple) else (layer,)))
    model.zero_grad()
    model.training_step({"inputs": second, "targets": targets}, 1).backward()
    grad = model.features.embedding.weight.grad
    assert grad[5].abs().sum() > 0
    assert torch.all(grad[0] == 0)  # window 1's character gets nothing from window 2's loss
    with torch.no_grad():
        fresh, _ = model(second)
        continued, _ = model(second, carried)
    assert not torch.allclose(fresh, continued)  # the state did carry over
    model.on_train_epoch_start()
    assert "train" not in model._states  # each epoch starts from zeros


def test_without_carry_every_window_starts_from_zeros() -> None:
    model = make_model(carry_state=False)
    batch = {"inputs": torch.zeros(2, 4, dtype=torch.long), "targets": torch.ones(2, 4, dtype=torch.long)}
    first = model.training_step(batch, 0)
    assert model.training_step(batch, 1) == first and not model._states


def test_bidirectional_encoder_is_rejected() -> None:
    with pytest.raises(ValueError, match="bidirectional encoder sees the future"):
        make_model(bidirectional=True)


def test_bidirectional_config_is_rejected_by_the_cli(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("to be or not to be\n" * 20)
    with pytest.raises(Exception) as err:
        lightning_main([
            "fit", "--config", str(CONFIG), "--data.init_args.train_file", str(text),
            "--model.init_args.encoder.init_args.bidirectional", "true",
            "--trainer.default_root_dir", str(tmp_path / "runs"),
        ])
    assert "bidirectional encoder sees the future" in str(err.value)


def test_carry_state_must_match_the_data(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("abcdefgh \n" * 30)
    data = CharLMDataModule(str(text), window=4, batch_size=2, carry_state=False)
    trainer = L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(ValueError, match="carry_state"):
        trainer.fit(make_model(carry_state=True), datamodule=data)


def test_sampling_respects_temperature_and_top_k() -> None:
    logits = torch.tensor([0.0, 3.0, 2.9, -1.0, 1.0, 2.5])
    generator = torch.Generator().manual_seed(0)
    assert sample_next(logits, 0.0, None, generator) == 1
    assert {sample_next(logits, 1e-4, None, generator) for _ in range(50)} == {1}  # cold = argmax
    top3 = {sample_next(logits, 5.0, 3, generator) for _ in range(300)}  # hot: all of the top 3, nothing else
    assert top3 == {1, 2, 5}
    assert len({sample_next(logits, 5.0, None, generator) for _ in range(300)}) == 6


def test_generate_is_deterministic_under_a_seed_and_respects_its_options() -> None:
    model = make_model().eval()
    text = model.generate("ab", 40, temperature=1.0, seed=7)
    assert len(text) == 40 and set(text) <= set(model.vocabulary.tokens)
    assert model.generate("ab", 40, temperature=1.0, seed=7) == text
    assert model.generate("ab", 40, temperature=1.0, seed=8) != text
    greedy = model.generate("ab", 40, temperature=0.0)
    assert model.generate("ab", 40, temperature=1e-6, seed=3) == greedy
    assert model.generate("ab", 40, temperature=1.0, top_k=1, seed=3) == greedy
    assert model.generate("ab", 0) == ""
    with pytest.raises(ValueError, match=r"character 'z'"):
        model.generate("abz", 5)
