#!/usr/bin/env python
"""Run an exported speech-to-text ONNX model on a manifest as a deployment would, and compare
its greedy paths with the PyTorch checkpoint's.

It is also the reference for a caller of the exported files.  A plain model's graph takes
waveforms.  A model normalised by speaker (``SpeakerCMVN``) was exported as two graphs (see
the sidecar JSON's ``features_graph``): the features graph turns each waveform into frames,
each speaker's mean and std are taken over all valid frames of their utterances
(std = sqrt(variance + 1e-5)), and the model graph takes the frames with their speaker's
statistics.  One utterance at a time, no batching.

    seqkit export --ckpt CKPT --format onnx --out /tmp/model.onnx
    python tools/compare_export.py --ckpt CKPT --onnx /tmp/model.onnx --manifest data/speechocean762/dev.jsonl \
        --data-root '${SEQKIT_DATA}/speechocean762'
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import load_audio
from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path
from seqkit.decoding.greedy import collapse_path
from seqkit.features.cmvn import CMVN_EPS


def session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def speaker_statistics(frames: dict[str, np.ndarray], speakers: dict[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """speaker -> (mean (F,), std (F,)) over the valid frames of all their utterances."""
    stats = {}
    for speaker in sorted(set(speakers.values())):
        pooled = np.concatenate([f for uid, f in frames.items() if speakers[uid] == speaker]).astype(np.float64)
        stats[speaker] = (pooled.mean(0).astype(np.float32), np.sqrt(pooled.var(0) + CMVN_EPS).astype(np.float32))
    return stats


def exported_labels(onnx: Path, waveforms: dict[str, np.ndarray], speakers: dict[str, str]) -> dict[str, np.ndarray]:
    """Each utterance's per-frame argmax ids (T',) from the exported graph(s)."""
    sidecar = json.loads(onnx.with_name(onnx.name + ".json").read_text())
    model = session(onnx)
    one = lambda n: np.array([n], dtype=np.int64)  # noqa: E731
    if "features_graph" not in sidecar:
        inputs = {uid: {"inputs": w[None], "lengths": one(w.size)} for uid, w in waveforms.items()}
    else:
        features = session(onnx.with_name(sidecar["features_graph"]["file"]))
        frames = {}
        for uid, w in tqdm(waveforms.items(), desc="features graph", unit="utt"):
            feats, count = features.run(None, {"inputs": w[None], "lengths": one(w.size)})
            frames[uid] = feats[0, : int(count[0])]  # (T, F)
        stats = speaker_statistics(frames, speakers)
        inputs = {uid: {"inputs": f[None], "lengths": one(len(f)), "speaker_mean": stats[speakers[uid]][0][None],
                        "speaker_std": stats[speakers[uid]][1][None]} for uid, f in frames.items()}
    labels = {}
    for uid, feed in tqdm(inputs.items(), desc="model graph", unit="utt"):
        log_probs, count = model.run(None, feed)
        labels[uid] = log_probs[0, : int(count[0])].argmax(-1)
    return labels


@torch.no_grad()
def pytorch_labels(ckpt: str, waveforms: dict[str, np.ndarray], speakers: dict[str, str]) -> dict[str, np.ndarray]:
    task = load_task(ckpt, "cpu")
    batch = lambda w: (torch.from_numpy(w)[None], torch.tensor([w.size]))  # noqa: E731
    by_speaker = getattr(task.normalizer, "needs_speakers", False)
    if by_speaker:  # the statistics pass `seqkit transcribe` makes
        task.normalizer.reset()
        for uid, w in waveforms.items():
            task.normalizer.accumulate(*task.features(*batch(w)), [speakers[uid]])
        task.normalizer.finish()
    labels = {}
    for uid, w in tqdm(waveforms.items(), desc="pytorch", unit="utt"):
        log_probs, count = task(*batch(w), [speakers[uid]] if by_speaker else None)
        labels[uid] = log_probs[0, : int(count[0])].argmax(-1).numpy()
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--onnx", type=Path, required=True, help="written by `seqkit export --format onnx`")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--data-root", help="audio paths are relative to it (default: the manifest's folder)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    root = expand_data_path(args.data_root) if args.data_root else None
    utterances = read_manifest(args.manifest, data_root=root)
    rate = load_task(args.ckpt, "cpu").features.sample_rate
    waveforms = {u.id: load_audio(u.audio, rate, where=u.where, offset=u.offset, size=u.size, segment=u.segment).numpy()
                 for u in tqdm(utterances, desc="audio", unit="utt")}
    speakers = {u.id: u.speaker for u in utterances}
    exported = exported_labels(args.onnx, waveforms, speakers)
    reference = pytorch_labels(args.ckpt, waveforms, speakers)
    same_paths = sum(collapse_path(torch.from_numpy(exported[u]), 0) == collapse_path(torch.from_numpy(reference[u]), 0)
                     for u in reference)
    same_frames = sum(int((exported[u] == reference[u]).sum()) for u in reference)
    frames = sum(len(r) for r in reference.values())
    print(f"{len(reference)} utterances: greedy path of the export equal to PyTorch's on {same_paths}; "
          f"frame argmax equal on {same_frames} of {frames} frames")
    return 0 if same_paths == len(reference) else 1


if __name__ == "__main__":
    raise SystemExit(main())
