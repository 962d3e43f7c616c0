#!/usr/bin/env bash
# Create .venv and install seqkit with its dev extra; a no-op when pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# Debian packages, as root only; a failure here never fails the setup (their tests skip):
# Chromium for the report's headless-browser test (tests/commands/test_report.py), Flite for
# tools/flite_digits.py (real-voice training digits for FSDD), Festival and its English voices
# for tools/festival_speech.py (synthetic speech for speechocean762).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v flite >/dev/null 2>&1 || missing+=(flite)
[ -d /usr/share/festival/voices/english/ked_diphone ] && command -v festival >/dev/null 2>&1 \
  || missing+=(festival festvox-kdlpc16k festvox-kallpc16k festvox-us-slt-hts)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >/dev/null 2>&1 || echo "setup_env: ${missing[*]} not installed (apt-get failed); their tests will skip" >&2
fi
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
