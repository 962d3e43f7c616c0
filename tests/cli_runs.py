"""The real ``seqkit`` CLI in a subprocess, as a user runs it: shared by the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEQKIT = [sys.executable, "-m", "seqkit.cli"]
DIGITS_CONFIG = REPO / "configs" / "speech_to_text" / "digits_bigru.yaml"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run to the end (``env`` added to ours); a failure shows the tails of its output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result
