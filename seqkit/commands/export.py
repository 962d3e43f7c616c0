"""``seqkit export --ckpt CKPT --format onnx|torchscript``: the inference path as one portable file.

Writes the model (default: ``RUN/export/<checkpoint>.onnx|.pt`` for a run's checkpoint,
else beside it) and ``<file>.json`` describing its inputs, outputs and what the caller
computes.  A model normalised by speaker also gets ``<checkpoint>.features.onnx|.pt``, its
features alone, from which the caller computes each speaker's statistics.  Every export is checked against PyTorch on random inputs of batch sizes and
lengths other than the traced ones, and the largest difference is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from seqkit.commands.checkpoint import load_task

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
TOLERANCE = 1e-4  # fp32 max abs difference the export must keep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit export", description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="checkpoint written by `seqkit fit`")
    parser.add_argument("--format", required=True, choices=sorted(SUFFIX), help="onnx (needs the export extra) or torchscript")
    parser.add_argument("--out", help="output file (default: RUN/export/<checkpoint stem> + .onnx or .pt)")
    parser.add_argument("--frame-size", type=int, nargs=2, metavar=("H", "W"),
                        help="video models: the frame height and width of the inputs (fixed in the graph)")
    return parser


def default_output(ckpt: Path, fmt: str) -> Path:
    folder = ckpt.parent.parent / "export" if ckpt.parent.name == "checkpoints" else ckpt.parent
    return folder / (ckpt.stem + SUFFIX[fmt])


def checked_shapes(traced_steps: int) -> list[tuple[int, int]]:
    """(batch, steps) of the checks: a larger batch with longer inputs than traced, and batch 1."""
    return [(4, 2 * traced_steps + 7), (1, traced_steps // 2 + 3)]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from seqkit.export.formats import ExportedModel, MissingExtraError, example_inputs, export, require_onnx, verify
    from seqkit.export.graph import ExportGraph, FeatureGraph

    try:
        if args.format == "onnx":
            require_onnx()  # before the slow part
        task = load_task(args.ckpt, "cpu")
        graph = ExportGraph(task)
    except (FileNotFoundError, ValueError, MissingExtraError) as err:  # UntrustedCheckpointError, NotExportableError too
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_output(Path(args.ckpt), args.format)
    # Traced at one shape (1 s of audio, 16 video frames, else 100 steps), checked at others.
    traced_steps = task.features.sample_rate if graph.takes_waveforms else 16 if graph.takes_frames else 100
    size = tuple(args.frame_size) if args.frame_size else None
    try:
        example = example_inputs(task, graph, batch=2, steps=traced_steps, frame_size=size)
    except ValueError as err:  # video frames without --frame-size
        print(f"error: {err}", file=sys.stderr)
        return 2
    export(graph, example, out, args.format)
    diff = verify(task, graph, ExportedModel(out, args.format), checked_shapes(traced_steps), size)
    worst, extra, notes = diff, {}, []
    if graph.by_speaker and FeatureGraph.supports(task):
        features = FeatureGraph(task)
        features_out = out.with_name(out.stem + ".features" + out.suffix)
        rate = task.features.sample_rate  # traced and checked on waveforms, as a speech graph with features inside
        export(features, example_inputs(task, features, batch=2, steps=rate), features_out, args.format)
        features_diff = verify(task, features, ExportedModel(features_out, args.format), checked_shapes(rate))
        worst = max(diff, features_diff)
        extra = {"features_graph": {"file": features_out.name, **features.spec.__dict__, "max_abs_diff_vs_pytorch": features_diff}}
        notes.append(f"features graph {features_out}: {features.spec.inputs['inputs']} -> "
                     f"{features.spec.outputs['features']} (max abs difference vs PyTorch {features_diff:.2e})")
    spec = graph.spec
    sidecar = out.with_name(out.name + ".json")
    # What turns the outputs into text or class names, so the file is usable without the checkpoint.
    vocabulary = {"tokens": list(task.tokenizer.tokens)} if graph.is_ctc else {"labels": list(task.labels)}
    if graph.is_ctc:
        vocabulary["sample_rate"] = task.features.sample_rate
    sidecar.write_text(json.dumps({
        "format": args.format, "checkpoint": str(Path(args.ckpt).resolve()), **spec.__dict__,
        "dynamic_axes": "batch and time of every input and output", "max_abs_diff_vs_pytorch": diff, **vocabulary, **extra,
    }, indent=2) + "\n")
    print(f"wrote {out} ({args.format}) and {sidecar}")
    print(f"inside the graph: {' -> '.join(spec.inside)}")
    print("caller computes: " + (spec.caller or "nothing (raw inputs in)"))
    for name, shape in spec.inputs.items():
        print(f"  input  {name}: {shape}")
    for name, shape in spec.outputs.items():
        print(f"  output {name}: {shape}")
    for note in notes:
        print(note)
    status = "ok" if worst <= TOLERANCE else f"ABOVE the {TOLERANCE:g} tolerance"
    print(f"max abs difference vs PyTorch on random inputs: {worst:.2e} ({status})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
