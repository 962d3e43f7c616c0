"""Global CMVN statistics over a training manifest, for ``seqkit.features.cmvn.GlobalCMVN``.

    python tools/compute_cmvn.py --config configs/....yaml --out data/corpus/cmvn.json

The features are built exactly as the config's ``model.init_args.features`` says, and the
manifest and data root come from its ``data.init_args`` (``--manifest`` overrides).  The
statistics are summed in float64 over every valid frame of every utterance.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from seqkit.data.audio import load_audio
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path


def build(spec: dict):
    """Instantiate a ``{class_path, init_args}`` entry of a config."""
    module_name, _, class_name = spec["class_path"].rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)(**spec.get("init_args", {}))


def compute_stats(features, utterances) -> dict:
    total = total_sq = None
    frames = 0
    for utt in tqdm(utterances, desc="CMVN statistics", file=sys.stderr):
        waveform = load_audio(utt.audio, features.sample_rate, where=utt.where, offset=utt.offset, size=utt.size)
        with torch.no_grad():
            feats, lengths = features(waveform.unsqueeze(0), torch.tensor([waveform.numel()]))  # (1, T, F)
        valid = feats[0, : int(lengths[0])].double()
        total = valid.sum(0) if total is None else total + valid.sum(0)
        total_sq = (valid**2).sum(0) if total_sq is None else total_sq + (valid**2).sum(0)
        frames += valid.shape[0]
    if not frames:
        raise ValueError("no feature frames: are all utterances shorter than one window?")
    mean = total / frames
    std = (total_sq / frames - mean**2).clamp(min=0).sqrt()
    return {"mean": mean.tolist(), "std": std.tolist(), "frames": frames, "utterances": len(utterances)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a seqkit fit config")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--manifest", help="default: the config's data.init_args.train_manifest")
    args = parser.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    features = build(config["model"]["init_args"]["features"])
    data = config.get("data", {}).get("init_args", {})
    manifest = args.manifest or data.get("train_manifest")
    if not manifest:
        parser.error("no --manifest and no data.init_args.train_manifest in the config")
    root = expand_data_path(data["data_root"]) if data.get("data_root") else None
    stats = compute_stats(features, read_manifest(expand_data_path(manifest), root))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stats))
    print(f"CMVN statistics of {stats['utterances']} utterances ({stats['frames']} frames) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
