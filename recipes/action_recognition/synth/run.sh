#!/usr/bin/env bash
# Synthetic action recognition end to end: synthesise the videos, train the frame-CNN +
# BiGRU classifier, test it on the held-out test videos and print the accuracy report.
# Extra arguments go to `seqkit fit` (e.g. --trainer.max_epochs 2).
set -euo pipefail
cd "$(dirname "$0")/../../.."
CONFIG=configs/action_recognition/synth_actions_cnn_bigru.yaml
bash tools/setup_env.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== 1/3 synthesising data/synth_actions (PyAV, offline)"
python tools/synth_actions.py --out data/synth_actions

echo "== 2/3 training ($CONFIG)"
seqkit fit --config "$CONFIG" "$@"
run=$(ls -td runs/synth_actions/version_* | head -n 1)
best=$(ls -t "$run"/checkpoints/best-*.ckpt | head -n 1)

echo "== 3/3 testing $best on the test videos"
seqkit test --config "$CONFIG" --ckpt_path "$best"
