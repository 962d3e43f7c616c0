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

from seqkit.export.graph import ExportGraph
from seqkit.features.embedding import TokenEmbedding
from seqkit.masking import padding_mask

Format = Literal["onnx", "torchscript"]
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
    task: torch.nn.Module, graph: ExportGraph, batch: int, steps: int, seed: int = 0, frame_size: tuple[int, int] | None = None
) -> tuple[Tensor, Tensor]:
    """Random graph inputs: ``batch`` sequences, the first ``steps`` long and the others shorter.

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
    elif graph.is_ctc:
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
    return inputs, lengths


def _dynamic_axes(graph: ExportGraph) -> dict[str, dict[int, str]]:
    time = "samples" if graph.is_ctc and graph.features is not None else "time"
    axes = {"inputs": {0: "batch", 1: time}, "lengths": {0: "batch"}}
    if graph.is_ctc:
        axes.update(outputs={0: "batch", 1: "frames"}, output_lengths={0: "batch"})
    else:
        axes["outputs"] = {0: "batch"}
    return axes


def export(graph: ExportGraph, example: tuple[Tensor, Tensor], path: Path, fmt: Format) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer warnings name the Python-level shape arithmetic it records; verify() checks the result.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*(deprecated|batch_size other than 1).*")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")  # shape-inference notes
        if fmt == "torchscript":
            torch.jit.trace(graph, example, check_trace=False).save(str(path))
            return
        require_onnx()
        torch.onnx.export(
            graph, example, str(path), dynamo=False, opset_version=OPSET,
            input_names=["inputs", "lengths"], output_names=graph.output_names, dynamic_axes=_dynamic_axes(graph),
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

    def __call__(self, inputs: Tensor, lengths: Tensor) -> list[Tensor]:
        if self.fmt == "onnx":
            outputs = self.session.run(None, {"inputs": inputs.numpy(), "lengths": lengths.numpy()})
            return [torch.from_numpy(np.asarray(o)) for o in outputs]
        with torch.no_grad():
            result = self.module(inputs, lengths)
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
    task: torch.nn.Module, graph: ExportGraph, model: ExportedModel, shapes: list[tuple[int, int]], frame_size: tuple[int, int] | None = None
) -> float:
    """Max abs difference from the PyTorch task over random inputs of each (batch, steps) shape."""
    worst = 0.0
    for seed, (batch, steps) in enumerate(shapes, start=1):
        inputs, lengths = example_inputs(task, graph, batch, steps, seed, frame_size)
        worst = max(worst, max_abs_diff(graph.reference(task, inputs, lengths), model(inputs, lengths)))
    return worst
