"""``seqkit classify --ckpt CKPT FILE... | --manifest M``: the top-k classes of each sequence.

What a file may be follows from the checkpoint's features: audio files (any format
libsndfile reads) for spectral features (MFCC, log-mel), ``.npy`` arrays for the others --
``(T, F)`` per-step features for ``PrecomputedFeatures``, ``(T, C, H, W)`` frames in [0, 1]
for the video features -- and UTF-8 text files for token embeddings, every non-blank line
one sentence (``FILE:LINE`` names it), split into words at whitespace as the training text
was (tokenise it the same way; words the vocabulary lacks count as ``<unk>``).  Video files themselves are not read: how their frames are sampled
is a data-module setting the checkpoint does not hold (decode them as training did, save
``.npy``).  Output: ``PATH<TAB>LABEL:PROB...`` lines (default) or JSONL.

Several ``--ckpt`` (``--ckpt A --ckpt B``) make an ensemble: every checkpoint classifies
every input and their class probabilities are averaged (as ``tools/ensemble.py`` does with
test runs).  They must share the classes and what they read.

An audio classifier trained with per-speaker CMVN (``SpeakerCMVN``) first reads the inputs
once for each speaker's statistics, grouped as ``seqkit transcribe`` groups them
(``--speaker``, else a manifest's speakers, else one per recording).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm

from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import AudioError, load_audio
from seqkit.data.npy_features import FeatureFileError, npy_shape
from seqkit.data.word_vocabulary import WordVocabulary
from seqkit.features.cmvn import normalizes_by_speaker
from seqkit.features.embedding import TokenEmbedding
from seqkit.features.frames import PrecomputedFeatures
from seqkit.features.spectral import SpectralFeatures
from seqkit.features.video import FrameCNN, FrameDifference
from seqkit.inference.inputs import InputItem, add_input_arguments, read_inputs, reorder
from seqkit.inference.speaker_statistics import prepare_speaker_statistics


class InputError(ValueError):
    """An input this checkpoint cannot classify; the message names the file."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit classify", description=__doc__.splitlines()[0])
    add_input_arguments(parser, "audio files, .npy arrays or text files, as the checkpoint's features take",
                        "JSONL manifest (the training format: id, audio, duration, text)")
    parser.add_argument("--ckpt", required=True, action="append",
                        help="checkpoint written by `seqkit fit`; repeated (--ckpt A --ckpt B): an ensemble, "
                        "probabilities averaged")
    parser.add_argument("--top-k", type=int, default=1, help="labels shown per input, most probable first")
    parser.add_argument("--batch-size", type=int, default=16)
    return parser


def input_kind(features: torch.nn.Module) -> str:
    """``audio``, ``array`` or ``text``: what these features are computed from."""
    if isinstance(features, SpectralFeatures):
        return "audio"
    if isinstance(features, (PrecomputedFeatures, FrameCNN, FrameDifference)):
        return "array"
    if isinstance(features, TokenEmbedding):
        return "text"
    raise InputError(f"seqkit classify reads audio files, .npy arrays and text; this checkpoint's features "
                     f"({type(features).__name__}) take none of them")


def sentences(files: list[str]) -> list[InputItem]:
    """One item per non-blank line of the text ``files``; its id is ``FILE:LINE``."""
    items = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().replace("\r\n", "\n").split("\n")  # only newlines end a line
        except FileNotFoundError:
            raise InputError(f"{path}: file not found") from None
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        items += [InputItem(id=f"{path}:{n}", path=path, where=f"{path}:{n}", text=line.strip())
                  for n, line in enumerate(lines, start=1) if line.strip()]
    return items


def load_input(item: InputItem, features: torch.nn.Module, kind: str, vocabulary: WordVocabulary | None = None) -> Tensor:
    """One input as the features take it: (S,) samples, (T, F) features, (T, C, H, W) frames or (T,) word ids."""
    if kind == "text":
        return vocabulary.encode(item.text)
    is_npy = item.path.endswith(".npy")
    if kind == "audio":
        if is_npy:
            raise InputError(f"{item.label}: this checkpoint's features ({type(features).__name__}) take audio, not .npy arrays")
        return load_audio(item.path, features.sample_rate, item.where, item.offset, item.size)
    if not is_npy:
        raise InputError(f"{item.label}: this checkpoint's features ({type(features).__name__}) take .npy arrays, not {os.path.splitext(item.path)[1] or 'this file'}")
    if not os.path.isfile(item.path):
        raise InputError(f"{item.label}: file not found")
    shape = npy_shape(item.path)  # checks the header before reading the data
    wanted = (2, "(T, F)") if isinstance(features, PrecomputedFeatures) else (4, "(T, C, H, W)")
    if len(shape) != wanted[0] or shape[0] == 0:
        raise InputError(f"{item.label}: array of shape {shape}, expected {wanted[1]} with T > 0")
    if isinstance(features, PrecomputedFeatures) and shape[1] != features.input_size:
        raise InputError(f"{item.label}: {shape[1]} features per step, the model takes {features.input_size}")
    array = torch.from_numpy(np.ascontiguousarray(np.load(item.path, allow_pickle=False), dtype=np.float32))
    if not torch.isfinite(array).all():
        raise InputError(f"{item.label}: array contains NaN or Inf")
    return array


def input_contract(features: torch.nn.Module) -> tuple:
    """What an input must be for these features: their type, and rate or width."""
    return type(features).__name__, getattr(features, "sample_rate", None), getattr(features, "input_size", None)


def load_classifiers(paths: list[str], device: str) -> list:
    """The tasks of ``paths``; an error names a checkpoint that is no classifier or does not match the first."""
    tasks = []
    for path in paths:
        task = load_task(path, device)
        if not hasattr(task, "labels"):
            raise ValueError(f"{path} is a {type(task).__name__}, not a sequence classifier (use `seqkit transcribe`?)")
        if tasks and task.labels != tasks[0].labels:
            raise ValueError(f"{path}: classes {task.labels} differ from {paths[0]}'s {tasks[0].labels}")
        if tasks and input_contract(task.features) != input_contract(tasks[0].features):
            raise ValueError(f"{path} reads {input_contract(task.features)}, {paths[0]} "
                             f"{input_contract(tasks[0].features)}: an ensemble must read the same inputs")
        tasks.append(task)
    return tasks


@torch.inference_mode()
def classify(task, inputs: list[Tensor], speakers: list[str] | None = None) -> Tensor:
    """inputs: B x (T_i, ...) -> class probabilities (B, C) on CPU; ``speakers`` for SpeakerCMVN."""
    lengths = torch.tensor([x.shape[0] for x in inputs], device=task.device)  # (B,)
    batch = pad_sequence([x.to(task.device) for x in inputs], batch_first=True)  # (B, T, ...)
    return task(batch, lengths, speakers).float().softmax(-1).cpu()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.top_k < 1 or args.batch_size < 1:
        print("error: --top-k and --batch-size must be >= 1", file=sys.stderr)
        return 2
    try:
        items, fmt = read_inputs(args, "input")
        tasks = load_classifiers(args.ckpt, args.device)
        task = tasks[0]  # reads the inputs for all of them
        kind = input_kind(task.features)
        vocabulary = None
        if kind == "text":
            if args.manifest:
                raise InputError("a text classifier reads text files (a sentence a line), not a manifest")
            if not task.vocabulary:
                raise InputError(f"{args.ckpt[0]} holds no word vocabulary (trained before it was kept?)")
            vocabulary = WordVocabulary(task.vocabulary)
            items = sentences(args.files)
            if not items:
                raise InputError(f"no sentences in {', '.join(args.files)}")
        if kind != "audio" and any(normalizes_by_speaker(getattr(t, "normalizer", None)) for t in tasks):
            raise InputError(f"{args.ckpt[0]} normalises by speaker (SpeakerCMVN): classify computes speaker "
                             f"statistics for audio only; use `seqkit test` or `seqkit predict` for {kind} inputs")
        speakers = prepare_speaker_statistics(tasks, items, args.speaker)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    top_k = min(args.top_k, len(task.labels))

    def size(item: InputItem) -> int:
        """Similar sizes are batched together, so a batch pads little: a cheap proxy for length."""
        if kind == "text":
            return len(item.text)
        return os.path.getsize(item.path) if os.path.isfile(item.path) else 0

    order = sorted(range(len(items)), key=lambda i: size(items[i]))
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    results: dict[int, dict | None] = {}
    written, failures, done = 0, 0, 0
    bar = tqdm(total=len(items), desc="classifying", unit="file", disable=len(items) < 10, file=sys.stderr)
    try:
        for first in range(0, len(order), args.batch_size):
            group, inputs = [], []
            start = time.perf_counter()
            for i in order[first : first + args.batch_size]:
                try:
                    inputs.append(load_input(items[i], task.features, kind, vocabulary))
                    group.append(i)
                except (InputError, AudioError, FeatureFileError) as err:
                    bar.write(f"error: {err}", file=sys.stderr)
                    results[i] = None
            if inputs:
                named = None if speakers is None else [speakers[i] for i in group]
                probs = torch.stack([classify(member, inputs, named) for member in tasks]).mean(0)  # (B, C)
                top = probs.topk(top_k, dim=-1)
                seconds = (time.perf_counter() - start) / len(inputs)
                for i, values, indices in zip(group, top.values.tolist(), top.indices.tolist()):
                    results[i] = {"id": items[i].id, "path": items[i].id if kind == "text" else items[i].path,
                                  "labels": [task.labels[j] for j in indices],
                                  "probs": [round(p, 6) for p in values], "processing_seconds": round(seconds, 5)}
            bar.update(len(order[first : first + args.batch_size]))
            ready, written = reorder(results, written)
            for record in ready:
                if record is None:
                    failures += 1
                    continue
                done += 1
                if fmt == "jsonl":
                    print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
                else:
                    shown = "\t".join(f"{label}:{p:.4f}" for label, p in zip(record["labels"], record["probs"]))
                    print(f"{record['path']}\t{shown}", file=out, flush=True)
    finally:
        bar.close()
        if args.output:
            out.close()
    failed = f", {failures} failed" if failures else ""
    print(f"classified {done} input(s){failed}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
