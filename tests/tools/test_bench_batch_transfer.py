"""tools/bench_batch_transfer.py: times both transfers of a real collated batch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import soundfile as sf


def test_times_both_transfers_of_a_real_batch(load_script, tmp_path: Path, capsys) -> None:
    lines = []
    for i, text in enumerate(["ab", "ba", "abc"]):
        sf.write(tmp_path / f"u{i}.wav", np.zeros(8000 + 1600 * i, dtype=np.float32), 16000)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", "duration": 0.5 + 0.1 * i, "text": text, "speaker": "s"}))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    tool = load_script("tools/bench_batch_transfer.py")
    code = tool.main(["--manifest", str(tmp_path / "m.jsonl"), "--data-root", str(tmp_path), "--utterances", "2",
                      "--calls", "3", "--rounds", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "batch: 2 utterances, 1 s of audio" in out
    for name in ("lightning move_data_to_device", "seqkit data module"):
        assert float(re.search(rf"{name} +([\d.]+) us a call", out).group(1)) > 0
    assert re.search(r"seqkit's transfer is \d+x faster", out)


def test_without_a_manifest_it_says_how_to_make_one(load_script, tmp_path: Path, capsys) -> None:
    tool = load_script("tools/bench_batch_transfer.py")
    assert tool.main(["--manifest", str(tmp_path / "none.jsonl")]) == 1
    assert "prepare speechocean762 first" in capsys.readouterr().err
