"""Exported ONNX and TorchScript files of real graphs, run back against PyTorch; their example inputs; the difference measure."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pytest
import torch

from seqkit.export.formats import (ExportedModel, MissingExtraError, example_inputs, export, max_abs_diff, require_onnx,
                                   verify)
from seqkit.export.graph import ExportGraph, FeatureGraph
from seqkit.features.cmvn import SpeakerCMVN, UtteranceCMVN
from seqkit.features.embedding import TokenEmbedding
from seqkit.features.frames import PrecomputedFeatures
from seqkit.features.video import FrameDifference
from seqkit.masking import padding_mask
from tiny_models import untrained_classifier, untrained_speech_task

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = {  # name -> task of that seed
    "speech": lambda seed: untrained_speech_task(UtteranceCMVN(), seed=seed),  # waveforms in, log-mel inside
    "speaker": lambda seed: untrained_speech_task(SpeakerCMVN(), seed=seed),  # features and speaker statistics in
    "tokens": lambda seed: untrained_classifier(TokenEmbedding(embedding_dim=4), 9, seed),
    "frames": lambda seed: untrained_classifier(PrecomputedFeatures(), 2, seed),
    "video": lambda seed: untrained_classifier(FrameDifference(grid=2), seed=seed),
}


def graph_of(name: str, seed: int = 0) -> tuple[torch.nn.Module, ExportGraph]:
    task = TASKS[name](seed)
    return task, ExportGraph(task)


@pytest.mark.parametrize("missing, named", [(["onnx"], "onnx"), (["onnxruntime"], "onnxruntime"),
                                            (["onnx", "onnxruntime"], "onnx and onnxruntime")])
def test_require_onnx_names_the_missing_packages(monkeypatch, missing: list[str], named: str) -> None:
    require_onnx()  # both installed here
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: the import fails as if not installed
    with pytest.raises(MissingExtraError, match=rf"^ONNX export needs {named}, not installed: pip install 'seqkit\[export\]'"):
        require_onnx()


def test_onnx_without_the_extra_is_refused_before_any_file_is_read_or_written(monkeypatch, tmp_path: Path) -> None:
    task, graph = graph_of("tokens")
    example = example_inputs(task, graph, 2, 5)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError):
        export(graph, example, tmp_path / "new" / "m.onnx", "onnx")
    assert not (tmp_path / "new").exists()  # not even its folder
    with pytest.raises(MissingExtraError):  # not a file-not-found error: the runtime is what is missing
        ExportedModel(tmp_path / "new" / "m.onnx", "onnx")


@pytest.mark.parametrize("name, shape, dtype", [
    ("speech", (5, 40), torch.float32),  # waveform samples
    ("speaker", (5, 40, 16), torch.float32),  # features: the graph starts at the encoder
    ("tokens", (5, 40), torch.int64),
    ("frames", (5, 40, 2), torch.float32),
    ("video", (5, 40, 3, 6, 8), torch.float32),
])
def test_example_inputs_are_a_zero_padded_batch_of_what_the_graph_takes(name: str, shape: tuple, dtype: torch.dtype) -> None:
    task, graph = graph_of(name)
    inputs, lengths = example_inputs(task, graph, 5, 40, seed=1, frame_size=(6, 8))[:2]
    assert inputs.shape == shape and inputs.dtype == dtype
    assert lengths.dtype == torch.int64 and int(lengths[0]) == 40  # the first is as long as asked
    assert 10 <= int(lengths.min()) and int(lengths.max()) == 40 and len(set(lengths.tolist())) > 1
    valid = padding_mask(lengths, 40)  # (B, T)
    assert not inputs[~valid].any()  # padding is zero, as the data modules pad
    assert all(inputs[row, : int(lengths[row])].any() for row in range(5))
    assert torch.equal(example_inputs(task, graph, 5, 40, seed=1, frame_size=(6, 8))[0], inputs)
    assert not torch.equal(example_inputs(task, graph, 5, 40, seed=2, frame_size=(6, 8))[0], inputs)
    if name == "tokens":
        assert int(inputs.max()) < 9  # valid ids of the embedding
    if name == "video":
        assert 0 <= float(inputs.min()) and float(inputs.max()) <= 1


def test_example_lengths_are_at_least_one_step() -> None:
    task, graph = graph_of("frames")
    assert int(example_inputs(task, graph, 16, 2)[1].min()) >= 1


def test_speaker_graph_examples_add_each_rows_mean_and_std() -> None:
    task, graph = graph_of("speaker")
    inputs, lengths, mean, std = example_inputs(task, graph, 3, 20)
    assert inputs.shape == (3, 20, 16) and mean.shape == std.shape == (3, 16)
    assert float(std.min()) >= 0.5  # a usable standard deviation
    # The features graph of the same task takes waveforms and no statistics.
    waves, _ = example_inputs(task, FeatureGraph(task), 3, 800)
    assert waves.shape == (3, 800)


def test_video_examples_need_the_frame_size() -> None:
    task, graph = graph_of("video")
    with pytest.raises(ValueError, match=r"^FrameDifference takes video frames: give their height and width \(--frame-size H W\)$"):
        example_inputs(task, graph, 2, 4)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name, steps", [("speech", 2000), ("speaker", 30), ("tokens", 12)])
def test_exported_file_matches_pytorch_on_batch_sizes_and_lengths_not_traced(tmp_path: Path, fmt: str, name: str, steps: int) -> None:
    task, graph = graph_of(name)
    path = tmp_path / "new" / f"model.{fmt}"  # a folder export() creates
    export(graph, example_inputs(task, graph, 2, steps), path, fmt)
    model = ExportedModel(path, fmt)
    outputs = model(*example_inputs(task, graph, 3, 2 * steps + 5, seed=7))
    assert len(outputs) == len(graph.output_names) and outputs[0].shape[0] == 3
    assert verify(task, graph, model, [(3, 2 * steps + 5), (1, steps // 2 + 1)]) <= 1e-4


def test_onnx_file_names_its_inputs_and_outputs_with_symbolic_batch_and_time(tmp_path: Path) -> None:
    task, graph = graph_of("speaker")
    path = tmp_path / "speaker.onnx"
    export(graph, example_inputs(task, graph, 2, 30), path, "onnx")
    model = onnx.load(str(path)).graph

    def dims(values) -> dict[str, list]:
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    assert dims(model.input) == {"inputs": ["batch", "time", 16], "lengths": ["batch"],
                                 "speaker_mean": ["batch", 16], "speaker_std": ["batch", 16]}
    assert dims(model.output) == {"outputs": ["batch", "frames", task.tokenizer.vocab_size], "output_lengths": ["batch"]}


@torch.no_grad()
def test_feature_graph_round_trips_through_torchscript(tmp_path: Path) -> None:
    task = untrained_speech_task(SpeakerCMVN())
    graph = FeatureGraph(task)
    path = tmp_path / "features.pt"
    export(graph, example_inputs(task, graph, 2, 2000), path, "torchscript")
    waves, lengths = example_inputs(task, graph, 3, 3000, seed=3)
    feats, frames = ExportedModel(path, "torchscript")(waves, lengths)
    expected, expected_frames = task.features(waves, lengths)  # (B, T, F), (B,)
    assert torch.equal(frames, expected_frames)
    torch.testing.assert_close(feats[:, : expected.shape[1]], expected, atol=5e-5, rtol=1e-5)


def test_verify_tells_a_faithful_export_from_one_of_other_weights(tmp_path: Path) -> None:
    task, graph = graph_of("speech")
    path = tmp_path / "model.pt"
    export(graph, example_inputs(task, graph, 2, 2000), path, "torchscript")
    model = ExportedModel(path, "torchscript")
    assert verify(task, graph, model, [(2, 3000)]) <= 1e-4
    other, other_graph = graph_of("speech", seed=1)
    assert verify(other, other_graph, model, [(2, 3000)]) > 1e-2


def test_max_abs_diff_of_logits_is_over_every_value() -> None:
    reference = torch.zeros(2, 3)
    exported = reference.clone()
    exported[1, 2] = -0.25
    assert max_abs_diff(reference, [exported]) == 0.25


def test_max_abs_diff_of_ctc_outputs_ignores_padded_and_extra_frames() -> None:
    log_probs, lengths = torch.zeros(2, 4, 3), torch.tensor([4, 2])  # (B, T', V), (B,)
    exported = torch.zeros(2, 6, 3)  # the traced features pad: more frames
    exported[1, 2:] = 100.0  # past row 1's length
    exported[0, 4:] = 100.0  # past every length
    exported[0, 3, 1] = 0.5
    assert max_abs_diff((log_probs, lengths), [exported, lengths.int()]) == 0.5  # int32 lengths, as a runtime may give


def test_max_abs_diff_refuses_other_lengths_and_missing_frames() -> None:
    log_probs, lengths = torch.zeros(2, 4, 3), torch.tensor([4, 2])
    with pytest.raises(AssertionError, match=r"^output lengths differ: PyTorch \[4, 2\], exported \[4, 3\]$"):
        max_abs_diff((log_probs, lengths), [log_probs, torch.tensor([4, 3])])
    with pytest.raises(AssertionError, match="^exported graph returned 3 frames for lengths up to 4$"):
        max_abs_diff((log_probs, lengths), [log_probs[:, :3], lengths])
