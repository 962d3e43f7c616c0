#!/usr/bin/env python
"""Prepare speechocean762 (train half): a speaker-disjoint ``train.jsonl`` / ``dev.jsonl`` split.

The shared copy holds only the corpus's train half (2,500 utterances, 125 speakers), so
dev speakers are held out from it: 25 by default, drawn with a fixed seed *within*
strata of age group (minor < 18 / adult) x gender, so the dev set has the same mix of
children and adults, women and men, as the whole.  Age and gender come from
``spk2age`` / ``spk2gender``.

Audio paths are relative to the corpus folder: read the manifests with
``read_manifest(path, data_root=$SEQKIT_DATA/speechocean762)``.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from seqkit.data.kaldi import kaldi_records, read_table
from seqkit.data.paths import default_data_dir
from seqkit.data.manifest import ManifestError, write_manifest

REPO_ROOT = Path(__file__).resolve().parents[3]
ADULT_AGE = 18


def speaker_strata(train_dir: Path, speakers: set[str]) -> dict[str, str]:
    """``speaker -> "minor-f"`` etc.; a speaker missing from a table gets ``unknown`` there."""
    ages = read_table(train_dir / "spk2age") if (train_dir / "spk2age").is_file() else {}
    genders = read_table(train_dir / "spk2gender") if (train_dir / "spk2gender").is_file() else {}
    strata = {}
    for spk in speakers:
        age = "unknown"
        if spk in ages:
            try:
                age = "adult" if int(ages[spk].value) >= ADULT_AGE else "minor"
            except ValueError:
                raise ManifestError(f"{ages[spk].where}: age {ages[spk].value!r} is not a whole number") from None
        strata[spk] = f"{age}-{genders[spk].value.lower() if spk in genders else 'unknown'}"
    return strata


def pick_dev_speakers(strata: dict[str, str], n_dev: int, seed: int) -> set[str]:
    """``n_dev`` speakers, allotted to strata in proportion to their size (largest remainder)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for spk in sorted(strata):  # sorted first: the draw must not depend on set order
        groups[strata[spk]].append(spk)
    total = len(strata)
    quotas = {g: n_dev * len(members) / total for g, members in groups.items()}
    take = {g: int(q) for g, q in quotas.items()}
    for g in sorted(quotas, key=lambda g: (-(quotas[g] - take[g]), g))[: n_dev - sum(take.values())]:
        take[g] += 1
    rng = random.Random(seed)
    dev: set[str] = set()
    for g in sorted(groups):
        dev.update(rng.sample(groups[g], take[g]))
    return dev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the corpus folder (default: $SEQKIT_DATA/speechocean762)")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "data" / "speechocean762", help="where the manifests go"
    )
    parser.add_argument("--dev-speakers", type=int, default=25, help="speakers held out for dev")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = args.data or default_data_dir() / "speechocean762"
    try:
        records = kaldi_records(corpus / "train", audio_root=corpus, data_root=corpus)
        strata = speaker_strata(corpus / "train", {r["speaker"] for r in records})
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not 0 < args.dev_speakers < len(strata):
        parser.error(f"--dev-speakers must be between 1 and {len(strata) - 1}")
    dev = pick_dev_speakers(strata, args.dev_speakers, args.seed)
    splits = {
        "train": [r for r in records if r["speaker"] not in dev],
        "dev": [r for r in records if r["speaker"] in dev],
    }
    for name, part in splits.items():
        count = write_manifest(args.out / f"{name}.jsonl", part)
        speakers = {r["speaker"] for r in part}
        hours = sum(r["duration"] for r in part) / 3600
        mix = ", ".join(f"{k} {v}" for k, v in sorted(Counter(strata[s] for s in speakers).items()))
        path = args.out / f"{name}.jsonl"
        print(f"{name}: {count} utterances, {len(speakers)} speakers ({mix}), {hours:.2f} h -> {path}")
    print(f"audio paths are relative to the data root {corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
