"""The inference path of a trained task as one traceable module: ``(inputs, lengths) -> outputs``.

* Speech-to-text: waveforms (B, S) float32 and sample counts (B,) int64 -> CTC log-probs
  (B, T', V) and output frame counts (B,).
* Sequence classification: inputs (B, T, ...) and step counts (B,) -> logits (B, C).

The features enter the graph when they can be traced (log-mel and MFCC of the torchaudio
backend through :mod:`seqkit.export.features`, token embeddings, precomputed frames);
otherwise the graph starts at the encoder and the caller computes the features with the
PyTorch module.  :attr:`ExportGraph.spec` says which.

A model normalised by speaker (:class:`~seqkit.features.cmvn.SpeakerCMVN`) keeps no
statistics: each run computes them from its speakers' recordings.  Its graph takes the
features and each utterance's speaker mean and standard deviation (``(B, F)`` each), and
the features get a graph of their own (:class:`FeatureGraph`), so the caller can compute
them, average a speaker's valid frames, and feed both.  SpecAugment is left out (it
does nothing in evaluation).  The encoder needs no export-only path for padding: it never
packs, and runs the backward direction on each sequence reversed within its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqkit.encoders.subsampling import FrameStacking
from seqkit.export.features import ExportableSpectral
from seqkit.features.cmvn import CMVN_EPS, normalizes_by_speaker, standardize
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
        self.is_ctc = name == "SpeechToText"
        self.by_speaker = normalizes_by_speaker(task.normalizer)
        # Speaker statistics are computed from the features, so those stay outside this graph.
        self.features = None if self.by_speaker else _features_for_export(task.features)
        # A classifier's raw inputs are standardised (training-set statistics) before its features.
        standardizer = getattr(task, "standardizer", None)
        self.standardizer = standardizer if self.features is not None else None
        self.takes_frames = isinstance(self.features, (FrameCNN, FrameDifference))
        self.takes_waveforms = self.is_ctc and self.features is not None
        self.normalizer = task.normalizer
        self.encoder = task.encoder
        self.head = task.head
        self.eval()
        feature_name = type(task.features).__name__
        inside = ([type(standardizer).__name__] if self.standardizer is not None else []) + (
            [feature_name] if self.features is not None else []) + (
            [type(self.normalizer).__name__] if self.normalizer is not None else []
        ) + [f"RNNEncoder({self._encoder_summary()})", type(self.head).__name__]
        size = task.features.output_size
        if standardizer is not None and self.features is None:
            feature_name = f"inputs standardised with the checkpoint's input_stats, then {feature_name}"
        if self.by_speaker:
            source = "the features graph (or the PyTorch module)" if FeatureGraph.supports(task) else "the PyTorch module"
            caller = (f"{feature_name} features (B, T, {size}) float32 and their lengths, with {source}; and each "
                      "utterance's speaker mean and std per feature over all valid frames of that speaker's recordings "
                      f"(std = sqrt(variance + {CMVN_EPS:g}))")
            inputs = {"inputs": f"(batch, time, {size}) float32", "lengths": "(batch,) int64",
                      "speaker_mean": f"(batch, {size}) float32", "speaker_std": f"(batch, {size}) float32"}
        elif self.features is None:
            caller = f"{feature_name} features (B, T, {size}) float32 and their lengths, with the PyTorch module"
            inputs = {"inputs": f"(batch, time, {size}) float32", "lengths": "(batch,) int64"}
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
    def input_names(self) -> list[str]:
        return list(self.spec.inputs)

    @property
    def output_names(self) -> list[str]:
        return list(self.spec.outputs)

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        time = "samples" if self.takes_waveforms else "time"
        axes = {"inputs": {0: "batch", 1: time}, "lengths": {0: "batch"}}
        axes.update({name: {0: "batch"} for name in self.input_names[2:]})  # speaker statistics
        if self.is_ctc:
            axes.update(outputs={0: "batch", 1: "frames"}, output_lengths={0: "batch"})
        else:
            axes["outputs"] = {0: "batch"}
        return axes

    def forward(
        self, inputs: Tensor, lengths: Tensor, speaker_mean: Tensor | None = None, speaker_std: Tensor | None = None
    ) -> tuple[Tensor, Tensor] | Tensor:
        # inputs: (B, S) waveforms, (B, T) ids or (B, T, F) frames; lengths: (B,); speaker_*: (B, F)
        if self.standardizer is not None:
            inputs = self.standardizer(inputs, lengths)  # (B, T, C)
        if self.features is not None:
            feats, frames = self.features(inputs, lengths)  # (B, T, F)
        else:
            feats, frames = inputs, lengths
        if self.by_speaker:  # SpeakerCMVN's arithmetic, with the statistics as inputs
            feats = standardize(feats, frames, speaker_mean.unsqueeze(1), speaker_std.unsqueeze(1))
        elif self.normalizer is not None:
            feats = self.normalizer(feats, frames)
        encoded, out_lengths = self.encoder(feats, frames)  # (B, T', D)
        if self.is_ctc:
            return self.head(encoded), out_lengths  # (B, T', V), (B,)
        return self.head(encoded, out_lengths)  # (B, C)

    @torch.no_grad()
    def reference(self, task: nn.Module, inputs: Tensor, lengths: Tensor, *speaker_stats: Tensor) -> tuple[Tensor, Tensor] | Tensor:
        """What the PyTorch task itself outputs for the same graph inputs (features applied first when outside;
        a speaker normaliser given each row's statistics as its speaker's)."""
        if self.features is not None:
            return task(inputs, lengths)
        feats = inputs
        if self.by_speaker:
            normalizer = type(task.normalizer)()
            speakers = [f"row {i}" for i in range(len(lengths))]
            normalizer.stats = {s: (mean, std) for s, mean, std in zip(speakers, *speaker_stats)}
            feats = normalizer(feats, lengths, speakers)
        elif self.normalizer is not None:
            feats = self.normalizer(feats, lengths)
        encoded, out_lengths = task.encoder(feats, lengths)
        return (task.head(encoded), out_lengths) if self.is_ctc else task.head(encoded, out_lengths)


class FeatureGraph(nn.Module):
    """A speech task's features alone: waveforms (B, S) float32, sample counts (B,) int64 ->
    features (B, T, F) float32 and frame counts (B,) int64.  For the callers of a speaker-
    normalised graph, which need the features to compute each speaker's statistics."""

    input_names = ["inputs", "lengths"]
    output_names = ["features", "frames"]
    takes_waveforms = True
    by_speaker = False  # it computes what the speaker statistics are taken from

    def __init__(self, task: nn.Module) -> None:
        super().__init__()
        if not self.supports(task):
            raise NotExportableError(f"{type(task.features).__name__} features cannot be traced")
        self.features = _features_for_export(task.features)
        self.eval()
        self.spec = GraphSpec(
            f"{type(task).__name__} features",
            {"inputs": f"(batch, samples) float32 waveform at {task.features.sample_rate} Hz", "lengths": "(batch,) int64 samples"},
            {"features": f"(batch, time, {task.features.output_size}) float32, zero past each length",
             "frames": "(batch,) int64 valid frames"},
            [type(task.features).__name__], "",
        )

    @staticmethod
    def supports(task: nn.Module) -> bool:
        return isinstance(task.features, SpectralFeatures) and _features_for_export(task.features) is not None

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {"inputs": {0: "batch", 1: "samples"}, "lengths": {0: "batch"},
                "features": {0: "batch", 1: "time"}, "frames": {0: "batch"}}

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.features(inputs, lengths)  # (B, T, F), (B,)

    @torch.no_grad()
    def reference(self, task: nn.Module, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return task.features(inputs, lengths)
