"""tools/bench_encoders.py: one row per precision x cell x stacking, ratios against the first row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_bench_encoders_times_every_row_and_writes_json(load_script, tmp_path: Path, capsys) -> None:
    tool = load_script("tools/bench_encoders.py")
    out = tmp_path / "encoders.json"
    args = ["--batch", "2", "--frames", "24", "--input-size", "6", "--hidden", "8", "--layers", "2",
            "--cells", "lstm", "mingru", "--stack", "1", "2", "--iters", "2", "--warmup", "1", "--threads", "1",
            "--json", str(out)]
    assert tool.main(args) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["cell"], r["stack"]) for r in rows] == [("lstm", 1), ("lstm", 2), ("mingru", 1), ("mingru", 2)]
    assert all(r["ms"] > 0 and r["parameters"] > 0 for r in rows)
    assert rows[0]["speedup_vs_first"] == 1.0
    assert rows[2]["speedup_vs_first"] == rows[0]["ms"] / rows[2]["ms"]
    # minGRU has no hidden-to-hidden weights: fewer parameters at equal width.
    assert rows[2]["parameters"] < rows[0]["parameters"]
    printed = capsys.readouterr().out
    assert "| 32 | mingru | x2 |" in printed


def test_fp16_is_refused_on_cpu(load_script) -> None:
    tool = load_script("tools/bench_encoders.py")
    with pytest.raises(SystemExit) as exit_:
        tool.parse_args(["--precision", "16-mixed"])
    assert exit_.value.code == 2
