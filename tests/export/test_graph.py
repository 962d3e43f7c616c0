"""ExportGraph and FeatureGraph, run in PyTorch: what each task's graph takes, declares and computes."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from seqkit.export.features import ExportableSpectral
from seqkit.export.graph import ExportGraph, FeatureGraph, NotExportableError
from seqkit.features.cmvn import SpeakerCMVN, UtteranceCMVN
from seqkit.features.embedding import TokenEmbedding
from seqkit.features.frames import PrecomputedFeatures
from seqkit.features.video import FrameDifference
from seqkit.masking import padding_mask
from tiny_models import untrained_classifier, untrained_speech_task

pytestmark = pytest.mark.usefixtures("one_thread")

LENGTHS = [4000, 2500, 900]  # samples at 8 kHz: a padded batch
GENERATOR = torch.Generator().manual_seed(0)
CTC_AXES = {"inputs": {0: "batch", 1: "samples"}, "lengths": {0: "batch"},
            "outputs": {0: "batch", 1: "frames"}, "output_lengths": {0: "batch"}}


def waveforms(lengths: list[int], seed: int = 0) -> tuple[Tensor, Tensor]:
    """Noise (B, S), zero past each length as the data modules pad, and the lengths (B,)."""
    lengths = torch.tensor(lengths)
    noise = 0.1 * torch.randn(len(lengths), int(lengths.max()), generator=torch.Generator().manual_seed(seed))
    return noise * (torch.arange(noise.shape[1]) < lengths[:, None]), lengths


def assert_same_valid_frames(expected: tuple[Tensor, Tensor], got: tuple[Tensor, Tensor]) -> None:
    """CTC log-probs (B, T', V) equal on valid frames, same lengths (B,); the graph may add padded frames."""
    (log_probs, lengths), (graph_log_probs, graph_lengths) = expected, got
    assert torch.equal(graph_lengths, lengths)
    assert graph_log_probs.shape[0] == log_probs.shape[0] and graph_log_probs.shape[2] == log_probs.shape[2]
    valid = padding_mask(lengths, log_probs.shape[1])  # (B, T')
    torch.testing.assert_close(graph_log_probs[:, : log_probs.shape[1]][valid], log_probs[valid], atol=1e-4, rtol=0)


def test_only_speech_and_classification_tasks_are_exportable() -> None:
    with pytest.raises(NotExportableError, match="^Linear cannot be exported: only SpeechToText and SequenceClassifier"):
        ExportGraph(nn.Linear(2, 2))
    assert issubclass(NotExportableError, ValueError)  # `seqkit export` reports ValueErrors as input errors


@torch.no_grad()
def test_speech_graph_takes_waveforms_and_computes_the_tasks_log_probs() -> None:
    task = untrained_speech_task(UtteranceCMVN())
    graph = ExportGraph(task)
    assert isinstance(graph.features, ExportableSpectral) and graph.takes_waveforms and graph.is_ctc
    vocab = task.tokenizer.vocab_size
    assert graph.spec.task == "SpeechToText" and graph.spec.caller == ""
    assert graph.spec.inputs == {"inputs": "(batch, samples) float32 waveform at 8000 Hz", "lengths": "(batch,) int64 samples"}
    assert graph.spec.outputs == {"outputs": f"(batch, frames, {vocab}) float32 CTC log-probs (blank = 0)",
                                  "output_lengths": "(batch,) int64 valid frames"}
    assert graph.spec.inside == ["LogMelFilterbank", "UtteranceCMVN", "RNNEncoder(2 x LSTM bidirectional, stacking 2)", "CTCHead"]
    assert graph.input_names == ["inputs", "lengths"] and graph.output_names == ["outputs", "output_lengths"]
    assert graph.dynamic_axes() == CTC_AXES
    wave, lengths = waveforms(LENGTHS)
    expected = task(wave, lengths)
    assert_same_valid_frames(expected, graph(wave, lengths))
    reference = graph.reference(task, wave, lengths)  # features inside: the task itself
    assert all(torch.equal(a, b) for a, b in zip(reference, expected))


@torch.no_grad()
def test_untraceable_features_leave_the_graph_starting_at_the_encoder() -> None:
    task = untrained_speech_task(UtteranceCMVN(), backend="librosa")
    graph = ExportGraph(task)
    assert graph.features is None and not graph.takes_waveforms
    assert graph.spec.inputs == {"inputs": "(batch, time, 16) float32", "lengths": "(batch,) int64"}
    assert graph.spec.caller == "LogMelFilterbank features (B, T, 16) float32 and their lengths, with the PyTorch module"
    assert graph.spec.inside[0] == "UtteranceCMVN"  # the features are the caller's
    assert graph.dynamic_axes() == {**CTC_AXES, "inputs": {0: "batch", 1: "time"}}
    wave, lengths = waveforms(LENGTHS)
    feats, frames = task.features(wave, lengths)  # (B, T, F): what the caller feeds
    expected = task(wave, lengths)
    assert_same_valid_frames(expected, graph(feats, frames))
    assert_same_valid_frames(expected, graph.reference(task, feats, frames))


@torch.no_grad()
def test_speaker_graph_normalises_by_the_statistics_it_is_given() -> None:
    task = untrained_speech_task(SpeakerCMVN())
    graph = ExportGraph(task)
    # The statistics come from the features, so those stay outside even though they can be traced.
    assert graph.features is None and graph.by_speaker
    assert graph.input_names == ["inputs", "lengths", "speaker_mean", "speaker_std"]
    assert graph.spec.inputs["speaker_std"] == "(batch, 16) float32"
    assert graph.spec.caller.startswith("LogMelFilterbank features (B, T, 16) float32 and their lengths, with the features graph")
    assert graph.spec.caller.endswith("(std = sqrt(variance + 1e-05))")
    assert graph.dynamic_axes()["speaker_mean"] == graph.dynamic_axes()["speaker_std"] == {0: "batch"}
    wave, lengths = waveforms(LENGTHS)
    wave[2] *= 4  # a louder speaker: other statistics
    speakers = ["ann", "ann", "bob"]
    feats, frames = task.features(wave, lengths)
    task.normalizer.accumulate(feats, frames, speakers)
    task.normalizer.finish()
    mean = torch.stack([task.normalizer.stats[s][0] for s in speakers])  # (B, F)
    std = torch.stack([task.normalizer.stats[s][1] for s in speakers])
    expected = task(wave, lengths, speakers)
    assert_same_valid_frames(expected, graph(feats, frames, mean, std))
    assert_same_valid_frames(expected, graph.reference(task, feats, frames, mean, std))


def test_speaker_graph_of_untraceable_features_sends_the_caller_to_pytorch() -> None:
    caller = ExportGraph(untrained_speech_task(SpeakerCMVN(), backend="librosa")).spec.caller
    assert "with the PyTorch module; and each utterance's speaker mean and std" in caller


@pytest.mark.parametrize("features, input_size, inputs, declared", [
    (TokenEmbedding(embedding_dim=4), 9, torch.randint(0, 9, (4, 7), generator=GENERATOR), "(batch, time) int64 token ids"),
    (PrecomputedFeatures(), 2, torch.randn(4, 7, 2, generator=GENERATOR), "(batch, time, 2) float32"),
    (FrameDifference(grid=2), 0, torch.rand(4, 7, 3, 8, 8, generator=GENERATOR),
     "(batch, time, 3, height, width) float32 frames in [0, 1], height and width as traced"),
], ids=["tokens", "frames", "video"])
@torch.no_grad()
def test_classifier_graph_declares_its_inputs_and_computes_the_tasks_logits(features, input_size, inputs, declared) -> None:
    task = untrained_classifier(features, input_size)
    graph = ExportGraph(task)
    assert not graph.is_ctc and not graph.takes_waveforms and graph.takes_frames == isinstance(features, FrameDifference)
    assert graph.spec.inputs == {"inputs": declared, "lengths": "(batch,) int64"} and graph.spec.caller == ""
    assert graph.spec.outputs == {"outputs": "(batch, 3) float32 class logits"}
    assert graph.spec.inside == [type(features).__name__, "RNNEncoder(2 x GRU bidirectional, stacking 1)", "ClassificationHead"]
    assert graph.output_names == ["outputs"]
    assert graph.dynamic_axes() == {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "outputs": {0: "batch"}}
    lengths = torch.tensor([7, 5, 2, 1])
    logits = graph(inputs, lengths)  # (B, C)
    assert logits.shape == (4, 3)
    torch.testing.assert_close(logits, task(inputs, lengths), atol=1e-5, rtol=0)
    assert torch.equal(graph.reference(task, inputs, lengths), task(inputs, lengths))


def test_encoder_summary_names_layers_cell_direction_and_subsampling() -> None:
    task = untrained_speech_task(None, cell="gru", num_layers=1, bidirectional=False, stack_frames=4, conv_channels=2)
    assert ExportGraph(task).spec.inside == ["LogMelFilterbank", "RNNEncoder(1 x GRU unidirectional, convolutional subsampling 4)",
                                             "CTCHead"]


@torch.no_grad()
def test_graph_runs_in_evaluation_mode_whatever_the_tasks_mode() -> None:
    task = untrained_speech_task(None, dropout=0.5).train()  # dropout between the LSTM layers
    graph = ExportGraph(task)
    assert not graph.training and not task.encoder.training
    wave, lengths = waveforms(LENGTHS)
    assert_same_valid_frames(graph(wave, lengths), graph(wave, lengths))  # no dropout: deterministic


@torch.no_grad()
def test_feature_graph_computes_the_tasks_features() -> None:
    task = untrained_speech_task(SpeakerCMVN())
    graph = FeatureGraph(task)
    assert FeatureGraph.supports(task) and graph.takes_waveforms and not graph.by_speaker
    assert graph.spec.task == "SpeechToText features" and graph.spec.inside == ["LogMelFilterbank"]
    assert graph.spec.inputs["inputs"] == "(batch, samples) float32 waveform at 8000 Hz"
    assert graph.spec.outputs == {"features": "(batch, time, 16) float32, zero past each length", "frames": "(batch,) int64 valid frames"}
    assert graph.dynamic_axes() == {"inputs": {0: "batch", 1: "samples"}, "lengths": {0: "batch"},
                                    "features": {0: "batch", 1: "time"}, "frames": {0: "batch"}}
    wave, lengths = waveforms(LENGTHS)
    expected, expected_frames = task.features(wave, lengths)  # (B, T, F), (B,)
    assert all(torch.equal(a, b) for a, b in zip(graph.reference(task, wave, lengths), (expected, expected_frames)))
    feats, frames = graph(wave, lengths)
    assert torch.equal(frames, expected_frames)
    time = expected.shape[1]
    assert not feats[:, time:].any()  # extra traced frames are padding
    torch.testing.assert_close(feats[:, :time], expected, atol=5e-5, rtol=1e-5)


@pytest.mark.parametrize("task, name", [
    (untrained_speech_task(SpeakerCMVN(), backend="librosa"), "LogMelFilterbank"),
    (untrained_classifier(PrecomputedFeatures(), 2), "PrecomputedFeatures"),
], ids=["librosa", "not-spectral"])
def test_feature_graph_refuses_features_it_cannot_trace(task, name: str) -> None:
    assert not FeatureGraph.supports(task)
    with pytest.raises(NotExportableError, match=f"^{name} features cannot be traced$"):
        FeatureGraph(task)


@torch.no_grad()
def test_a_classifiers_input_standardisation_is_inside_the_graph() -> None:
    # Series data modules standardise raw inputs by default (input_stats); an export without it is wrong.
    task = untrained_classifier(PrecomputedFeatures(), 2, input_stats={"mean": [5.0, -3.0], "std": [2.0, 0.5]})
    graph = ExportGraph(task)
    assert graph.spec.inside[:2] == ["ChannelStandardizer", "PrecomputedFeatures"] and graph.spec.caller == ""
    inputs, lengths = 5.0 + 2.0 * torch.randn(3, 6, 2, generator=GENERATOR), torch.tensor([6, 4, 1])
    torch.testing.assert_close(graph(inputs, lengths), task(inputs, lengths), atol=1e-5, rtol=0)
