"""Sequence classification: features -> (normalizer, augment) -> recurrent encoder -> pooling -> softmax.

One task for every labelled-sequence recipe: video actions (frame CNN or precomputed
features), motion and keypoint series, isolated spoken words (MFCC) and text (token
embeddings).  The class names and the per-step input size come from the data module
(linked by the CLI) and are saved with the checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from seqkit.checkpoints import read_plain_checkpoint
from seqkit.encoders.pretrained import config_differences, copy_encoder_weights
from seqkit.encoders.rnn import RNNEncoder
from seqkit.features.cmvn import ChannelStandardizer
from seqkit.heads.classification import ClassificationHead
from seqkit.tasks.base import SeqkitTask, bind_input_size
from seqkit.tasks.optim import Decay
from seqkit.tasks.speaker_statistics import SpeakerStatistics

log = logging.getLogger(__name__)


class SequenceClassifier(SpeakerStatistics, SeqkitTask):
    def __init__(
        self,
        labels: list[str],
        features: nn.Module,
        encoder: Callable[[int], RNNEncoder],
        head: Callable[[int, int], ClassificationHead] = ClassificationHead,
        normalizer: nn.Module | None = None,
        augment: nn.Module | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 100,
        lr_decay: Decay = "cosine",
        input_size: int = 0,
        max_skipped_steps: int = 10,
        vocabulary: dict | None = None,
        input_stats: dict | None = None,
        encoder_init: str | None = None,
    ) -> None:
        """``labels`` (class names, index = label id) and ``input_size`` (per-step feature
        size, vocabulary size or image channels, for features that size themselves) come
        from the data module: linked by the CLI, not typed.  So does a text data module's
        ``vocabulary`` (``{"words": [...]}``, index = id): it is kept in the checkpoint, and
        features with pretrained vectors (``TokenEmbedding(pretrained=...)``) load theirs for it.
        ``input_stats`` (``{"mean": [...], "std": [...]}`` per input channel, from a series data
        module) standardizes the raw inputs before the features, so deployed models take raw data.
        ``encoder_init``: a ``seqkit fit`` checkpoint of any task (e.g. speech-to-text on many
        voices) whose encoder weights this encoder starts from when fitting; the shapes must match."""
        super().__init__(optimizer, warmup_steps, lr_decay, max_skipped_steps)
        if len(labels) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, the data has {len(labels)}: {labels}")
        self.save_hyperparameters()
        self.labels = list(labels)
        self.vocabulary = list(vocabulary["words"]) if vocabulary else None
        self.standardizer = ChannelStandardizer(input_stats["mean"], input_stats["std"]) if input_stats else None
        bind_input_size(features, input_size)
        if self.vocabulary and hasattr(features, "set_vocabulary"):
            features.set_vocabulary(self.vocabulary)  # e.g. character n-gram tables
        self.features = features
        self.normalizer = normalizer
        self.augment = augment
        self.encoder = encoder(features.output_size)
        self.head = head(self.encoder.output_size, len(self.labels))
        self.head.pool.bidirectional = self.encoder.bidirectional  # `last` pooling must know the layout
        classes = len(self.labels)
        self.metrics = nn.ModuleDict()
        for stage in ("val", "test"):
            # torchmetrics keeps summed counts, so the values are exact across DDP ranks.
            self.metrics[f"{stage}_acc"] = MulticlassAccuracy(classes, average="micro")
            self.metrics[f"{stage}_mean_class_acc"] = MulticlassAccuracy(classes, average="macro")
            if classes > 5:
                self.metrics[f"{stage}_top5_acc"] = MulticlassAccuracy(classes, top_k=5, average="micro")

    # ---- model ----------------------------------------------------------------------
    def forward(self, inputs: Tensor, lengths: Tensor, speakers: list[str] | None = None) -> Tensor:
        # inputs: (B, T, *F), lengths: (B,) -> logits (B, C) fp32; speakers: B names, for SpeakerCMVN
        feats, frames = self._features(inputs, lengths)  # (B, T', F')
        feats = self.normalize(feats, frames, speakers)
        if self.augment is not None:
            feats = self.augment(feats, frames)
        encoded, out_lengths = self.encoder(feats, frames)  # (B, T'', D)
        return self.head(encoded, out_lengths)

    def _features(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        if self.standardizer is not None:
            inputs = self.standardizer(inputs, lengths)  # (B, T, C)
        return self.features(inputs, lengths)  # (B, T', F'), (B,)

    def statistics_features(self, batch: dict) -> tuple[Tensor, Tensor]:
        return self._features(batch["inputs"].to(self.device), batch["lengths"].to(self.device))

    def on_fit_start(self) -> None:
        # After a resumed run's weights are restored (trainer.ckpt_path set): they must win.
        if self.hparams.encoder_init and self.trainer.ckpt_path is None:
            self._init_encoder(self.hparams.encoder_init)
        self.speaker_statistics_for_fit()

    # ---- steps ------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        # Before the optimizer exists; a resumed run's checkpoint then overwrites these weights.
        if stage == "fit" and self.vocabulary and hasattr(self.features, "load_pretrained"):
            coverage = self.features.load_pretrained(self.vocabulary)
            if coverage:
                print(f"pretrained vectors: {coverage['found']} of {coverage['words']} vocabulary words found "
                      f"({coverage['coverage']:.1%}) in {coverage['file']}")

    def _init_encoder(self, path: str) -> None:
        checkpoint = read_plain_checkpoint(path, "encoder checkpoint")
        count = copy_encoder_weights(self.encoder, checkpoint, path)
        ours, theirs = self.hparams.get("features"), checkpoint.get("hyper_parameters", {}).get("features")
        if isinstance(ours, dict) and isinstance(theirs, dict):  # configs, as the CLI saves them
            differences = config_differences(ours, theirs)
            if differences:  # e.g. VTLP on one side only is fine; another sample rate is not
                log.warning("features differ from those %s's encoder was trained on (ours vs theirs): %s",
                            path, "; ".join(differences))
        if self.global_rank == 0:
            print(f"encoder: {count} weight tensors from {path}")

    def train_loss(self, batch: dict) -> Tensor:
        logits = self(batch["inputs"], batch["lengths"], batch.get("speakers"))
        loss = self.head.loss(logits, batch["labels"])
        batch_size = len(batch["ids"])
        # One self.log a step: each call costs ~1 ms of host time.  Examples seen are counted
        # by the RunInfo callback (run_info.json), without a metric.
        self.log("train_loss", loss, prog_bar=True, batch_size=batch_size)
        return loss

    def _evaluate(self, batch: dict, stage: str) -> Tensor:
        logits = self(batch["inputs"], batch["lengths"], batch.get("speakers"))
        loss = self.head.loss(logits, batch["labels"])
        batch_size = len(batch["ids"])
        self.log(f"{stage}_loss", loss, batch_size=batch_size, sync_dist=True)
        for name, metric in self.metrics.items():
            if name.startswith(stage):
                metric.update(logits, batch["labels"])
                self.log(name, metric, prog_bar=name == f"{stage}_acc", batch_size=batch_size)
        return logits

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        probs = self._evaluate(batch, "test").softmax(-1).cpu()
        for row, (example_id, group) in enumerate(zip(batch["ids"], batch["groups"])):
            self._records.append(
                {"id": example_id, "group": group, "label": int(batch["labels"][row]), "probs": probs[row].tolist()}
            )

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Top-5 labels with probabilities; also written to ``predictions.jsonl`` in the run directory."""
        probs = self(batch["inputs"], batch["lengths"], batch.get("speakers")).softmax(-1).cpu()
        top = probs.topk(min(5, probs.shape[-1]), dim=-1)
        records = [
            {
                "id": example_id,
                "labels": [self.labels[i] for i in indices.tolist()],
                "probs": [round(p, 6) for p in values.tolist()],
            }
            for example_id, values, indices in zip(batch["ids"], top.values, top.indices)
        ]
        self._records.extend(records)
        return records

    # ---- reports ----------------------------------------------------------------------
    def on_test_epoch_end(self) -> None:
        records = self.gather_records()
        if self.global_rank != 0 or not records:
            return
        from seqkit.reports.accuracy import build_accuracy_report, format_summary, write_accuracy_report

        records = sorted(records, key=lambda r: r["id"])
        report = build_accuracy_report(records, self.labels)
        paths = write_accuracy_report(report, self.run_dir() or Path.cwd(), records)
        print("\n" + format_summary(report))
        print("accuracy report: " + ", ".join(str(p) for p in paths))

    def configure_callbacks(self) -> list:
        datamodule = getattr(self.trainer, "datamodule", None)
        has_validation = datamodule is None or not hasattr(datamodule, "has_split") or datamodule.has_split("validate")
        return self.checkpoint_callbacks(has_validation, monitor="val_acc", mode="max")
