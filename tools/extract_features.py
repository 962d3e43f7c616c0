"""Extract per-frame features of a video dataset into one ``.npy`` (T, F) per video.

The videos are read like :class:`seqkit.data.video.VideoFolderDataModule` reads them
(split folders ``VIDEOS/{train,val,test}/<class>/``, or ``--train-list`` / ``--val-list`` /
``--test-list`` UCF101-style lists relative to ``VIDEOS``), sampled with the same options,
and passed through ``--extractor``: any module ``forward(inputs (B, T, C, H, W), lengths)
-> (features (B, T, F), lengths)``, built from a class path and JSON keyword arguments
(``input_size`` is filled in when the class takes it).  The output mirrors the classes:
``OUT/<split>/<class>/<video>.npy`` float32, the layout
:class:`seqkit.data.npy_features.NpyFeaturesDataModule` reads:

    python tools/extract_features.py --videos data/synth_actions --out data/synth_actions_motion \\
        --extractor seqkit.features.video.FrameDifference --extractor-args '{"grid": 4}' --frames 24

An interrupted run resumes: every file is written to a temporary name and renamed when
complete, so a video whose ``.npy`` exists is skipped.  ``OUT/extraction.json`` records
the settings; a run with other settings into the same ``OUT`` is refused rather than
mixing features.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make the repo's seqkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.data.sequences import collate_sequences  # noqa: E402
from seqkit.data.video import SPLIT_FOLDERS, VideoDataset, VideoFolderDataModule, save_npy_atomic  # noqa: E402

SPLIT_OF_FOLDER = {folder: split for split, folder in SPLIT_FOLDERS.items() if split != "predict"}


def build_extractor(class_path: str, kwargs: dict, input_size: int) -> nn.Module:
    """Instantiate ``package.module.Class(**kwargs)``, passing ``input_size`` if it takes one."""
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"cannot import extractor {class_path!r}: {err}") from err
    if "input_size" in inspect.signature(cls).parameters and "input_size" not in kwargs:
        kwargs = {**kwargs, "input_size": input_size}
    return cls(**kwargs).eval()


def output_path(out: Path, split: str, video: Path) -> Path:
    return out / split / video.parent.name / f"{video.stem}.npy"


def extract(args: argparse.Namespace) -> dict[str, int]:
    """Write every missing ``.npy``; return how many were written and skipped."""
    data = VideoFolderDataModule(
        str(args.videos), args.train_list, args.val_list, args.test_list,
        sampling=args.sampling, frames=args.frames, fps=args.fps, size=args.size,
    )
    settings = {
        "videos": str(Path(args.videos).resolve()),
        "extractor": args.extractor,
        "extractor_args": args.extractor_args,
        "sampling": {"mode": args.sampling, "frames": args.frames, "fps": args.fps, "size": args.size},
        "labels": data.labels,
    }
    out = Path(args.out)
    record = out / "extraction.json"
    if record.is_file() and json.loads(record.read_text()) != settings:
        raise ValueError(f"{out} holds features extracted with other settings ({record}); choose another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.rglob(".*.npy.*.tmp"):  # left by a run killed mid-write
        stale.unlink()
    record.write_text(json.dumps(settings, indent=2) + "\n")
    extractor = build_extractor(args.extractor, args.extractor_args, data.input_size)

    todo: dict[str, list] = {}
    counts = {"written": 0, "skipped": 0}
    for folder, split in SPLIT_OF_FOLDER.items():
        if not data.has_split(split):
            continue
        videos = data.dataset_videos(split)
        todo[folder] = [v for v in videos if not output_path(out, folder, v[1]).is_file()]
        counts["skipped"] += len(videos) - len(todo[folder])
    bar = tqdm(total=sum(len(v) for v in todo.values()), desc="extract", unit="video", disable=args.quiet)
    for folder, videos in todo.items():
        if not videos:
            continue
        bar.set_description(folder)
        loader = DataLoader(
            VideoDataset(videos, data.sampling), batch_size=args.batch_size,
            collate_fn=collate_sequences, num_workers=args.workers,
        )
        start = 0
        for batch in loader:
            with torch.no_grad():
                features, lengths = extractor(batch["inputs"], batch["lengths"])  # (B, T, F), (B,)
            for row, length in enumerate(lengths.tolist()):
                path = output_path(out, folder, videos[start + row][1])
                path.parent.mkdir(parents=True, exist_ok=True)
                save_npy_atomic(path, features[row, :length].float().numpy().astype(np.float32))
            start += len(lengths)
            counts["written"] += len(lengths)
            bar.update(len(lengths))
    bar.close()
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--videos", type=Path, required=True, help="video root (split folders, or the root of the lists' paths)")
    parser.add_argument("--out", type=Path, required=True, help="output folder: OUT/<split>/<class>/<video>.npy")
    parser.add_argument("--train-list", help="UCF101-style list of training videos (relative to --videos)")
    parser.add_argument("--val-list", help="list of validation videos")
    parser.add_argument("--test-list", help="list of test videos")
    parser.add_argument("--extractor", default="seqkit.features.video.FrameDifference", help="class path of the features module")
    parser.add_argument("--extractor-args", type=json.loads, default={}, help="its keyword arguments, as a JSON object")
    parser.add_argument("--sampling", choices=("uniform", "fps"), default="uniform", help="frame sampling (see seqkit.data.video)")
    parser.add_argument("--frames", type=int, default=16, help="uniform: frames per video; fps: the most frames")
    parser.add_argument("--fps", type=float, default=10.0, help="fps sampling: frames per second")
    parser.add_argument("--size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"), help="resize frames while decoding")
    parser.add_argument("--batch-size", type=int, default=8, help="videos per extractor call")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding videos")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not isinstance(args.extractor_args, dict):
        parser.error("--extractor-args must be a JSON object")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        counts = extract(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {counts['written']} feature files to {args.out} ({counts['skipped']} already there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
