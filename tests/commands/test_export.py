"""`seqkit export`: ONNX and TorchScript round trips match PyTorch on random-length batches."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.cli import instantiate_module

from seqkit.commands.checkpoint import _import, load_task
from seqkit.commands.export import default_output, main as export_main
from seqkit.data.tokenizer import CharTokenizer
from seqkit.data.vocabulary import CharVocabulary
from seqkit.export.formats import ExportedModel, example_inputs, max_abs_diff
from seqkit.export.graph import ExportGraph

pytestmark = pytest.mark.usefixtures("one_thread")

TOKENIZER = CharTokenizer().fit(["one two three four five six seven"]).state()


def speech(features: dict, cell: str, stack: int, conv_channels: int | None = None, normalizer: str = "UtteranceCMVN") -> dict:
    return {
        "_class_path": "seqkit.tasks.speech_to_text.SpeechToText",
        "tokenizer": TOKENIZER,
        "features": features,
        "normalizer": {"class_path": f"seqkit.features.cmvn.{normalizer}"},
        "augment": {"class_path": "seqkit.features.specaugment.SpecAugment"},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {
            "cell": cell, "hidden_size": 12, "num_layers": 2, "stack_frames": stack, "conv_channels": conv_channels}},
    }


def classifier(features: dict, cell: str, pooling: str) -> dict:
    return {
        "_class_path": "seqkit.tasks.sequence_classification.SequenceClassifier",
        "labels": ["a", "b", "c"],
        "features": features,
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {"cell": cell, "hidden_size": 10, "num_layers": 2}},
        "head": {"class_path": "seqkit.heads.classification.ClassificationHead", "init_args": {"pooling": pooling}},
    }


LOGMEL = {"class_path": "seqkit.features.spectral.LogMelFilterbank", "init_args": {"sample_rate": 8000, "n_mels": 16}}
MFCC = {"class_path": "seqkit.features.spectral.MFCC", "init_args": {"sample_rate": 8000, "n_mfcc": 10, "n_mels": 20}}
MODELS = {
    "ctc-logmel-bilstm": speech(LOGMEL, "lstm", stack=2),
    "ctc-mfcc-bigru": speech(MFCC, "gru", stack=3),
    "ctc-logmel-bimingru": speech(LOGMEL, "mingru", stack=1),
    "ctc-logmel-conv-bilstm": speech(LOGMEL, "lstm", stack=4, conv_channels=4),
    # Speaker statistics are inputs; the features get a graph of their own.
    "ctc-logmel-speaker-bilstm": speech(LOGMEL, "lstm", stack=2, normalizer="SpeakerCMVN"),
    "cls-tokens-bigru-attention": classifier({"class_path": "seqkit.features.embedding.TokenEmbedding",
                                              "init_args": {"input_size": 40, "embedding_dim": 8}}, "gru", "attention"),
    "cls-frames-bilstm-last": classifier({"class_path": "seqkit.features.frames.PrecomputedFeatures",
                                          "init_args": {"input_size": 6}}, "lstm", "last"),
    "cls-motion-bigru-mean": classifier({"class_path": "seqkit.features.video.FrameDifference",
                                         "init_args": {"input_size": 3, "grid": 2}}, "gru", "mean"),
    "cls-video-cnn-bilstm-mean": classifier({"class_path": "seqkit.features.video.FrameCNN",
                                             "init_args": {"channels": [4, 8], "pool": 2, "output_size": 8}}, "lstm", "mean"),
    # Features that cannot be traced (librosa): the graph starts at the encoder.
    "ctc-librosa-gru-outside": speech({**LOGMEL, "init_args": {**LOGMEL["init_args"], "backend": "librosa"}}, "gru", stack=2),
}


def write_checkpoint(folder: Path, name: str) -> Path:
    """A checkpoint as `seqkit fit` writes it: the parts' configs as hyper-parameters, random weights."""
    hparams = MODELS[name]
    torch.manual_seed(0)
    task = instantiate_module(_import(hparams["_class_path"]), hparams)
    path = folder / name / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"hyper_parameters": hparams, "state_dict": task.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    return {name: write_checkpoint(root, name) for name in MODELS}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", list(MODELS))
def test_exported_model_matches_pytorch_on_new_batch_sizes_and_lengths(checkpoints, name: str, fmt: str, capsys) -> None:
    ckpt = checkpoints[name]
    video = ["--frame-size", "16", "16"] if name.startswith(("cls-motion", "cls-video")) else []
    assert export_main(["--ckpt", str(ckpt), "--format", fmt, *video]) == 0
    out = default_output(ckpt, fmt)
    assert out == ckpt.parent.parent / "export" / ("last.onnx" if fmt == "onnx" else "last.pt") and out.is_file()
    spec = json.loads(out.with_name(out.name + ".json").read_text())
    assert spec["max_abs_diff_vs_pytorch"] <= 1e-4
    if name.startswith("ctc"):
        assert spec["tokens"] == TOKENIZER["tokens"] and spec["sample_rate"] == 8000
    else:
        assert spec["labels"] == ["a", "b", "c"]
    printed = capsys.readouterr().out
    assert "max abs difference vs PyTorch" in printed
    caller = "LogMelFilterbank features (B, T, 16)" if "outside" in name or "speaker" in name else "nothing (raw inputs in)"
    assert f"caller computes: {caller}" in printed
    features_file = out.with_name(out.stem + ".features" + out.suffix)
    assert features_file.is_file() == ("speaker" in name)
    if "speaker" in name:
        assert "with the features graph (or the PyTorch module); and each utterance's speaker mean and std" in printed
        assert "inside the graph: SpeakerCMVN -> RNNEncoder(2 x LSTM bidirectional, stacking 2) -> CTCHead" in printed
        assert list(spec["inputs"]) == ["inputs", "lengths", "speaker_mean", "speaker_std"]
        assert spec["features_graph"]["file"] == features_file.name and spec["features_graph"]["max_abs_diff_vs_pytorch"] <= 1e-4
    if name == "ctc-mfcc-bigru":
        assert "inside the graph: MFCC -> UtteranceCMVN -> RNNEncoder(2 x GRU bidirectional, stacking 3) -> CTCHead" in printed
    if name == "ctc-logmel-conv-bilstm":
        assert "RNNEncoder(2 x LSTM bidirectional, convolutional subsampling 4)" in printed

    # Run the file here too, independently of the command's own check.
    task = load_task(ckpt)
    graph = ExportGraph(task)
    model = ExportedModel(out, fmt)
    # What the command traced with (batch 2): 1 s of audio, 16 video frames, else 100 steps.
    traced_steps = 8000 if graph.takes_waveforms else 16 if video else 100
    for batch, steps, seed in [(7, 2 * traced_steps + 13, 11)]:  # the command itself checked batch 1 and 4
        example = example_inputs(task, graph, batch, steps, seed, (16, 16) if video else None)
        reference = graph.reference(task, *example)
        outputs = model(*example)
        if graph.is_ctc:
            assert torch.equal(outputs[1].long(), reference[1])  # output lengths
            assert outputs[0].shape[0] == batch and outputs[0].shape[1] >= int(reference[1].max())
        else:
            assert outputs[0].shape == reference.shape == (batch, 3)
        assert max_abs_diff(reference, outputs) <= 1e-4


def test_padding_does_not_leak_into_valid_frames(checkpoints) -> None:
    """An utterance's exported outputs are the same alone and padded in a batch with a longer one."""
    ckpt = checkpoints["ctc-logmel-bilstm"]
    out = ckpt.parent / "pad.onnx"
    assert export_main(["--ckpt", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    model = ExportedModel(out, "onnx")
    torch.manual_seed(3)
    short = 0.1 * torch.randn(1, 5000)
    batch = torch.cat([short, torch.zeros(1, 7000)], dim=1).repeat(2, 1)
    batch[0] = 0.1 * torch.randn(12000)
    alone, alone_lengths = model(short, torch.tensor([5000]))
    padded, padded_lengths = model(batch, torch.tensor([12000, 5000]))
    frames = int(alone_lengths[0])
    assert int(padded_lengths[1]) == frames
    np.testing.assert_allclose(padded[1, :frames], alone[0, :frames], atol=1e-5)


def test_video_models_need_the_frame_size(checkpoints, capsys) -> None:
    assert export_main(["--ckpt", str(checkpoints["cls-video-cnn-bilstm-mean"]), "--format", "torchscript"]) == 2
    assert "FrameCNN takes video frames: give their height and width (--frame-size H W)" in capsys.readouterr().err


def test_bad_checkpoints_give_a_clear_error(tmp_path: Path, capsys) -> None:
    assert export_main(["--ckpt", str(tmp_path / "missing.ckpt"), "--format", "torchscript"]) == 2
    assert "missing.ckpt not found" in capsys.readouterr().err
    lm = {
        "_class_path": "seqkit.tasks.language_model.CharLanguageModel",
        "tokenizer": CharVocabulary.fit("to be or not").state(),
        "features": {"class_path": "seqkit.features.embedding.TokenEmbedding", "init_args": {"embedding_dim": 4}},
        "encoder": {"class_path": "seqkit.encoders.rnn.RNNEncoder", "init_args": {"hidden_size": 4, "num_layers": 1, "bidirectional": False}},
    }
    path = tmp_path / "lm.ckpt"
    task = instantiate_module(_import(lm["_class_path"]), lm)
    torch.save({"hyper_parameters": lm, "state_dict": task.state_dict()}, path)
    assert export_main(["--ckpt", str(path), "--format", "torchscript"]) == 2
    assert "CharLanguageModel cannot be exported: only SpeechToText and SequenceClassifier" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_speaker_normalised_export_transcribes_as_seqkit_does(checkpoints, fmt: str, tmp_path: Path) -> None:
    """The documented flow -- features graph, each speaker's statistics over their valid frames,
    model graph -- gives the log-probs of the PyTorch task after its own per-speaker pass."""
    ckpt = checkpoints["ctc-logmel-speaker-bilstm"]
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'pt'}"
    assert export_main(["--ckpt", str(ckpt), "--format", fmt, "--out", str(out)]) == 0
    features_graph = ExportedModel(out.with_name(out.stem + ".features" + out.suffix), fmt)
    model = ExportedModel(out, fmt)
    generator = torch.Generator().manual_seed(5)
    lengths = torch.tensor([9000, 4000, 6500])
    waveforms = 0.1 * torch.randn(3, 9000, generator=generator) * (torch.arange(9000) < lengths[:, None])
    waveforms[2] *= 4  # a louder speaker: their statistics differ
    speakers = ["ann", "ann", "bob"]

    feats, frames = features_graph(waveforms, lengths)  # (B, T, F), (B,)
    stats = {}
    for speaker in sorted(set(speakers)):
        valid = torch.cat([feats[i, : int(frames[i])] for i, s in enumerate(speakers) if s == speaker]).double()
        stats[speaker] = (valid.mean(0), (valid.var(0, unbiased=False) + 1e-5).sqrt())
    mean = torch.stack([stats[s][0] for s in speakers]).float()  # (B, F)
    std = torch.stack([stats[s][1] for s in speakers]).float()
    exported, exported_lengths = model(feats, frames, mean, std)

    task = load_task(ckpt)
    with torch.no_grad():
        task.normalizer.reset()  # what `seqkit transcribe` does before decoding: one pass per speaker
        task.normalizer.accumulate(*task.features(waveforms, lengths), speakers)
        task.normalizer.finish()
        reference, reference_lengths = task(waveforms, lengths, speakers)
    assert torch.equal(exported_lengths.long(), reference_lengths)
    assert max_abs_diff((reference, reference_lengths), [exported, exported_lengths]) <= 1e-4
    # The statistics matter: the utterance's own statistics give other outputs.
    own = torch.stack([feats[i, : int(frames[i])].mean(0) for i in range(3)])
    assert max_abs_diff((reference, reference_lengths), model(feats, frames, own, std)) > 1e-2


def test_onnx_without_the_export_extra_names_the_missing_packages(checkpoints, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # None in sys.modules: the import fails as if not installed
    out = tmp_path / "m.onnx"
    assert export_main(["--ckpt", str(checkpoints["ctc-logmel-bilstm"]), "--format", "onnx", "--out", str(out)]) == 2
    assert "ONNX export needs onnxruntime, not installed: pip install 'seqkit[export]'" in capsys.readouterr().err
    assert not out.exists()
