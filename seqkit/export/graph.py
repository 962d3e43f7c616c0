"""The inference path of a trained task as one traceable module: ``(inputs, lengths) -> outputs``.

* Speech-to-text: waveforms (B, S) float32 and sample counts (B,) int64 -> CTC log-probs
  (B, T', V) and output frame counts (B,).
* Sequence classification: inputs (B, T, ...) and step counts (B,) -> logits (B, C).

The features enter the graph when they can be traced (log-mel and MFCC of the torchaudio
backend through :mod:`seqkit.export.features`, token embeddings, precomputed frames);
otherwise the graph starts at the encoder and the caller computes the features with the
PyTorch module.  :attr:`ExportGraph.description` says which.  SpecAugment is left out (it
does nothing in evaluation).  The encoder needs no export-only path for padding: it never
packs, and runs the backward direction on each sequence reversed within its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqkit.encoders.subsampling import FrameStacking
from seqkit.export.features import ExportableSpectral
from seqkit.features.cmvn import normalizes_by_speaker
from seqkit.features.embedding import TokenEmbedding
from seqkit.features.frames import PrecomputedFeatures
from seqkit.features.spectral import SpectralFeatures
from seqkit.features.video import FrameCNN, FrameDifference

# Features traced as they are: no data-dependent Python control flow in their forward
# (FrameCNN has a tracing path of its own).
TRACEABLE_FEATURES = (PrecomputedFeatures, TokenEmbedding, FrameCNN, FrameDifference)


class NotExportableError(ValueError):
    """The checkpoint's task has no exportable inference path."""


@dataclass
class GraphSpec:
    """What the exported graph computes, for the command's output and the sidecar JSON."""

    task: str
    inputs: dict[str, str]  # name -> shape and dtype
    outputs: dict[str, str]
    inside: list[str]  # parts inside the graph, in order
    caller: str  # what the caller computes before the graph ("" when nothing)


def _features_for_export(features: nn.Module) -> nn.Module | None:
    if isinstance(features, SpectralFeatures):
        try:
            return ExportableSpectral(features)
        except (TypeError, ValueError):
            return None
    return features if isinstance(features, TRACEABLE_FEATURES) else None


class ExportGraph(nn.Module):
    def __init__(self, task: nn.Module) -> None:
        super().__init__()
        name = type(task).__name__
        if name not in ("SpeechToText", "SequenceClassifier"):
            raise NotExportableError(f"{name} cannot be exported: only SpeechToText and SequenceClassifier tasks can")
        if normalizes_by_speaker(task.normalizer):
            raise NotExportableError(f"{type(task.normalizer).__name__} cannot be exported: its statistics are "
                                     "computed per speaker from the data of each run, not kept in the checkpoint")
        self.is_ctc = name == "SpeechToText"
        self.features = _features_for_export(task.features)
        self.takes_frames = isinstance(self.features, (FrameCNN, FrameDifference))
        self.normalizer = task.normalizer
        self.encoder = task.encoder
        self.head = task.head
        self.eval()
        feature_name = type(task.features).__name__
        inside = ([feature_name] if self.features is not None else []) + (
            [type(self.normalizer).__name__] if self.normalizer is not None else []
        ) + [f"RNNEncoder({self._encoder_summary()})", type(self.head).__name__]
        if self.features is None:
            caller = f"{feature_name} features (B, T, {task.features.output_size}) float32 and their lengths, with the PyTorch module"
            inputs = {"inputs": f"(batch, time, {task.features.output_size}) float32", "lengths": "(batch,) int64"}
        elif self.is_ctc:
            caller = ""
            inputs = {"inputs": f"(batch, samples) float32 waveform at {task.features.sample_rate} Hz", "lengths": "(batch,) int64 samples"}
        else:
            caller = ""
            if isinstance(self.features, TokenEmbedding):
                shape = "(batch, time) int64 token ids"
            elif self.takes_frames:  # height and width are those of the traced frames
                shape = f"(batch, time, {self.features.input_size}, height, width) float32 frames in [0, 1], height and width as traced"
            else:
                shape = f"(batch, time, {self.features.input_size}) float32"
            inputs = {"inputs": shape, "lengths": "(batch,) int64"}
        if self.is_ctc:
            outputs = {"outputs": f"(batch, frames, {task.head.proj.out_features}) float32 CTC log-probs (blank = 0)",
                       "output_lengths": "(batch,) int64 valid frames"}
        else:
            outputs = {"outputs": f"(batch, {task.head.proj.out_features}) float32 class logits"}
        self.spec = GraphSpec(name, inputs, outputs, inside, caller)

    def _encoder_summary(self) -> str:
        layer = self.encoder.layers[0].forward_rnn
        cell = type(layer).__name__
        direction = "bidirectional" if self.encoder.bidirectional else "unidirectional"
        subsampler = "stacking" if isinstance(self.encoder.subsampler, FrameStacking) else "convolutional subsampling"
        return f"{len(self.encoder.layers)} x {cell} {direction}, {subsampler} {self.encoder.subsampling}"

    @property
    def output_names(self) -> list[str]:
        return list(self.spec.outputs)

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor] | Tensor:
        # inputs: (B, S) waveforms, (B, T) ids or (B, T, F) frames; lengths: (B,)
        if self.features is not None:
            feats, frames = self.features(inputs, lengths)  # (B, T, F)
        else:
            feats, frames = inputs, lengths
        if self.normalizer is not None:
            feats = self.normalizer(feats, frames)
        encoded, out_lengths = self.encoder(feats, frames)  # (B, T', D)
        if self.is_ctc:
            return self.head(encoded), out_lengths  # (B, T', V), (B,)
        return self.head(encoded, out_lengths)  # (B, C)

    @torch.no_grad()
    def reference(self, task: nn.Module, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor] | Tensor:
        """What the PyTorch task itself outputs for the same graph inputs (features applied first when outside)."""
        if self.features is not None:
            return task(inputs, lengths)
        feats = inputs
        if self.normalizer is not None:
            feats = self.normalizer(feats, lengths)
        encoded, out_lengths = task.encoder(feats, lengths)
        return (task.head(encoded), out_lengths) if self.is_ctc else task.head(encoded, out_lengths)
