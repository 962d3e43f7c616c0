"""What the inference commands read: files named on the command line, or a JSONL manifest.

A manifest is the training format (:mod:`seqkit.data.manifest`), read by the same code, so
its paths resolve under the manifest's folder (or ``--data-root``) with the same checks:
no absolute paths, no ``..`` escapes.  Its ``text`` is the reference for a WER.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from seqkit.data.manifest import read_manifest


@dataclass(frozen=True)
class InputItem:
    id: str
    path: str
    where: str | None = None  # where it is listed, for errors: "manifest.jsonl:12 (id=x)"
    duration: float | None = None  # seconds, when known before reading (manifests)
    text: str | None = None  # the reference, from a manifest
    speaker: str = ""
    offset: int | None = None  # a member of a tar shard: bytes [offset, offset + size)
    size: int | None = None

    @property
    def label(self) -> str:
        """How error messages name it: the path, after its manifest line if it has one."""
        return f"{self.where}: {self.path}" if self.where else self.path


def items_from_files(files: list[str]) -> list[InputItem]:
    """One item per file; the id is the path as given (as in the tab-separated output)."""
    return [InputItem(id=f, path=f) for f in files]


def items_from_manifest(manifest: str | os.PathLike, data_root: str | os.PathLike | None = None) -> list[InputItem]:
    """Raises :class:`~seqkit.data.manifest.ManifestError` naming the line of a bad entry."""
    return [
        InputItem(id=u.id, path=u.audio, where=u.where, duration=u.duration, text=u.text,
                  speaker=u.speaker, offset=u.offset, size=u.size)
        for u in read_manifest(Path(manifest), data_root)
    ]


def add_input_arguments(parser: argparse.ArgumentParser, files_help: str, manifest_help: str) -> None:
    """The arguments :func:`read_inputs` and the speaker statistics read, shared by the inference commands."""
    parser.add_argument("files", nargs="*", help=files_help)
    parser.add_argument("--manifest", help=manifest_help)
    parser.add_argument("--data-root", help="folder the manifest's paths are relative to (default: the manifest's)")
    parser.add_argument("--speaker", help="for a model that normalises by speaker (SpeakerCMVN, audio): all inputs are "
                        "this one speaker, whose statistics pool them (default: a manifest's speakers, else one per recording)")
    parser.add_argument("--format", choices=["tsv", "jsonl"], help="default: jsonl for --output *.jsonl, else tsv")
    parser.add_argument("--output", help="write here instead of stdout")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's); 1 is often fastest on a busy machine")


def read_inputs(args, what: str) -> tuple[list[InputItem], str]:
    """The items and output format of an inference command (``files``/``--manifest``/``--data-root``,
    ``--format``/``--output``, ``--threads``); ValueError (or ManifestError) for bad ones."""
    if bool(args.files) == bool(args.manifest):
        raise ValueError(f"give {what} files or --manifest (one of them)")
    if args.threads:
        torch.set_num_threads(args.threads)
    fmt = args.format or ("jsonl" if args.output and args.output.endswith(".jsonl") else "tsv")
    items = items_from_manifest(args.manifest, args.data_root) if args.manifest else items_from_files(args.files)
    return items, fmt


def reorder(results: dict[int, object], next_index: int) -> tuple[list[object], int]:
    """Results that can be written in input order now: those from ``next_index`` on without a gap."""
    ready = []
    while next_index in results:
        ready.append(results.pop(next_index))
        next_index += 1
    return ready, next_index
