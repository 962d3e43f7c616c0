#!/usr/bin/env python
"""Prepare LibriSpeech (OpenSLR 12): one ``<subset>.jsonl`` per subset, plus ``train-960.jsonl``.

Reads the tree as OpenSLR ships it, ``LibriSpeech/<subset>/<speaker>/<chapter>/`` holding
``<speaker>-<chapter>-<utt>.flac`` and one ``<speaker>-<chapter>.trans.txt`` of
``<utt id> <WORDS>`` lines.  ``train-960.jsonl`` concatenates the training subsets that
were prepared (all three make the 960-hour set).  Transcripts are kept as in the corpus
(UPPERCASE); normalisation is the tokenizer's job.

Every problem of a run (a transcript line without text, a line whose flac is missing, a
flac no line describes, an unreadable flac) is reported in one pass, naming the file and
line; nothing is written then and the exit status is 1.

Audio paths are relative to the ``LibriSpeech`` folder: read the manifests with
``read_manifest(path, data_root=<.../LibriSpeech>)``; the config sets
``data.init_args.data_root`` to it (``${SEQKIT_DATA}/LibriSpeech`` by default).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

from tqdm import tqdm

from seqkit.data.checks import Problem
from seqkit.data.kaldi import CorpusError, make_record, read_table
from seqkit.data.manifest import write_manifest
from seqkit.data.paths import default_data_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
TRAIN_SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500")
SUBSETS = (*TRAIN_SUBSETS, "dev-clean", "dev-other", "test-clean", "test-other")
TRAIN_ALL = "train-960"
URL = "https://www.openslr.org/resources/12/{subset}.tar.gz"


def corpus_dir(root: Path) -> Path:
    """The ``LibriSpeech`` folder: ``root/LibriSpeech``, or ``root`` itself if it holds the subsets."""
    if (root / "LibriSpeech").is_dir():
        return root / "LibriSpeech"
    if root.name == "LibriSpeech" or any((root / s).is_dir() for s in SUBSETS):
        return root
    return root / "LibriSpeech"


def as_problem(err: CorpusError) -> Problem:
    """A :class:`CorpusError` (``"file:line: reason"``) as a :class:`Problem`."""
    match = re.match(r"(.+?:\d+): (.*)", str(err), flags=re.DOTALL)
    return Problem(match[1], match[2]) if match else Problem("LibriSpeech", str(err))


def chapter_records(chapter: Path, corpus: Path) -> tuple[list[dict], list[Problem]]:
    """Records of one ``<speaker>/<chapter>`` folder, in transcript order, and its problems."""
    speaker = chapter.parent.name
    transcript = chapter / f"{speaker}-{chapter.name}.trans.txt"
    flacs = sorted(chapter.glob("*.flac"))
    if not transcript.is_file():
        return [], [Problem(str(chapter), f"no transcript {transcript.name} for its {len(flacs)} flac file(s)")]
    try:
        lines = read_table(transcript, allow_empty=True)  # empty texts are reported below, all of them
    except CorpusError as err:  # a duplicate utterance id
        return [], [as_problem(err)]
    records: list[dict] = []
    problems: list[Problem] = []
    for entry in lines.values():
        if not entry.value:
            problems.append(Problem(entry.where, f"utterance {entry.key!r} has no text"))
            continue
        audio = chapter / f"{entry.key}.flac"
        try:  # a missing or unreadable flac is an error naming this line
            records.append(make_record(entry.key, audio, entry.value, speaker, corpus, entry.where))
        except CorpusError as err:
            problems.append(as_problem(err))
    for flac in flacs:
        if flac.stem not in lines:
            problems.append(Problem(str(flac), f"no line for {flac.stem!r} in {transcript}"))
    return records, problems


def subset_records(corpus: Path, subset: str, quiet: bool) -> tuple[list[dict], list[Problem]]:
    """Records of every chapter of ``subset`` (sorted by speaker, then chapter), and the problems."""
    folder = corpus / subset
    chapters = sorted(p for p in folder.glob("*/*") if p.is_dir())
    if not chapters:
        return [], [Problem(str(folder), "no <speaker>/<chapter> folders")]
    records: list[dict] = []
    problems: list[Problem] = []
    for chapter in tqdm(chapters, desc=subset, unit="chapter", disable=True if quiet else None, file=sys.stderr):
        found, wrong = chapter_records(chapter, corpus)
        records += found
        problems += wrong
    return records, problems


# ---- --download: the only part that needs the internet ----------------------------------
def safe_extract(archive: Path, target: Path) -> None:
    """Unpack ``archive`` into ``target``, refusing links and members that would land outside it."""
    target = target.resolve()
    with tarfile.open(archive, mode="r|*") as tar:  # streamed: one pass over a gzip of up to 30 GB
        for member in tar:
            if member.issym() or member.islnk() or not (target / member.name).resolve().is_relative_to(target):
                raise CorpusError(f"{archive}: member {member.name!r} would escape {target}; not extracting it")
            tar.extract(member, target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def download(subset: str, corpus: Path, quiet: bool) -> None:
    """Fetch ``<subset>.tar.gz`` from OpenSLR and unpack it beside ``corpus`` (it holds ``LibriSpeech/``)."""
    archive = corpus.parent / f"{subset}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        part = archive.with_name(archive.name + ".part")
        with urllib.request.urlopen(URL.format(subset=subset)) as response, open(part, "wb") as out:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm.wrapattr(response, "read", total=size, desc=archive.name, disable=quiet, file=sys.stderr) as src:
                shutil.copyfileobj(src, out, 1 << 20)
        part.replace(archive)
    print(f"extracting {archive} into {corpus.parent}")
    safe_extract(archive, corpus.parent)
    archive.unlink()


# ---- command line --------------------------------------------------------------------------
def summary(name: str, records: list[dict], path: Path) -> str:
    hours = sum(r["duration"] for r in records) / 3600
    speakers = len({r["speaker"] for r in records})
    return f"{name}: {len(records)} utterances, {speakers} speakers, {hours:.2f} h -> {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_data_dir(),
                        help="the folder holding LibriSpeech/, or LibriSpeech/ itself (default: $SEQKIT_DATA)")
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, metavar="SUBSET",
                        help=f"any of {', '.join(SUBSETS)} (default: all that exist; with --download: all)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "librispeech", help="where the manifests go")
    parser.add_argument("--download", action="store_true", help="first fetch missing subsets from openslr.org")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    corpus = corpus_dir(args.root)
    if args.download:
        if corpus.name != "LibriSpeech":
            parser.error(f"--download unpacks into a folder named LibriSpeech; {corpus} is not one")
        for subset in args.subsets or SUBSETS:
            if not (corpus / subset).is_dir():
                download(subset, corpus, args.quiet)
    subsets = args.subsets or [s for s in SUBSETS if (corpus / s).is_dir()]
    missing = [s for s in subsets if not (corpus / s).is_dir()]
    if not subsets or missing:
        what = ", ".join(missing) if missing else "no subset"
        print(f"error: {what} under {corpus}: expected {corpus}/<subset>/<speaker>/<chapter>/; "
              "point --root at it, set SEQKIT_DATA, or add --download", file=sys.stderr)
        return 1
    prepared: dict[str, list[dict]] = {}
    problems: list[Problem] = []
    for subset in subsets:
        prepared[subset], found = subset_records(corpus, subset, args.quiet)
        problems += found
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in {corpus}; no manifest written", file=sys.stderr)
        return 1
    train = [s for s in TRAIN_SUBSETS if s in prepared]
    if train:
        prepared[TRAIN_ALL] = [r for s in train for r in prepared[s]]
    for name, records in prepared.items():
        path = args.out / f"{name}.jsonl"
        write_manifest(path, records)
        print(summary(name, records, path))
    if train and len(train) < len(TRAIN_SUBSETS):
        print(f"note: {TRAIN_ALL}.jsonl holds only {', '.join(train)}, not all 960 hours")
    print(f"audio paths are relative to the data root {corpus.resolve()} (data.init_args.data_root)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
