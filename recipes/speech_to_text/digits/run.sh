#!/usr/bin/env bash
# The seqkit demo, end to end on a fresh clone: install, synthesise a connected-digits
# corpus offline with eSpeak NG, train a BiGRU-CTC model, test it on held-out voices, and
# print the WER report.  Extra arguments go to `seqkit fit` (e.g. --trainer.max_epochs 2).
set -euo pipefail
cd "$(dirname "$0")/../../.."
CONFIG=configs/speech_to_text/digits_bigru.yaml

echo "== 1/4 installing seqkit into .venv"
bash tools/setup_env.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== 2/4 synthesising data/digits (eSpeak NG, offline)"
python tools/synth_digits.py --out data/digits

echo "== 3/4 training ($CONFIG)"
seqkit fit --config "$CONFIG" "$@"
run=$(ls -td runs/digits/version_* | head -n 1)
best=$(ls -t "$run"/checkpoints/best-*.ckpt | head -n 1)

echo "== 4/4 testing $best on held-out voices"
seqkit test --config "$CONFIG" --ckpt_path "$best"
echo
echo "Transcribe your own audio with: .venv/bin/seqkit transcribe --ckpt $best FILE.wav"
