"""Character-level language model: token embedding -> unidirectional recurrent encoder -> next-character scores.

The model reads a text window by window (:mod:`seqkit.data.text_windows`).  With
``carry_state`` the hidden state at the end of one window starts the next window of the same
stream, detached from the graph (truncated backpropagation through time), so the model sees
context beyond a window while gradients stay ``window`` steps long.

Losses are in nats per character; ``val_bpc`` is bits per character (nats / ln 2).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.aggregation import MeanMetric

from seqkit.data.text_windows import IGNORE_INDEX
from seqkit.data.vocabulary import CharVocabulary
from seqkit.encoders.rnn import EncoderState, RNNEncoder, detach_state
from seqkit.tasks.base import SeqkitTask, bind_input_size
from seqkit.tasks.optim import Decay


def next_char_losses(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy of each character, 0 where the target is IGNORE_INDEX.  (B, T, V), (B, T) -> (B * T,)"""
    # fp32 log-softmax: bf16 scores would round the loss.
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none", ignore_index=IGNORE_INDEX)


def sample_next(logits: Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> int:
    """One id drawn from scores ``logits`` (V,): softmax(logits / temperature) over the ``top_k`` best.

    Temperature 0 takes the best score (greedy).  Other ids than the top k are never drawn.
    """
    logits = logits.float()
    if top_k is not None and top_k < logits.numel():
        best = torch.topk(logits, top_k)
        logits = torch.full_like(logits, float("-inf")).scatter(0, best.indices, best.values)
    if temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


class CharLanguageModel(SeqkitTask):
    def __init__(
        self,
        tokenizer: dict,
        features: nn.Module,
        encoder: Callable[[int], RNNEncoder],
        dropout: float = 0.0,
        carry_state: bool = True,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 100,
        lr_decay: Decay = "cosine",
        input_size: int = 0,
        max_skipped_steps: int = 10,
    ) -> None:
        """``tokenizer``, ``carry_state`` and ``input_size`` (the vocabulary size) come from
        the data module (linked, not typed).

        ``features``: a :class:`~seqkit.features.embedding.TokenEmbedding`.  ``dropout``: on the encoder output (the encoder's own ``dropout`` acts
        between its layers, the embedding's on its vectors).
        """
        super().__init__(optimizer, warmup_steps, lr_decay, max_skipped_steps)
        self.save_hyperparameters()
        self.vocabulary = CharVocabulary.from_state(tokenizer)
        bind_input_size(features, input_size or self.vocabulary.vocab_size)
        self.features = features
        self.encoder = encoder(features.output_size)
        if self.encoder.bidirectional:
            raise ValueError(
                "a bidirectional encoder sees the future and cannot be a language model: its backward "
                "direction reads the text from the end, so at each character it has already read the next "
                "one, the very character to predict (the loss falls towards 0 and nothing is learnt).  Set "
                "model.init_args.encoder.init_args.bidirectional: false"
            )
        if self.encoder.subsampling != 1:
            raise ValueError("a language model predicts every character: the encoder's stack_frames must be 1")
        self.dropout = nn.Dropout(dropout)
        # Scores for every character of the vocabulary (no reserved ids).
        self.output = nn.Linear(self.encoder.output_size, self.vocabulary.vocab_size)
        self.carry_state = carry_state
        self._states: dict[str, EncoderState] = {}  # per stage: validation mid-epoch keeps the training state
        # Summed loss and character count, reduced across DDP ranks: the exact mean per character.
        self.nll = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})

    # ---- model ----------------------------------------------------------------------
    def forward(self, inputs: Tensor, state: EncoderState | None = None) -> tuple[Tensor, EncoderState]:
        # inputs: (B, T) character ids -> next-character scores (B, T, V), state after the last character
        batch, time = inputs.shape
        # Every row is a full window: past the end of the text the inputs are ids whose targets are ignored.
        lengths = torch.full((batch,), time, dtype=torch.long, device=inputs.device)
        x, _ = self.features(inputs, lengths)  # (B, T, E)
        encoded, _, state = self.encoder(x, lengths, state=state, return_state=True)  # (B, T, H)
        return self.output(self.dropout(encoded)), state

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        data_carry = getattr(datamodule, "carry_state", None)
        if data_carry is not None and data_carry != self.carry_state:
            raise ValueError(
                f"model carry_state={self.carry_state} but data carry_state={data_carry}: a carried state needs "
                "windows in stream order, and shuffled windows must not inherit a state; set both the same"
            )

    # ---- steps ------------------------------------------------------------------------
    def _run(self, batch: dict, stage: str) -> tuple[Tensor, Tensor]:
        """Per-character losses (B * T,) and the mask of real targets (B * T,)."""
        inputs, targets = batch["inputs"], batch["targets"]  # (B, T), (B, T)
        logits, state = self(inputs, self._states.get(stage) if self.carry_state else None)
        if self.carry_state:
            self._states[stage] = detach_state(state)  # no gradient into the previous window
        return next_char_losses(logits, targets), targets.flatten() != IGNORE_INDEX

    def train_loss(self, batch: dict) -> Tensor:
        losses, valid = self._run(batch, "train")
        loss = losses.sum() / valid.sum().clamp_min(1)
        self.log("train_loss", loss, prog_bar=True, batch_size=batch["inputs"].shape[0])
        return loss

    def batch_amounts(self, batch: dict) -> dict[str, float | Tensor]:
        return {"examples": float(batch["inputs"].shape[0]), "characters": (batch["targets"] != IGNORE_INDEX).sum()}

    def on_step_skipped(self) -> None:
        self._states.pop("train", None)  # a state from a diverged window would poison the next

    def _evaluate(self, batch: dict, stage: str) -> None:
        losses, valid = self._run(batch, stage)
        self.nll[stage].update(losses, valid.to(losses.dtype))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _log_nll(self, stage: str) -> None:
        nll = self.nll[stage].compute()  # synced: sum over ranks of losses / sum of counts
        self.log(f"{stage}_loss", nll, prog_bar=True)
        self.log(f"{stage}_bpc", nll / math.log(2))
        self.nll[stage].reset()

    # A state starts from zeros at the start of each pass over a split.
    def on_train_epoch_start(self) -> None:
        self._states.pop("train", None)

    def on_validation_epoch_start(self) -> None:
        self._states.pop("val", None)

    def on_validation_epoch_end(self) -> None:
        self._log_nll("val")

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._states.pop("test", None)

    def on_test_epoch_end(self) -> None:
        self._log_nll("test")

    def configure_callbacks(self) -> list:
        return self.checkpoint_callbacks(has_validation=True, monitor="val_loss", mode="min")

    # ---- sampling ---------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None, seed: int | None = None
    ) -> str:
        """``length`` characters sampled one at a time after ``prompt`` (which is not repeated).

        ``temperature`` < 1 sharpens the distribution, 0 is greedy; ``top_k`` draws only among
        the k likeliest characters.  The same ``seed`` on the same device gives the same text.
        """
        if not prompt:
            raise ValueError("the prompt must have at least one character")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        ids = self.vocabulary.encode(prompt, where="prompt").to(self.device)
        generator = torch.Generator(device=self.device)
        if seed is None:
            generator.seed()  # non-deterministic
        else:
            generator.manual_seed(seed)
        was_training = self.training
        self.eval()
        try:
            logits, state = self(ids.unsqueeze(0))  # (1, P, V): the whole prompt in one call
            sampled: list[int] = []
            for _ in range(length):
                sampled.append(sample_next(logits[0, -1], temperature, top_k, generator))
                if len(sampled) < length:
                    logits, state = self(torch.tensor([[sampled[-1]]], device=self.device), state)  # (1, 1, V)
        finally:
            self.train(was_training)
        return self.vocabulary.decode(sampled)
