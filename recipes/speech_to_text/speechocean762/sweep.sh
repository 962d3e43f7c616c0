#!/usr/bin/env bash
# Trains several speechocean762 configurations side by side on one GPU (each its own
# `seqkit fit` process), tests each run's best checkpoint on dev with greedy decoding, and
# prints one table.  Each arm is a config plus dotted overrides; what each arm changes
# against its neighbour is what it contributes.
#
#   bash recipes/speech_to_text/speechocean762/sweep.sh MANIFEST_DIR DATA_ROOT OUT_DIR
#
# MANIFEST_DIR holds train.jsonl and dev.jsonl (prepare.py); DATA_ROOT is the corpus folder
# their audio paths are relative to.  FIT_SECONDS (default 420) interrupts an arm's fit that
# runs longer (SIGINT: Lightning shuts down cleanly and the logs are flushed); its best
# checkpoint so far is then tested, and the table's "epochs done" says how far it got.
# SWEEP_ARGS adds arguments to every fit (e.g. a short dry run on CPU).
set -euo pipefail
cd "$(dirname "$0")/../../.."
MANIFESTS=$(realpath "$1") DATA_ROOT=$(realpath "$2") OUT=$(realpath -m "$3")
FIT_SECONDS=${FIT_SECONDS:-420}
PYTHON=${PYTHON:-python3}
SWEEP_ARGS=${SWEEP_ARGS:-"--trainer.accelerator gpu --trainer.devices 1"}
LSTM=configs/speech_to_text/speechocean762_bilstm.yaml
MINGRU=configs/speech_to_text/speechocean762_bimingru.yaml
SPEED='--data.init_args.speed_factors [0.9,1.0,1.1]'
WIDE='--model.init_args.encoder.init_args.hidden_size 384 --model.init_args.encoder.init_args.num_layers 4'
# name | config | overrides
ARMS=(
    "lstm3x256_e30|$LSTM|--trainer.max_epochs 30"
    "mingru4x256_e30|$MINGRU|--trainer.max_epochs 30"
    "lstm3x256_e60|$LSTM|--trainer.max_epochs 60"
    "lstm3x256_e60_speed|$LSTM|--trainer.max_epochs 60 $SPEED"
    "lstm4x384_e60_speed|$LSTM|--trainer.max_epochs 60 $SPEED $WIDE"
)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

for arm in "${ARMS[@]}"; do
    IFS='|' read -r name config overrides <<<"$arm"
    # shellcheck disable=SC2086  # overrides are word lists
    (
        start=$(date +%s) rc=0
        timeout -s INT -k 60 "$FIT_SECONDS" "$PYTHON" -m seqkit.cli fit --config "$config" $overrides $SWEEP_ARGS \
            --trainer.default_root_dir "$OUT/$name" --trainer.enable_progress_bar false \
            --data.init_args.train_manifest "$MANIFESTS/train.jsonl" \
            --data.init_args.val_manifest "$MANIFESTS/dev.jsonl" --data.init_args.test_manifest "$MANIFESTS/dev.jsonl" \
            --data.init_args.data_root "$DATA_ROOT" --data.init_args.num_workers 2 >"$OUT/$name.log" 2>&1 || rc=$?
        echo "fit_exit=$rc fit_seconds=$(($(date +%s) - start))" >"$OUT/$name.fit"
    ) &
done
wait

for arm in "${ARMS[@]}"; do
    IFS='|' read -r name _ _ <<<"$arm"
    best=$(ls -t "$OUT/$name"/version_0/checkpoints/best-*.ckpt 2>/dev/null | head -n 1 || true)
    [ -n "$best" ] || { echo "$name: no checkpoint"; tail -20 "$OUT/$name.log"; continue; }
    # shellcheck disable=SC2086
    "$PYTHON" -m seqkit.cli test --config "$OUT/$name/version_0/config.yaml" --ckpt_path "$best" \
        $SWEEP_ARGS --trainer.enable_progress_bar false >>"$OUT/$name.log" 2>&1 || tail -20 "$OUT/$name.log"
done

"$PYTHON" - "$OUT" "${ARMS[@]}" <<'EOF'
import csv, json, sys
from pathlib import Path

out, arms = Path(sys.argv[1]), sys.argv[2:]
print("| arm | overrides | epochs done | fit exit | fit s | best checkpoint | dev WER | dev CER |")
print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
summary = []
for arm in arms:
    name, config, overrides = arm.split("|")
    fit = dict(kv.split("=") for kv in (out / f"{name}.fit").read_text().split())
    metrics = out / name / "version_0" / "metrics.csv"
    rows = list(csv.DictReader(metrics.open())) if metrics.exists() else []
    epochs = 1 + max((int(r["epoch"]) for r in rows if r.get("val_wer")), default=-1)
    reports = sorted((out / name).rglob("wer_report.json"), key=lambda p: p.stat().st_mtime)
    totals = json.loads(reports[-1].read_text())["totals"] if reports else {"wer": float("nan"), "cer": float("nan")}
    best = sorted((out / name / "version_0" / "checkpoints").glob("best-*.ckpt"))
    row = {"arm": name, "config": config, "overrides": overrides, "epochs": epochs, **fit,
           "best": best[-1].name if best else None, "dev_wer": totals["wer"], "dev_cer": totals["cer"]}
    summary.append(row)
    print(f"| {name} | `{overrides}` | {epochs} | {fit['fit_exit']} | {fit['fit_seconds']} | {row['best']} | "
          f"{100 * totals['wer']:.1f}% | {100 * totals['cer']:.1f}% |")
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
EOF
