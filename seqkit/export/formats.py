"""Write an :class:`~seqkit.export.graph.ExportGraph` as ONNX or TorchScript, run it back, compare with PyTorch.

Both formats are made by tracing (``torch.jit.trace``; for ONNX the TorchScript-based
exporter, ``dynamo=False``): the RNN layers become single ONNX ``LSTM``/``GRU``/``RNN``
nodes with symbolic batch and time, and exporting takes about a second.  (The dynamo
exporter took 140 s on a tiny BiLSTM in a torch 2.14 check and its graph failed in
onnxruntime with "invalid expand shape" once the batch size changed.)  Tracing records one
path through the Python code, so the model code avoids shape-dependent branches when
tracing, and :func:`verify` checks every export on batch sizes and lengths other than the
traced ones.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from seqkit.export.graph import ExportGraph, FeatureGraph
from seqkit.features.embedding import TokenEmbedding
from seqkit.masking import padding_mask

Format = Literal["onnx", "torchscript"]
Graph = ExportGraph | FeatureGraph
OPSET = 17
EXTRA_HINT = "pip install 'seqkit[export]' (onnx and onnxruntime)"


class MissingExtraError(RuntimeError):
    """ONNX export or checking needs the ``export`` extra."""


def require_onnx() -> None:
    missing = []
    for name in ("onnx", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(f"ONNX export needs {' and '.join(missing)}, not installed: {EXTRA_HINT}")


def example_inputs(
    task: torch.nn.Module, graph: Graph, batch: int, steps: int, seed: int = 0, frame_size: tuple[int, int] | None = None
) -> tuple[Tensor, ...]:
    """Random graph inputs: ``batch`` sequences, the first ``steps`` long and the others shorter;
    then, for a speaker-normalised graph, a speaker mean and std for each.

    ``steps`` counts samples for a waveform input, else time steps.  Video features take
    frames of ``frame_size`` (height, width).
    """
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(max(1, steps // 4), steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    features = graph.features
    if features is None:  # the graph starts at the encoder
        size = task.features.output_size
        inputs = torch.randn(batch, steps, size, generator=generator)
    elif graph.takes_waveforms:
        inputs = 0.1 * torch.randn(batch, steps, generator=generator)  # waveform samples
    elif isinstance(features, TokenEmbedding):
        inputs = torch.randint(0, features.input_size, (batch, steps), generator=generator)
    elif graph.takes_frames:
        if frame_size is None:
            raise ValueError(f"{type(features).__name__} takes video frames: give their height and width (--frame-size H W)")
        inputs = torch.rand(batch, steps, features.input_size, *frame_size, generator=generator)  # in [0, 1]
    else:
        inputs = torch.randn(batch, steps, features.input_size, generator=generator)
    pad = ~padding_mask(lengths, steps)  # (B, T): padding is zero, as the data modules pad
    inputs = inputs.masked_fill(pad.view(pad.shape + (1,) * (inputs.ndim - 2)), 0)
    if not graph.by_speaker:
        return inputs, lengths
    size = inputs.shape[-1]
    mean = torch.randn(batch, size, generator=generator)
    std = 0.5 + torch.rand(batch, size, generator=generator)
    return inputs, lengths, mean, std


def export(graph: Graph, example: tuple[Tensor, ...], path: Path, fmt: Format) -> None:
    if fmt == "onnx":
        require_onnx()  # before anything is written
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer warnings name the Python-level shape arithmetic it records; verify() checks the result.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*(deprecated|batch_size other than 1).*")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")  # shape-inference notes
        if fmt == "torchscript":
            torch.jit.trace(graph, example, check_trace=False).save(str(path))
            return
        # dynamo=False on purpose (the traced graph is what verify() checks); torch says it is the legacy path.
        warnings.filterwarnings("ignore", message=r"You are using the legacy TorchScript-based ONNX export")
        torch.onnx.export(
            graph, example, str(path), dynamo=False, opset_version=OPSET,
            input_names=graph.input_names, output_names=graph.output_names, dynamic_axes=graph.dynamic_axes(),
        )


class ExportedModel:
    """An exported file, run as its runtime runs it: onnxruntime on CPU, or ``torch.jit.load``."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.fmt = fmt
        if fmt == "onnx":
            require_onnx()
            import onnxruntime

            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        else:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r".*deprecated.*", category=FutureWarning)
                self.module = torch.jit.load(str(path), map_location="cpu")

    def __call__(self, *inputs: Tensor) -> list[Tensor]:
        """inputs: as the graph takes them, in order (inputs, lengths[, speaker_mean, speaker_std])."""
        if self.fmt == "onnx":
            names = [i.name for i in self.session.get_inputs()]
            outputs = self.session.run(None, {name: x.numpy() for name, x in zip(names, inputs, strict=True)})
            return [torch.from_numpy(np.asarray(o)) for o in outputs]
        with torch.no_grad():
            result = self.module(*inputs)
        return list(result) if isinstance(result, tuple) else [result]


def max_abs_diff(reference: tuple[Tensor, Tensor] | Tensor, exported: list[Tensor]) -> float:
    """Largest |difference| over the valid frames (CTC) or all logits; raises if lengths differ."""
    if isinstance(reference, Tensor):
        return float((reference - exported[0]).abs().max())
    outputs, lengths = reference
    if not torch.equal(lengths.cpu(), exported[1].to(lengths.dtype)):
        raise AssertionError(f"output lengths differ: PyTorch {lengths.tolist()}, exported {exported[1].tolist()}")
    frames = min(outputs.shape[1], exported[0].shape[1])
    if int(lengths.max()) > frames:
        raise AssertionError(f"exported graph returned {exported[0].shape[1]} frames for lengths up to {int(lengths.max())}")
    valid = padding_mask(lengths, frames)  # (B, T')
    return float((outputs[:, :frames] - exported[0][:, :frames])[valid].abs().max())


def verify(
    task: torch.nn.Module, graph: Graph, model: ExportedModel, shapes: list[tuple[int, int]], frame_size: tuple[int, int] | None = None
) -> float:
    """Max abs difference from the PyTorch task over random inputs of each (batch, steps) shape."""
    worst = 0.0
    for seed, (batch, steps) in enumerate(shapes, start=1):
        example = example_inputs(task, graph, batch, steps, seed, frame_size)
        worst = max(worst, max_abs_diff(graph.reference(task, *example), model(*example)))
    return worst
