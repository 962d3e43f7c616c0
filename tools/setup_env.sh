#!/usr/bin/env bash
# Create .venv and install seqkit with its dev extra; a no-op when pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.seqkit-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch 2.14.1 and torchaudio 2.11.0 are pinned together: torchaudio's wheel must match torch's build.
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet "torch==2.14.1" "torchaudio==2.11.0" -e '.[dev]'
echo "$want" > "$stamp"
